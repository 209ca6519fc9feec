// Sign-up and sign-in flows through the unmodified @clerk/clerk-js 6.40 in native mode, with
// codes read from the development outbox.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, nativeClerk, outboxCode, exitWhenDone } from './harness.mjs';
import { recorded } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

const PASSWORD = 'correct horse battery staple';
const EMAIL = 'sdk.user@example.com';
let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
  exitWhenDone();
});

async function loaded() {
  const device = nativeClerk(server);
  await device.clerk.load({ standardBrowser: false, telemetry: false });
  return device;
}

test('sign up with an email code from the outbox, then get a session token', async () => {
  const { clerk } = await loaded();
  const signUp = await clerk.client.signUp.create({ emailAddress: EMAIL, password: PASSWORD });
  assert.equal(signUp.status, 'missing_requirements');
  assert.deepEqual(signUp.unverifiedFields, ['email_address']);
  await signUp.prepareEmailAddressVerification({ strategy: 'email_code' });
  const code = outboxCode(server, EMAIL);
  assert.match(code, /^\d{6}$/);
  await assert.rejects(
    signUp.attemptEmailAddressVerification({ code: code === '000000' ? '111111' : '000000' }),
    (err) => err.status === 422 && err.errors[0].code === 'form_code_incorrect' && err.errors[0].meta.paramName === 'code',
  );
  const done = await clerk.client.signUp.attemptEmailAddressVerification({ code });
  assert.equal(done.status, 'complete');
  assert.ok(done.createdSessionId);
  await clerk.setActive({ session: done.createdSessionId });
  assert.equal(clerk.user?.primaryEmailAddress?.emailAddress, EMAIL);
  assert.equal(clerk.session?.id, done.createdSessionId);
  const jwt = await clerk.session.getToken();
  assert.equal(jwt.split('.').length, 3);
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
  assert.equal(claims.sub, clerk.user.id);
  assert.equal(claims.sid, clerk.session.id);

  await clerk.signOut();
  assert.equal(clerk.user, null);
  assert.equal(clerk.session, null);
});

test('a wrong password is a 422 form_password_incorrect', async () => {
  const { clerk } = await loaded();
  await assert.rejects(
    clerk.client.signIn.create({ identifier: EMAIL, password: 'not the password' }),
    (err) => err.status === 422 && err.errors[0].code === 'form_password_incorrect',
  );
  assert.equal(clerk.user, null);
});

test('password sign-in', async () => {
  const { clerk } = await loaded();
  const signIn = await clerk.client.signIn.create({ identifier: EMAIL, password: PASSWORD });
  assert.equal(signIn.status, 'complete');
  await clerk.setActive({ session: signIn.createdSessionId });
  assert.equal(clerk.user?.primaryEmailAddress?.emailAddress, EMAIL);
  assert.ok(await clerk.session.getToken());
  await clerk.signOut();
  assert.equal(clerk.user, null);
});

test('passwordless email-code sign-in', async () => {
  const { clerk } = await loaded();
  const signIn = await clerk.client.signIn.create({ identifier: EMAIL });
  assert.equal(signIn.status, 'needs_first_factor');
  const factor = signIn.supportedFirstFactors.find((f) => f.strategy === 'email_code');
  assert.ok(factor?.emailAddressId, 'an email_code factor with its email address id');
  assert.equal(factor.safeIdentifier, EMAIL);
  await signIn.prepareFirstFactor({ strategy: 'email_code', emailAddressId: factor.emailAddressId });
  const code = outboxCode(server, EMAIL);
  const done = await clerk.client.signIn.attemptFirstFactor({ strategy: 'email_code', code });
  assert.equal(done.status, 'complete');
  await clerk.setActive({ session: done.createdSessionId });
  assert.equal(clerk.user?.primaryEmailAddress?.emailAddress, EMAIL);
  await clerk.signOut();
});

test('password reset with an email code', async () => {
  const { clerk } = await loaded();
  const signIn = await clerk.client.signIn.create({ strategy: 'reset_password_email_code', identifier: EMAIL });
  assert.equal(signIn.firstFactorVerification.strategy, 'reset_password_email_code');
  const code = outboxCode(server, EMAIL);
  const verified = await signIn.attemptFirstFactor({ strategy: 'reset_password_email_code', code });
  assert.equal(verified.status, 'needs_new_password');
  const NEW_PASSWORD = 'a fresh passphrase for the sdk';
  const reset = await clerk.client.signIn.resetPassword({ password: NEW_PASSWORD, signOutOfOtherSessions: true });
  assert.equal(reset.status, 'complete');
  await clerk.setActive({ session: reset.createdSessionId });
  assert.equal(clerk.user?.primaryEmailAddress?.emailAddress, EMAIL);
  await clerk.signOut();

  const fresh = await loaded();
  await assert.rejects(
    fresh.clerk.client.signIn.create({ identifier: EMAIL, password: PASSWORD }),
    (err) => err.errors?.[0]?.code === 'form_password_incorrect',
  );
  const again = await fresh.clerk.client.signIn.create({ identifier: EMAIL, password: NEW_PASSWORD });
  assert.equal(again.status, 'complete');
});

test('every FAPI response seen in this file matches its schema in the spec', () => {
  assert.ok(recorded.length > 0, 'responses were recorded');
  assertWireFidelity(recorded);
});
