// A real browser: Debian Chromium, driven by playwright-core, loading the unmodified
// clerk.browser.js from a page the local server serves — in development mode (development
// browser token) and in cookie mode (same-origin proxyUrl) — and Clerk's prebuilt sign-up
// component on the demo page. Every FAPI response the browser sees is checked against the spec.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, b64Key, exitWhenDone } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
let browser;
const seen = [];

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
  page.on('response', async (r) => {
    const url = new URL(r.url());
    if (!url.pathname.includes('/v1/') && !url.pathname.includes('/.well-known/')) return;
    const request = r.request();
    let body = null;
    try {
      body = await r.json();
    } catch {
      body = undefined;
    }
    seen.push({ method: request.method(), url: r.url(), status: r.status(), body });
  });
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
  page.on('response', async (r) => {
    const url = new URL(r.url());
    if (!url.pathname.startsWith('/v1/')) return;
    let body;
    try {
      body = await r.json();
    } catch {
      body = undefined;
    }
    seen.push({ method: r.request().method(), url: r.url(), status: r.status(), body });
  });
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
  await page.screenshot({ path: process.env.DEMO_SCREENSHOT ?? '/tmp/frontdoor-demo-signed-in.png' });
  await context.close();
});

test('every FAPI response the browser saw matches its schema in the spec', () => {
  assert.ok(seen.length > 10, `recorded ${seen.length} responses`);
  assertWireFidelity(seen);
});
