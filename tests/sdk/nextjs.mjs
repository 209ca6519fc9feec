// The Next.js example (examples/nextjs), unchanged, on either SDK line: `current`
// (@clerk/nextjs 7, clerk-js 6 + @clerk/ui 1) or `core2` (@clerk/nextjs 6, clerk-js 5).
//
// Its packages are installed once per line by `make test` (scripts/nextjs-example.sh, into
// target/nextjs/<line>/node_modules). Next.js inlines NEXT_PUBLIC_* variables at build time, and
// the publishable key and the Frontend API's URL (with this run's port) are such variables, so
// each configuration is built once per run, in a directory of its own, and then served by
// `next start` for every test that uses it.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const example = join(root, 'examples/nextjs');
const work = join(root, 'target/nextjs');

// What the app needs, and nothing else (docs: README "Use with Next.js").
export function clerkEnv({ line, publishableKey, frontendApi, secretKey }) {
  const clerkJsMajor = line === 'core2' ? 5 : 6;
  return {
    NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY: publishableKey,
    CLERK_SECRET_KEY: secretKey,
    // The Backend API (currentUser(), getToken({template}), the JWKS): the same host.
    CLERK_API_URL: frontendApi,
    // Where clerk-js, the bundles and the handshake live: Frontdoor's URL.
    NEXT_PUBLIC_CLERK_PROXY_URL: frontendApi,
    NEXT_PUBLIC_CLERK_SIGN_IN_URL: '/sign-in',
    NEXT_PUBLIC_CLERK_SIGN_UP_URL: '/sign-up',
    // The SDKs build the bundles' URLs from the proxy URL with https forced; Frontdoor here is
    // plain http on loopback, so the bundles' URLs are given as they are (a deployment on https
    // needs neither).
    NEXT_PUBLIC_CLERK_JS_URL: `${frontendApi}/npm/@clerk/clerk-js@${clerkJsMajor}/dist/clerk.browser.js`,
    NEXT_PUBLIC_CLERK_UI_URL: `${frontendApi}/npm/@clerk/ui@1/dist/ui.browser.js`,
    CLERK_DISABLE_AUTO_PROXY: '1',
    NEXT_PUBLIC_CLERK_TELEMETRY_DISABLED: '1',
    NEXT_TELEMETRY_DISABLED: '1',
  };
}

function run(cmd, args, { cwd, env }) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

// Builds the example for `line` with `env` in target/nextjs/<name>, and serves it on a free port.
export async function startNextApp({ line, name, env, port: wantedPort }) {
  const modules = join(work, line, 'node_modules');
  if (!existsSync(join(modules, 'next'))) {
    throw new Error(`no packages for the ${line} line at ${modules}: run scripts/nextjs-example.sh`);
  }
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of ['app', 'middleware.js', 'next.config.mjs']) {
    cpSync(join(example, f), join(dir, f), { recursive: true });
  }
  cpSync(join(work, line, 'package.json'), join(dir, 'package.json'));
  symlinkSync(modules, join(dir, 'node_modules'), 'dir');
  const fullEnv = { ...process.env, ...env };
  delete fullEnv.NODE_OPTIONS;
  const next = join(modules, 'next/dist/bin/next');
  await run(process.execPath, [next, 'build'], { cwd: dir, env: fullEnv });
  const port = wantedPort ?? (await freePort());
  const child = spawn(process.execPath, [next, 'start', '-p', String(port), '-H', 'localhost'], {
    cwd: dir,
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  child.stdout.on('data', (d) => log.push(String(d)));
  child.stderr.on('data', (d) => log.push(String(d)));
  const url = `http://localhost:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited ${child.exitCode}:\n${log.join('')}`);
    try {
      const r = await fetch(`${url}/`, { redirect: 'manual' });
      if (r.status > 0) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`next start did not answer:\n${log.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    log,
    stop: () =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}
