// Social sign-in through the unmodified @clerk/clerk-js in native mode (the recipe Expo's
// useSSO follows), against a certified OpenID Connect provider (`oidc-provider`, standing in
// for Google) and a GitHub-like OAuth 2.0 provider, both on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, nativeClerk, signUpActive, exitWhenDone, freePort, recorded } from './harness.mjs';
import { startOidcProvider, startGitHub, browse, accounts, socialSettings, GITHUB_CLIENT } from './providers.mjs';
import { assertWireFidelity } from './wire.mjs';

const APP_CALLBACK = 'myapp://sso-callback';
const PASSWORD = 'correct horse battery staple';
let server;
let oidc;
let github;

before(async () => {
  const port = await freePort();
  const callback = `http://127.0.0.1:${port}/v1/oauth_callback`;
  oidc = await startOidcProvider(callback);
  github = await startGitHub(callback);
  server = await startServer({
    port,
    replacements: [
      socialSettings({ oidc, github }),
      ['trusted_proxies = []', `trusted_proxies = []\nnative_redirect_urls = ["${APP_CALLBACK}"]`],
    ],
    env: { FRONTDOOR_TEST_GITHUB_SECRET: GITHUB_CLIENT.secret },
  });
});

after(async () => {
  await server?.stop();
  await oidc?.stop();
  await github?.stop();
  exitWhenDone();
});

async function loaded() {
  const device = nativeClerk(server);
  await device.clerk.load({ standardBrowser: false, telemetry: false });
  return device;
}

// Expo's useSSO: create the sign-in with the app's URL, open the provider in an auth session,
// and collect the client token with the nonce the app's URL comes back with.
async function ssoSignIn(clerk, strategy) {
  const signIn = await clerk.client.signIn.create({ strategy, redirectUrl: APP_CALLBACK });
  const v = signIn.firstFactorVerification;
  assert.equal(v.status, 'unverified');
  assert.equal(v.strategy, strategy);
  const { location } = await browse(v.externalVerificationRedirectURL.href);
  assert.ok(location.startsWith(`${APP_CALLBACK}?`), location);
  const nonce = new URL(location).searchParams.get('rotating_token_nonce');
  assert.ok(nonce, location);
  return { signIn, nonce };
}

test('the environment offers the connected providers', async () => {
  const { clerk } = await loaded();
  const social = clerk.__internal_environment.userSettings.social;
  assert.equal(social.oauth_google.enabled, true);
  assert.equal(social.oauth_google.authenticatable, true);
  assert.equal(social.oauth_github.strategy, 'oauth_github');
  const strategies = clerk.__internal_environment.userSettings.authenticatableSocialStrategies;
  assert.deepEqual([...strategies].sort(), ['oauth_github', 'oauth_google']);
});

test('a first-time Google user is created through the transfer, then signs in directly', async () => {
  accounts.set('google-sub-1', { email: 'lin@oidc.test', email_verified: true, given_name: 'Lin', family_name: 'Chen' });
  oidc.signInAs('google-sub-1');
  const first = await loaded();
  const { nonce } = await ssoSignIn(first.clerk, 'oauth_google');
  const signIn = await first.clerk.client.signIn.reload({ rotatingTokenNonce: nonce });
  assert.equal(signIn.firstFactorVerification.status, 'transferable');
  assert.equal(signIn.firstFactorVerification.error?.code, 'external_account_not_found');
  const signUp = await first.clerk.client.signUp.create({ transfer: true });
  assert.equal(signUp.status, 'complete');
  await first.clerk.setActive({ session: signUp.createdSessionId });
  const user = first.clerk.user;
  assert.equal(user.firstName, 'Lin');
  assert.equal(user.primaryEmailAddress?.emailAddress, 'lin@oidc.test');
  assert.equal(user.primaryEmailAddress?.verification.status, 'verified');
  assert.equal(user.externalAccounts.length, 1);
  assert.equal(user.externalAccounts[0].provider, 'google');
  assert.equal(user.externalAccounts[0].providerUserId, 'google-sub-1');

  // Another device: signed in at the callback; the nonce collects the rotated token, once.
  const second = await loaded();
  const again = await ssoSignIn(second.clerk, 'oauth_google');
  await assert.rejects(
    second.clerk.client.signIn.reload({ rotatingTokenNonce: 'not-the-nonce' }),
    (err) => err.status === 401,
  );
  const done = await second.clerk.client.signIn.reload({ rotatingTokenNonce: again.nonce });
  assert.equal(done.status, 'complete');
  await second.clerk.setActive({ session: done.createdSessionId });
  assert.equal(second.clerk.user.id, user.id);
  const jwt = await second.clerk.session.getToken();
  assert.equal(JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url')).sub, user.id);
});

test('a redirect URL that is not on the allow-list is refused', async () => {
  const { clerk } = await loaded();
  await assert.rejects(
    clerk.client.signIn.create({ strategy: 'oauth_google', redirectUrl: 'otherapp://sso-callback' }),
    (err) => err.status === 422 && err.errors[0].code === 'invalid_redirect_url',
  );
});

test('GitHub: the email user who verified the address gets the account linked', async () => {
  const owner = await loaded();
  await signUpActive(owner.clerk, 'mona+clerk_test@example.com', PASSWORD);
  const userId = owner.clerk.user.id;
  github.state.deny = false;
  github.state.user = {
    id: 4242,
    login: 'monalisa',
    name: 'Mona Lisa',
    emails: [
      { email: 'mona+clerk_test@example.com', primary: true, verified: true },
      { email: 'mona@elsewhere.test', primary: false, verified: false },
    ],
  };
  const d = await loaded();
  const { nonce } = await ssoSignIn(d.clerk, 'oauth_github');
  const signIn = await d.clerk.client.signIn.reload({ rotatingTokenNonce: nonce });
  assert.equal(signIn.status, 'complete');
  await d.clerk.setActive({ session: signIn.createdSessionId });
  assert.equal(d.clerk.user.id, userId);
  const account = d.clerk.user.externalAccounts.find((a) => a.provider === 'github');
  assert.equal(account?.providerUserId, '4242');
  assert.equal(account?.username, 'monalisa');
  assert.equal(account?.verification?.status, 'verified');
});

test('GitHub: access denied at the provider comes back as a Clerk error on the attempt', async () => {
  github.state.deny = true;
  try {
    const d = await loaded();
    const { nonce } = await ssoSignIn(d.clerk, 'oauth_github');
    const signIn = await d.clerk.client.signIn.reload({ rotatingTokenNonce: nonce });
    assert.equal(signIn.firstFactorVerification.status, 'failed');
    assert.equal(signIn.firstFactorVerification.error?.code, 'oauth_access_denied');
    assert.equal(signIn.createdSessionId, null);
  } finally {
    github.state.deny = false;
  }
});

test('a signed-in user connects a Google account and disconnects it', async () => {
  const d = await loaded();
  await signUpActive(d.clerk, 'connect+clerk_test@example.com', PASSWORD);
  accounts.set('google-sub-2', { email: 'other@oidc.test', email_verified: true, given_name: 'Kai' });
  oidc.signInAs('google-sub-2');
  const pending = await d.clerk.user.createExternalAccount({ strategy: 'oauth_google', redirectUrl: APP_CALLBACK });
  assert.equal(pending.verification.status, 'unverified');
  const { location } = await browse(pending.verification.externalVerificationRedirectURL.href);
  assert.equal(location, APP_CALLBACK);
  await d.clerk.user.reload();
  const account = d.clerk.user.externalAccounts.find((a) => a.provider === 'google');
  assert.equal(account?.verification?.status, 'verified');
  assert.equal(account?.emailAddress, 'other@oidc.test');
  await account.destroy();
  await d.clerk.user.reload();
  assert.equal(d.clerk.user.externalAccounts.length, 0);
});

test('every response matches the spec', () => {
  assert.ok(recorded.length > 0);
  assertWireFidelity(recorded);
});
