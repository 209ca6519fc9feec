// Social sign-in in a real browser: Debian Chromium, driven by playwright-core, on the demo
// page with Clerk's prebuilt SignIn and UserProfile components, against a certified OpenID
// Connect provider (`oidc-provider`, standing in for Google) on loopback. The browser goes to
// the provider, signs in there, and comes back through Frontdoor's callback to the page's
// SSO-callback route, where clerk-js finishes the flow (transfer, activation).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launchBrowser, exitWhenDone, freePort } from './harness.mjs';
import { startOidcProvider, accounts, socialSettings } from './providers.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
let oidc;
let browser;

before(async () => {
  const port = await freePort();
  oidc = await startOidcProvider(`http://127.0.0.1:${port}/v1/oauth_callback`);
  server = await startServer({ port, replacements: [socialSettings({ oidc })] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await oidc?.stop();
  exitWhenDone();
});

async function demo() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => window.__frontdoorDemoReady, null, { timeout: 20_000 });
  return { context, page };
}

const signedInEmail = (page) =>
  page.waitForFunction(() => window.Clerk?.user?.primaryEmailAddress?.emailAddress, null, { timeout: 20_000 }).then((h) => h.jsonValue());

async function shot(page, name) {
  await page.screenshot({ path: join(tmpdir(), `frontdoor-social-${name}.png`) }).catch(() => {});
}

test('SignIn shows the Google button; a first-time user signs in at the provider and is created through the transfer', async () => {
  accounts.set('browser-sub-1', { email: 'ines@oidc.test', email_verified: true, given_name: 'Inès', family_name: 'Roy' });
  oidc.signInAs('browser-sub-1');
  const { context, page } = await demo();
  try {
    const button = page.getByRole('button', { name: /Google/ });
    await button.waitFor({ timeout: 20_000 });
    await button.click();
    assert.equal(await signedInEmail(page), 'ines@oidc.test');
    const user = await page.evaluate(() => ({
      first: window.Clerk.user.firstName,
      accounts: window.Clerk.user.externalAccounts.map((a) => [a.provider, a.verification?.status]),
    }));
    assert.deepEqual(user, { first: 'Inès', accounts: [['google', 'verified']] });
    await page.locator('#status', { hasText: 'Signed in as ines@oidc.test' }).waitFor({ timeout: 10_000 });
  } catch (e) {
    await shot(page, 'first-time');
    throw e;
  } finally {
    await context.close();
  }
});

test('an email user who verified the address gets the Google account linked', async () => {
  const { context, page } = await demo();
  try {
    const userId = await page.evaluate(async ([email, password]) => {
      const c = window.Clerk;
      const su = await c.client.signUp.create({ emailAddress: email, password });
      await su.prepareEmailAddressVerification({ strategy: 'email_code' });
      const done = await c.client.signUp.attemptEmailAddressVerification({ code: '424242' });
      await c.setActive({ session: done.createdSessionId });
      const id = c.user.id;
      await c.signOut(() => {});
      return id;
    }, ['noor+clerk_test@example.com', PASSWORD]);
    accounts.set('browser-sub-2', { email: 'noor+clerk_test@example.com', email_verified: true, given_name: 'Noor' });
    oidc.signInAs('browser-sub-2');
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.__frontdoorDemoReady, null, { timeout: 20_000 });
    await page.getByRole('button', { name: /Google/ }).click();
    assert.equal(await signedInEmail(page), 'noor+clerk_test@example.com');
    assert.equal(await page.evaluate(() => window.Clerk.user.id), userId, 'the same user, now linked');
    const providers = await page.evaluate(() => window.Clerk.user.externalAccounts.map((a) => a.provider));
    assert.deepEqual(providers, ['google']);
  } catch (e) {
    await shot(page, 'linked');
    throw e;
  } finally {
    await context.close();
  }
});

test('UserProfile connects a Google account and removes it', async () => {
  const { context, page } = await demo();
  try {
    await page.evaluate(async ([email, password]) => {
      const c = window.Clerk;
      const su = await c.client.signUp.create({ emailAddress: email, password });
      await su.prepareEmailAddressVerification({ strategy: 'email_code' });
      const done = await c.client.signUp.attemptEmailAddressVerification({ code: '424242' });
      await c.setActive({ session: done.createdSessionId });
    }, ['omar+clerk_test@example.com', PASSWORD]);
    accounts.set('browser-sub-3', { email: 'omar.g@oidc.test', email_verified: true, given_name: 'Omar' });
    oidc.signInAs('browser-sub-3');
    const connect = page.getByRole('button', { name: /Connect account/i });
    await connect.waitFor({ timeout: 20_000 });
    await connect.click();
    await page.getByRole('menuitem', { name: /Google/ }).click();
    // Back from the provider on the profile page: the account is listed, verified.
    await page.waitForFunction(
      () => window.Clerk?.user?.externalAccounts?.some((a) => a.provider === 'google' && a.verification?.status === 'verified'),
      null,
      { timeout: 20_000 },
    );
    await page.getByText('omar.g@oidc.test').waitFor({ timeout: 20_000 });
    // Remove it through the account's menu.
    await page.getByRole('button', { name: /Open menu/i }).last().click();
    await page.getByRole('menuitem', { name: /Remove/i }).click();
    const confirm = page.getByRole('button', { name: /Remove/i }).last();
    await confirm.click();
    await page.waitForFunction(() => window.Clerk.user.externalAccounts.length === 0, null, { timeout: 20_000 });
  } catch (e) {
    await shot(page, 'profile');
    throw e;
  } finally {
    await context.close();
  }
});
