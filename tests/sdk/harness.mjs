// Starts the all-in-one binary on a free port with a fresh data directory, and drives the
// unmodified @clerk/clerk-js in native mode against it (the recipe Expo uses).
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// The development settings with text replaced, written to a temporary file. The SDK suites
// run many flows from one address in seconds, so they raise the per-IP rate limits.
export function settingsFile(replacements = [], url = null) {
  let text = readFileSync(resolve(here, '../../settings/development.toml'), 'utf8');
  // The server's own URL (the token issuer, the links Clerk's components follow).
  if (url) text = text.replaceAll('http://127.0.0.1:3000', url);
  const all = [
    ['creates = 5 ', 'creates = 1000 '],
    ['attempts = 3 ', 'attempts = 1000 '],
    ['prepares = 3 ', 'prepares = 1000 '],
    // Flows from one address in quick succession: codes to one address seconds apart.
    ['send_cooldown_secs = 30 ', 'send_cooldown_secs = 0 '],
    ['sends_per_destination_per_hour = 5 ', 'sends_per_destination_per_hour = 1000 '],
    ['sends_per_client_per_hour = 6 ', 'sends_per_client_per_hour = 1000 '],
    ...replacements,
  ];
  for (const [from, to] of all) {
    if (!text.includes(from)) throw new Error(`settings have no ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  const dir = mkdtempSync(join(tmpdir(), 'frontdoor-settings-'));
  const path = join(dir, 'settings.toml');
  writeFileSync(path, text);
  return path;
}

// `dataDir` reuses a stopped server's store (a restart).
export async function startServer({ settings, replacements, env: extraEnv, port: wantedPort, dataDir: wantedDir } = {}) {
  const bin = process.env.FRONTDOOR_BIN ?? resolve(here, '../../target/debug/frontdoor-local');
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}; build it first`);
  const port = wantedPort ?? (await freePort());
  settings ??= settingsFile(replacements ?? [], `http://127.0.0.1:${port}`);
  const dataDir = wantedDir ?? mkdtempSync(join(tmpdir(), 'frontdoor-sdk-'));
  const env = {
    ...process.env,
    FRONTDOOR_ADDR: `127.0.0.1:${port}`,
    FRONTDOOR_DATA_DIR: dataDir,
    FRONTDOOR_STORE: 'sqlite',
    FRONTDOOR_LOG: process.env.FRONTDOOR_LOG ?? 'warn',
    FRONTDOOR_DEMO_DIR: resolve(here, '../../demo'),
    FRONTDOOR_BUNDLES_DIR: resolve(here, '../../.bundles'),
  };
  if (settings) env.FRONTDOOR_SETTINGS = settings;
  Object.assign(env, extraEnv ?? {});
  const child = spawn(bin, [], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${url}/v1/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('server did not become healthy');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    dataDir,
    settings,
    outbox: join(dataDir, 'outbox.jsonl'),
    stop: () =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}

// A publishable key whose encoded host is the server (clerk-js requires a dotted host).
export function publishableKey(host, live = false) {
  const b64 = Buffer.from(`${host}$`).toString('base64').replace(/=+$/, '');
  return `${live ? 'pk_live_' : 'pk_test_'}${b64}`;
}

// Every FAPI response this process sees through fetch (what clerk-js and the tests send), for
// the wire-fidelity check (wire.mjs).
export const recorded = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const response = await realFetch(input, init);
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (/\/(v1|\.well-known)\//.test(new URL(url).pathname)) {
    const method = init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET');
    const text = await response.clone().text();
    let body;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    recorded.push({ method, url, status: response.status, body });
  }
  return response;
};

// Node is treated like React Native: `window` exists, `document` does not.
globalThis.window ??= globalThis;
globalThis.navigator ??= { onLine: true, userAgent: 'frontdoor-sdk-tests' };

export function nativeClerk(server, { log } = {}) {
  const { Clerk } = require('@clerk/clerk-js');
  const clerk = new Clerk(publishableKey(`127.0.0.1:${server.port}`), { proxyUrl: server.url });
  const device = { jwt: null, requests: [] };
  clerk.__internal_onBeforeRequest((r) => {
    r.credentials = 'omit';
    r.url.searchParams.append('_is_native', '1');
    r.headers.set('authorization', device.jwt || '');
    device.requests.push(`${r.method} ${r.url.pathname}`);
    if (log) log(`${r.method} ${r.url}`);
  });
  clerk.__internal_onAfterResponse((r, res) => {
    const h = res?.headers?.get('authorization');
    if (h) device.jwt = h;
  });
  return { clerk, device };
}

// The newest code the development outbox holds for `to`.
export function outboxCode(server, to) {
  if (!existsSync(server.outbox)) return null;
  const lines = readFileSync(server.outbox, 'utf8').trim().split('\n').filter(Boolean);
  for (const line of lines.reverse()) {
    const m = JSON.parse(line);
    if (m.to === to) return m.code;
  }
  return null;
}

// clerk-js keeps timers (token refresh, pollers) alive forever; once a file's tests are done,
// its process must be ended explicitly or the runner waits on it.
export function exitWhenDone() {
  setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
}

// Runs `fn` with this process's clock moved by `offsetMs`. @clerk/backend reads the time from
// Date.now(); moving it is how its clock is injected.
export async function at(offsetMs, fn) {
  const real = Date.now;
  Date.now = () => real() + offsetMs;
  try {
    return await fn();
  } finally {
    Date.now = real;
  }
}

// Signs up a Clerk test identifier (code 424242, nothing sent) and makes its session active.
export async function signUpActive(clerk, email, password) {
  const signUp = await clerk.client.signUp.create({ emailAddress: email, password });
  await signUp.prepareEmailAddressVerification({ strategy: 'email_code' });
  const done = await signUp.attemptEmailAddressVerification({ code: '424242' });
  if (done.status !== 'complete') throw new Error(`sign-up ended ${done.status}`);
  await clerk.setActive({ session: done.createdSessionId });
  return done;
}

export async function signInActive(clerk, identifier, password) {
  const signIn = await clerk.client.signIn.create({ identifier, password });
  if (signIn.status !== 'complete') throw new Error(`sign-in ended ${signIn.status}`);
  await clerk.setActive({ session: signIn.createdSessionId });
  return signIn;
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as an authenticator app computes it.
export function totpCode(base32Secret, atMs = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of base32Secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  }
  const bytes = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / 30)));
  const mac = createHmac('sha1', bytes).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

// A second device that speaks the native protocol directly (clerk-js allows one instance per
// process): it signs in and can later ask for a token.
export async function rawNativeSignIn(server, identifier, password) {
  const r = await fetch(`${server.url}/v1/client/sign_ins?_is_native=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: '' },
    body: new URLSearchParams({ identifier, password }),
  });
  const body = await r.json();
  if (body.response?.status !== 'complete') throw new Error(`raw sign-in: ${JSON.stringify(body)}`);
  const token = r.headers.get('authorization');
  const session = body.response.created_session_id;
  return {
    session,
    tokenStatus: async () =>
      (
        await fetch(`${server.url}/v1/client/sessions/${session}/tokens?_is_native=1`, {
          method: 'POST',
          headers: { authorization: token },
        })
      ).status,
  };
}

// Debian's Chromium, driven by playwright-core (never a downloaded browser).
export async function launchBrowser({ args = [] } = {}) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      ...args,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export function b64Key(prefix, host) {
  return prefix + Buffer.from(`${host}$`).toString('base64').replace(/=+$/, '');
}

// Runs the operator's `frontdoor` command (built beside the server) on `server`'s store and
// settings; resolves with its exit status, stdout and stderr.
export function frontdoorCli(server, args) {
  const bin = process.env.FRONTDOOR_CLI ?? join(dirname(process.env.FRONTDOOR_BIN ?? resolve(here, '../../target/debug/frontdoor-local')), 'frontdoor');
  if (!existsSync(bin)) throw new Error(`no frontdoor command at ${bin}; build it first`);
  return new Promise((ok, fail) => {
    const child = spawn(bin, args, {
      env: {
        ...process.env,
        FRONTDOOR_DATA_DIR: server.dataDir,
        FRONTDOOR_STORE: 'sqlite',
        FRONTDOOR_SETTINGS: server.settings,
        FRONTDOOR_LOG: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('exit', (status) => ok({ status, stdout, stderr }));
  });
}
