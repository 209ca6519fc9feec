// The user profile journey through the unmodified @clerk/clerk-js 6.40 in native mode, with
// codes from the development outbox and TOTP codes computed like an authenticator app.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, nativeClerk, outboxCode, signUpActive, signInActive, totpCode, rawNativeSignIn, exitWhenDone,
} from './harness.mjs';
import { recorded } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
  exitWhenDone();
});

const FIRST = 'profile.first@example.com';
const SECOND = 'profile.second@example.com';
const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'an even better passphrase';

test('profile journey: names, emails, password, TOTP, backup codes, deletion', async () => {
  const { clerk } = nativeClerk(server, { log: process.env.SDK_LOG ? console.error : undefined });
  await clerk.load({ standardBrowser: false, telemetry: false });
  const signUp = await clerk.client.signUp.create({ emailAddress: FIRST, password: PASSWORD });
  await signUp.prepareEmailAddressVerification({ strategy: 'email_code' });
  const done = await signUp.attemptEmailAddressVerification({ code: outboxCode(server, FIRST) });
  await clerk.setActive({ session: done.createdSessionId });

  // Names.
  await clerk.user.update({ firstName: 'Profile', lastName: 'Person' });
  assert.equal(clerk.user.fullName, 'Profile Person');

  // A second email, verified with the outbox code, made primary; the old one removed.
  const added = await clerk.user.createEmailAddress({ email: SECOND });
  await added.prepareVerification({ strategy: 'email_code' });
  const verified = await added.attemptVerification({ code: outboxCode(server, SECOND) });
  assert.equal(verified.verification.status, 'verified');
  await clerk.user.update({ primaryEmailAddressId: added.id });
  assert.equal(clerk.user.primaryEmailAddress.emailAddress, SECOND);
  const old = clerk.user.emailAddresses.find((e) => e.emailAddress === FIRST);
  await old.destroy();
  await clerk.user.reload();
  assert.deepEqual(clerk.user.emailAddresses.map((e) => e.emailAddress), [SECOND]);

  // Change the password and sign out elsewhere: a second device loses its session.
  const tablet = await rawNativeSignIn(server, SECOND, PASSWORD);
  assert.equal(await tablet.tokenStatus(), 200);
  await clerk.user.updatePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD, signOutOfOtherSessions: true });
  assert.equal(await tablet.tokenStatus(), 401);
  assert.ok(await clerk.session.getToken({ skipCache: true }), 'this device keeps its session');

  // Enable TOTP.
  const totp = await clerk.user.createTOTP();
  assert.ok(totp.secret && totp.uri.startsWith('otpauth://'));
  const enableCode = totpCode(totp.secret);
  const enabled = await clerk.user.verifyTOTP({ code: enableCode });
  assert.equal(enabled.verified, true);
  assert.equal(clerk.user.totpEnabled, true);
  assert.equal(clerk.user.twoFactorEnabled, true);
  await clerk.signOut();

  // A password sign-in now needs the second factor; the TOTP code passes it.
  let signIn = await clerk.client.signIn.create({ identifier: SECOND, password: NEW_PASSWORD });
  assert.equal(signIn.status, 'needs_second_factor');
  assert.ok(signIn.supportedSecondFactors.some((f) => f.strategy === 'totp'));
  // A TOTP code is accepted once (RFC 6238 §5.2): the sign-in uses the next one, as someone
  // signing in right after enabling TOTP waits for their app to show a fresh code.
  await assert.rejects(
    signIn.attemptSecondFactor({ strategy: 'totp', code: enableCode }),
    (err) => err.errors?.[0]?.code === 'form_code_incorrect',
  );
  signIn = await clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code: totpCode(totp.secret, Date.now() + 30_000) });
  assert.equal(signIn.status, 'complete');
  await clerk.setActive({ session: signIn.createdSessionId });

  // Backup codes: each works once, and only once.
  const backup = await clerk.user.createBackupCode();
  assert.ok(backup.codes.length >= 8);
  const code = backup.codes[0];
  await clerk.signOut();
  signIn = await clerk.client.signIn.create({ identifier: SECOND, password: NEW_PASSWORD });
  signIn = await signIn.attemptSecondFactor({ strategy: 'backup_code', code });
  assert.equal(signIn.status, 'complete');
  await clerk.setActive({ session: signIn.createdSessionId });
  await clerk.signOut();
  signIn = await clerk.client.signIn.create({ identifier: SECOND, password: NEW_PASSWORD });
  await assert.rejects(
    signIn.attemptSecondFactor({ strategy: 'backup_code', code }),
    (err) => err.status === 422 && err.errors[0].code === 'form_code_incorrect',
  );
  signIn = await clerk.client.signIn.attemptSecondFactor({ strategy: 'backup_code', code: backup.codes[1] });
  await clerk.setActive({ session: signIn.createdSessionId });

  // Delete the account; its email can sign up again.
  await clerk.user.delete();
  assert.equal(clerk.user, null);
  const again = await clerk.client.signUp.create({ emailAddress: SECOND, password: PASSWORD });
  assert.equal(again.emailAddress, SECOND);
});

test('every FAPI response seen in this file matches its schema in the spec', () => {
  assert.ok(recorded.length > 0, 'responses were recorded');
  assertWireFidelity(recorded);
});
