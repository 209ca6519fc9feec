// Reverification through the unmodified @clerk/clerk-js 6.40 in native mode: a sensitive action
// on a session whose factors are not fresh enough is refused with
// `session_reverification_required`; the SDK's own reverification calls (`startVerification`,
// `attemptFirstFactorVerification`, `prepareSecondFactorVerification`,
// `attemptSecondFactorVerification`) complete it, and the action then goes through.
//
// The session goes stale without waiting: a user who signed up with a password adds an SMS
// second factor; the session never verified that factor, so a second-factor change (new backup
// codes) needs the user to prove both factors again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, nativeClerk, signUpActive, exitWhenDone, recorded } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
  exitWhenDone();
});

const EMAIL = 'reverify+clerk_test@example.com';
const PHONE = '+12015550142';
const PASSWORD = 'correct horse battery staple';
const TEST_CODE = '424242';

function fva(jwt) {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
  return payload.fva;
}

test('a stale session reverifies through clerk-js, then the sensitive action succeeds', async () => {
  const { clerk } = nativeClerk(server, { log: process.env.SDK_LOG ? console.error : undefined });
  await clerk.load({ standardBrowser: false, telemetry: false });
  await signUpActive(clerk, EMAIL, PASSWORD);

  // An SMS second factor (a Clerk test number: code 424242, nothing sent).
  const phone = await clerk.user.createPhoneNumber({ phoneNumber: PHONE });
  await phone.prepareVerification();
  await phone.attemptVerification({ code: TEST_CODE });
  await phone.setReservedForSecondFactor({ reserved: true });
  await clerk.user.reload();
  assert.equal(clerk.user.twoFactorEnabled, true);

  // The session has not verified the second factor: the change is refused.
  await assert.rejects(
    clerk.user.createBackupCode(),
    (err) => err.status === 403 && err.errors?.[0]?.code === 'session_reverification_required',
  );

  // The SDK's reverification calls.
  let verification = await clerk.session.startVerification({ level: 'second_factor' });
  assert.equal(verification.status, 'needs_first_factor');
  assert.ok(verification.supportedFirstFactors.some((f) => f.strategy === 'password'));
  verification = await clerk.session.attemptFirstFactorVerification({ strategy: 'password', password: PASSWORD });
  assert.equal(verification.status, 'needs_second_factor');
  const sms = verification.supportedSecondFactors.find((f) => f.strategy === 'phone_code');
  assert.ok(sms, 'the SMS second factor is offered');
  await clerk.session.prepareSecondFactorVerification({ strategy: 'phone_code', phoneNumberId: sms.phoneNumberId });
  verification = await clerk.session.attemptSecondFactorVerification({ strategy: 'phone_code', code: TEST_CODE });
  assert.equal(verification.status, 'complete');
  assert.equal(verification.session.id, clerk.session.id);

  // A fresh token says both factors were just verified; the action now goes through.
  const jwt = await clerk.session.getToken({ skipCache: true });
  assert.deepEqual(fva(jwt), [0, 0]);
  const backup = await clerk.user.createBackupCode();
  assert.ok(backup.codes.length >= 8);
});

test('every FAPI response seen in this file matches its schema in the spec', () => {
  assert.ok(recorded.length > 0, 'responses were recorded');
  assertWireFidelity(recorded);
});
