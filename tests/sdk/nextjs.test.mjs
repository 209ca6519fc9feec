// A real Next.js App Router app (examples/nextjs, unchanged) on @clerk/nextjs, in Debian Chromium,
// against Frontdoor: with a development key (development browser) and a production key
// (cookies), on the current SDK line (@clerk/nextjs 7: clerk-js 6 and @clerk/ui 1, hot-loaded
// from Frontdoor's /npm/@clerk/…) and on Core 2 (@clerk/nextjs 6: clerk-js 5). Each journey signs
// up in <SignUp/>, sees its name on a server-rendered page (auth() and currentUser(), i.e. the
// Backend API), reloads after its session token expired (one handshake, no loop), signs out in
// <UserButton/>, is sent to sign-in by the protected page, and signs in again in <SignIn/>.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, settingsFile, launchBrowser, publishableKey, exitWhenDone, freePort } from './harness.mjs';
import { startNextApp, clerkEnv } from './nextjs.mjs';
import { assertWireFidelity } from './wire.mjs';

const PASSWORD = 'correct horse battery staple';
const SECRET_KEY = 'sk_test_' + 'nextjs0example0secret0key0for0the0tests'.slice(0, 40);
const LIVE_SECRET_KEY = SECRET_KEY.replace('sk_test_', 'sk_live_');
// Short-lived session tokens, so a reload can find its token expired within the test. The
// expiry is judged by the Next.js server's own clock (@clerk/backend, 5 s leeway), which the
// test cannot move: it waits until the token in the browser's cookie is past that. Well past
// clerk-js 5's 10 s refresh leeway (a token within it counts as stale: at 15 s clerk-js 5
// refreshed on every 5 s poll).
const TOKEN_LIFETIME_SECS = 30;
const SKEW_MS = 5_000;

let browser;
const stops = [];
const seen = [];

// A Frontdoor instance and the example app built against it. Both are reached as `localhost`
// (Next.js rewrites 127.0.0.1 in its redirects to localhost, and production cookies need the
// app and the Frontend API on one site).
async function setup({ line, live }) {
  const apiPort = await freePort();
  const appPort = await freePort();
  const frontendApi = `http://localhost:${apiPort}`;
  // A publishable key's host must have a dot. Development keys must name a Clerk development
  // host for clerk-js to use a development browser; requests still go to the proxy URL.
  const pk = publishableKey(live ? 'clerk.frontdoor.test' : 'frontdoor-nextjs.clerk.accounts.dev', live);
  const replacements = [
    [`token_lifetime_secs = 60`, `token_lifetime_secs = ${TOKEN_LIFETIME_SECS}`],
    // The name the server-rendered page greets the user with.
    ['[attributes.first_name]\nenabled = true', '[attributes.first_name]\nenabled = true\nrequired = true'],
    ['[attributes.last_name]\nenabled = true', '[attributes.last_name]\nenabled = true\nrequired = true'],
  ];
  if (live) {
    replacements.push(
      ['environment = "development"', 'environment = "production"'],
      ['delivery = "outbox"', 'delivery = "aws"'],
      // Production sends codes through SES; this journey signs up with a password alone.
      ['verify_at_sign_up = true', 'verify_at_sign_up = false'],
    );
  }
  const secretKey = live ? LIVE_SECRET_KEY : SECRET_KEY;
  const server = await startServer({
    port: apiPort,
    settings: settingsFile(replacements, frontendApi),
    env: {
      FRONTDOOR_SECRET_KEY: secretKey,
      FRONTDOOR_PUBLISHABLE_KEY: pk,
      FRONTDOOR_ALLOWED_ORIGINS: `http://localhost:${appPort}`,
      // Production delivers through AWS; nothing is sent in these journeys.
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL: process.env.FRONTDOOR_TEST_DYNAMODB ?? 'http://127.0.0.1:9',
    },
  });
  stops.push(server.stop);
  const app = await startNextApp({
    line,
    name: `${line}-${live ? 'live' : 'test'}`,
    port: appPort,
    env: clerkEnv({ line, publishableKey: pk, frontendApi, secretKey }),
  });
  stops.push(app.stop);
  return { server, app, pk, live };
}

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const stop of stops.reverse()) await stop();
  exitWhenDone();
});

// Records every Frontdoor JSON response the page receives, for the wire check, and every URL
// the page requests.
function watch(page, s) {
  const requests = [];
  // What went wrong in the page, for the message of a step that then times out.
  requests.problems = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => m.type() === 'error' && requests.problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => requests.problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => requests.problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', async (r) => {
    if (r.status() >= 400) requests.problems.push(`${r.status()}: ${r.request().method()} ${r.url()}`);
    const url = new URL(r.url());
    if (url.port !== String(s.server.port) || !url.pathname.startsWith('/v1/')) return;
    if (!(r.headers()['content-type'] ?? '').includes('json')) return;
    try {
      seen.push({ method: r.request().method(), url: r.url(), status: r.status(), body: await r.json() });
    } catch {
      // the page navigated before the body was read: not recorded
    }
  });
  return requests;
}

async function typeCode(page, code) {
  const input = page.locator('input[autocomplete="one-time-code"]').first();
  await input.waitFor({ timeout: 20_000 });
  await input.click();
  await page.keyboard.type(code);
}

async function signUp(page, s, { email, first, last }) {
  await page.goto(`${s.app.url}/sign-up`);
  await page.locator('input[name="emailAddress"]').waitFor({ timeout: 30_000 });
  await page.locator('input[name="firstName"]').fill(first);
  await page.locator('input[name="lastName"]').fill(last);
  await page.locator('input[name="emailAddress"]').fill(email);
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  if (!s.live) await typeCode(page, '424242');
  await page.waitForURL((u) => !u.pathname.startsWith('/sign-up'), { timeout: 30_000 });
}

async function signIn(page, s, email) {
  await page.goto(`${s.app.url}/sign-in`);
  await page.locator('input[name="identifier"]').waitFor({ timeout: 30_000 });
  await page.locator('input[name="identifier"]').fill(email);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/sign-in'), { timeout: 30_000 });
}

async function protectedGreeting(page, s) {
  await page.goto(`${s.app.url}/protected`);
  const greeting = page.locator('#greeting');
  await greeting.waitFor({ timeout: 20_000 });
  return (await greeting.textContent()).trim();
}

// The session cookie the app reads: `__session`, or its suffixed copy.
function sessionCookie(cookies) {
  return cookies.find((c) => /^__session(_.+)?$/.test(c.name) && c.value);
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

// Waits (bounded) until the session token in the cookie is expired for the app server.
async function untilExpired(context) {
  const cookies = await context.cookies();
  const token = sessionCookie(cookies);
  assert.ok(token, `a __session cookie among ${cookies.map((c) => c.name).join(', ')}`);
  const { exp } = claims(token.value);
  const deadline = Date.now() + (TOKEN_LIFETIME_SECS + 15) * 1000;
  while (Date.now() <= exp * 1000 + SKEW_MS + 500) {
    assert.ok(Date.now() < deadline, 'the token expires within its lifetime');
    await new Promise((r) => setTimeout(r, 250));
  }
  return exp;
}

async function journey(s, label) {
  const context = await browser.newContext();
  let page = await context.newPage();
  watch(page, s);
  const email = `${label}+clerk_test@example.com`;
  await signUp(page, s, { email, first: 'Ada', last: label });
  assert.equal(await protectedGreeting(page, s), `Hello, Ada ${label}`, 'the server-rendered page knows the user');

  // The token expires while no page runs clerk-js (nothing refreshes it); a reload then goes
  // through the handshake once and stays signed in.
  await page.close();
  const expiredAt = await untilExpired(context);
  page = await context.newPage();
  const requests = watch(page, s);
  assert.equal(await protectedGreeting(page, s), `Hello, Ada ${label}`, 'still signed in after the handshake');
  const handshakes = requests.filter((u) => new URL(u).pathname === '/v1/client/handshake');
  assert.equal(handshakes.length, 1, `one handshake round trip: ${handshakes.join(', ')}`);
  const fresh = sessionCookie(await context.cookies());
  assert.ok(claims(fresh.value).exp > expiredAt, 'the handshake set a fresh session token');
  const loops = (await context.cookies()).find((c) => c.name === '__clerk_redirect_count');
  assert.ok(!loops || Number(loops.value) <= 1, 'no redirect loop');

  // Sign out in <UserButton/>; the protected page then sends us to sign in. On the Core 2 line
  // (@clerk/nextjs 6, @clerk/clerk-react 5, React 19) the button sometimes never renders
  // although clerk-js has loaded with the user and no request failed: the page's HTML has no
  // trace of it (about one full run in three, never on the current line). Which side loses the
  // "loaded" state is not found yet; a person would reload, and so does the test, once, saying so.
  try {
    try {
      await page.locator('.cl-userButtonTrigger').click({ timeout: 15_000 });
    } catch {
      process.stderr.write(`${label}: no <UserButton/> after 15 s with clerk-js loaded; reloading once\n`);
      await page.reload();
      await page.locator('.cl-userButtonTrigger').click({ timeout: 30_000 });
    }
  } catch (e) {
    const state = await page.evaluate(() => ({ url: location.href, loaded: window.Clerk?.loaded, user: window.Clerk?.user?.id ?? null, version: window.Clerk?.version, html: document.body.innerHTML.slice(0, 3000) })).catch((x) => ({ evaluate: String(x) }));
    await page.screenshot({ path: join(tmpdir(), `frontdoor-${label}-userbutton.png`) }).catch(() => {});
    throw new Error(`${e.message}\nclerk-js: ${JSON.stringify(state)}\npage problems:\n${requests.problems.join('\n') || '(none)'}\nrequests:\n${requests.slice(-40).join('\n')}`);
  }
  await page.locator('.cl-userButtonPopoverActionButton__signOut').click();
  await page.waitForFunction(() => !document.cookie.includes('__session=ey'), null, { timeout: 20_000 });
  await page.goto(`${s.app.url}/protected`);
  await page.waitForURL((u) => u.pathname.startsWith('/sign-in'), { timeout: 20_000 });

  // Sign in again in <SignIn/>.
  await signIn(page, s, email);
  assert.equal(await protectedGreeting(page, s), `Hello, Ada ${label}`, 'signed in again');
  await context.close();
}

test('@clerk/nextjs 7 with a development key: sign up, SSR, expired-token reload, sign out, sign in', async () => {
  await journey(await setup({ line: 'current', live: false }), 'nextdev');
});

test('@clerk/nextjs 7 with a production key (cookies): the same journey', async () => {
  await journey(await setup({ line: 'current', live: true }), 'nextlive');
});

test('Core 2 (@clerk/nextjs 6, clerk-js 5) with a development key: the same journey', async () => {
  await journey(await setup({ line: 'core2', live: false }), 'nextcore2');
});

test('every Frontdoor response the apps saw matches its schema in the spec', () => {
  assert.ok(seen.length > 10, `recorded ${seen.length} responses`);
  assertWireFidelity(seen);
});
