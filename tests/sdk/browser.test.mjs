// A real browser: Debian Chromium, driven by playwright-core, loading the unmodified
// clerk.browser.js from a page the local server serves — in development mode (development
// browser token) and in cookie mode (same-origin proxyUrl) — and Clerk's prebuilt sign-up
// component on the demo page. Every FAPI response the browser sees is checked against the spec.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launchBrowser, b64Key, exitWhenDone } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
let browser;
const seen = [];
// Responses whose body could not be read because the page or its context closed while the
// response was held (so the page never received it either); kept apart from `seen`.
const unread = [];
const holds = new Set();

// Records every FAPI response the page receives, body included, for the wire check.
//
// Reading bodies from Playwright's 'response' event races the page: the event only reports
// that headers arrived, and the body is fetched later with Network.getResponseBody, which
// fails once the page has navigated or reloaded ("the body is not JSON", about one run in
// four). Instead, Chromium's own request interception (CDP Fetch, response stage) pauses
// each matching response in the browser before the page gets any of it: the test reads the
// body (Fetch.getResponseBody), records it, and only then releases the response to the
// page (Fetch.continueRequest, which passes the original response through untouched:
// status, headers, Set-Cookie, body). The page cannot act on, or navigate away from, a
// response that has not been recorded yet, and a held body stays readable even if the page
// navigates meanwhile. The only way to lose a body is the page or its context closing while
// the response is held, and then the page never saw it: those go to `unread`, and the last
// test insists that is the only reason any body went unread.
async function recordFapi(page, wanted) {
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', (event) => {
    const hold = record(cdp, event, wanted);
    holds.add(hold);
    hold.finally(() => holds.delete(hold));
  });
  await cdp.send('Fetch.enable', {
    patterns: ['*/v1/*', '*/.well-known/*'].map((urlPattern) => ({ urlPattern, requestStage: 'Response' })),
  });
}

async function record(cdp, { requestId, request, responseStatusCode: status }, wanted) {
  try {
    if (!wanted(new URL(request.url).pathname)) return;
    const entry = { method: request.method, url: request.url, status };
    let raw;
    try {
      raw = await cdp.send('Fetch.getResponseBody', { requestId });
    } catch (error) {
      unread.push({ ...entry, reason: error.message });
      return;
    }
    const text = raw.base64Encoded ? Buffer.from(raw.body, 'base64').toString('utf8') : raw.body;
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined; // read, and not JSON: the wire check fails it
    }
    seen.push({ ...entry, body });
  } finally {
    // Released only after it is recorded. This fails only if the page is already gone.
    await cdp.send('Fetch.continueRequest', { requestId }).catch(() => {});
  }
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  exitWhenDone();
});

async function open(pk, proxy) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await recordFapi(page, (path) => path.includes('/v1/') || path.includes('/.well-known/'));
  const load = async () => {
    await page.goto(`${server.url}/demo/harness.html?pk=${encodeURIComponent(pk)}&proxy=${encodeURIComponent(proxy)}`);
    await page.waitForFunction(() => window.__ready || window.__loadError, null, { timeout: 20_000 });
    const error = await page.evaluate(() => window.__loadError);
    assert.equal(error, undefined, error);
  };
  await load();
  return { context, page, requests, load };
}

async function signUpInPage(page, email) {
  return page.evaluate(
    async ([email, password]) => {
      const c = window.Clerk;
      const su = await c.client.signUp.create({ emailAddress: email, password });
      await su.prepareEmailAddressVerification({ strategy: 'email_code' });
      const done = await c.client.signUp.attemptEmailAddressVerification({ code: '424242' });
      await c.setActive({ session: done.createdSessionId });
      return { userId: c.user?.id, status: done.status };
    },
    [email, PASSWORD],
  );
}

const userId = (page) => page.evaluate(() => window.Clerk.user?.id ?? null);
// A callback keeps clerk-js from navigating away after signing out.
const signOut = (page) => page.evaluate(() => window.Clerk.signOut(() => {}));

test('development mode: the development browser token carries the client; sign up, reload, sign out', async () => {
  const pk = b64Key('pk_test_', 'frontdoor.clerk.accounts.dev');
  const { page, requests, load, context } = await open(pk, server.url);
  assert.ok(requests.some((u) => u.includes('/v1/dev_browser')), 'a development browser was created');
  const r = await signUpInPage(page, 'dev.browser+clerk_test@example.com');
  assert.equal(r.status, 'complete');
  assert.ok(requests.some((u) => u.includes('__clerk_db_jwt=')), 'requests carry __clerk_db_jwt');
  await load();
  assert.equal(await userId(page), r.userId, 'still signed in after a reload');
  await signOut(page);
  assert.equal(await userId(page), null);
  await load();
  assert.equal(await userId(page), null, 'still signed out after a reload');
  await context.close();
});

test('cookie mode: a same-origin proxyUrl and the HttpOnly __client cookie; sign up, reload, sign out', async () => {
  const pk = b64Key('pk_test_', 'clerk.example.test');
  const { page, requests, load, context } = await open(pk, '/__clerk');
  const r = await signUpInPage(page, 'cookie.browser+clerk_test@example.com');
  assert.equal(r.status, 'complete');
  assert.ok(requests.some((u) => u.includes('/__clerk/v1/client')), 'requests go through the proxy path');
  assert.ok(!requests.some((u) => u.includes('__clerk_db_jwt')), 'no development browser in cookie mode');
  const cookies = await context.cookies();
  const client = cookies.find((c) => c.name === '__client');
  assert.ok(client?.httpOnly, 'the __client cookie is HttpOnly');
  assert.equal(client.sameSite, 'Lax');
  await load();
  assert.equal(await userId(page), r.userId, 'still signed in after a reload');
  await signOut(page);
  await load();
  assert.equal(await userId(page), null, 'still signed out after a reload');
  const uat = (await context.cookies()).find((c) => c.name === '__client_uat');
  assert.equal(uat?.value, '0');
  await context.close();
});

test("the demo page: Clerk's prebuilt SignUp component completes a sign-up against Frontdoor", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await recordFapi(page, (path) => path.startsWith('/v1/'));
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.__frontdoorDemoReady, null, { timeout: 20_000 });
  // The prebuilt SignIn links to the sign-up page.
  await page.getByRole('link', { name: 'Sign up' }).click();
  await page.waitForURL('**/demo/sign-up.html**');
  await page.waitForFunction(() => window.__frontdoorDemoReady, null, { timeout: 20_000 });
  await page.locator('input[name="emailAddress"]').fill('demo.ui+clerk_test@example.com');
  await page.locator('input[name="password"]').fill(PASSWORD);
  await page.getByRole('button', { name: 'Continue' }).click();
  // The verification step: Clerk's one-time-code input.
  const code = page.locator('input[autocomplete="one-time-code"]').first();
  await code.waitFor({ timeout: 20_000 });
  await code.click();
  await page.keyboard.type('424242');
  await page.waitForFunction(() => window.Clerk?.user?.primaryEmailAddress?.emailAddress, null, { timeout: 20_000 });
  assert.equal(
    await page.evaluate(() => window.Clerk.user.primaryEmailAddress.emailAddress),
    'demo.ui+clerk_test@example.com',
  );
  await page.locator('#status', { hasText: 'Signed in as demo.ui+clerk_test@example.com' }).waitFor({ timeout: 10_000 });
  await page.screenshot({ path: process.env.DEMO_SCREENSHOT ?? join(tmpdir(), 'frontdoor-demo-signed-in.png') });
  await context.close();
});

test('every FAPI response the browser saw matches its schema in the spec', async (t) => {
  await Promise.all(holds);
  t.diagnostic(`${seen.length} responses recorded, ${unread.length} unread`);
  for (const u of unread) t.diagnostic(`body unread: ${u.method} ${u.url} → ${u.status}: ${u.reason}`);
  const closed = /Target page, context or browser has been closed|Target closed|Session closed/;
  assert.deepEqual(
    unread.filter((u) => !closed.test(u.reason)).map((u) => `${u.method} ${u.url} → ${u.status}: ${u.reason}`),
    [],
    'response bodies that could not be read',
  );
  assert.ok(seen.length > 10, `recorded ${seen.length} responses`);
  assertWireFidelity(seen);
});
