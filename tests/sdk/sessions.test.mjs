// Session lifecycle through the unmodified @clerk/clerk-js 6.40 in native mode: revocation from
// a second device, sign-out of every session, and two users on one client (multi-session).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startServer, nativeClerk, signUpActive, signInActive, exitWhenDone } from './harness.mjs';
import { recorded } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

const run = promisify(execFile);
const secondDevice = fileURLToPath(new URL('./second-device.mjs', import.meta.url));

const PASSWORD = 'correct horse battery staple';
let single;
let multi;

before(async () => {
  single = await startServer();
  multi = await startServer({ replacements: [['mode = "single"', 'mode = "multi"']] });
});

after(async () => {
  await single?.stop();
  await multi?.stop();
  exitWhenDone();
});

async function loaded(server) {
  const device = nativeClerk(server);
  await device.clerk.load({ standardBrowser: false, telemetry: false });
  return device;
}

test('a session revoked from a second device makes getToken fail and the SDK signs out', async () => {
  const email = 'revoke+clerk_test@example.com';
  const phone = await loaded(single);
  await signUpActive(phone.clerk, email, PASSWORD);
  const phoneSession = phone.clerk.session.id;
  assert.ok(await phone.clerk.session.getToken());

  // The laptop (its own process, its own clerk-js) lists the user's sessions and revokes the phone's.
  const { stdout } = await run(process.execPath, [
    secondDevice, single.url, String(single.port), 'revoke', email, PASSWORD, phoneSession,
  ]);
  const laptop = JSON.parse(stdout);
  assert.equal(laptop.listed.length, 2);
  assert.equal(laptop.status, 'revoked');

  await assert.rejects(phone.clerk.session.getToken({ skipCache: true }), (err) => err.status === 401);
  // clerk-js refetches the client after the 401 and drops the session.
  for (let i = 0; i < 50 && phone.clerk.session; i++) await new Promise((r) => setImmediate(r));
  assert.equal(phone.clerk.session, null);
  assert.equal(phone.clerk.user, null);
  const mine = await fetch(`${single.url}/v1/me/sessions/active`, { headers: {} });
  assert.equal(mine.status, 401, 'without a client there is nobody to list sessions for');
  assert.notEqual(laptop.self, phoneSession);
});

test('two users on one client, switching between them, then signing out of all', async () => {
  const { clerk } = await loaded(multi);
  const first = await signUpActive(clerk, 'first+clerk_test@example.com', PASSWORD);
  // Multi-session: a second person signs up on the same client while the first stays signed in.
  const second = await signUpActive(clerk, 'second+clerk_test@example.com', PASSWORD);
  assert.equal(clerk.client.sessions.length, 2);
  assert.equal(clerk.user.primaryEmailAddress.emailAddress, 'second+clerk_test@example.com');
  assert.equal(clerk.client.lastActiveSessionId, second.createdSessionId);

  await clerk.setActive({ session: first.createdSessionId });
  assert.equal(clerk.user.primaryEmailAddress.emailAddress, 'first+clerk_test@example.com');
  assert.equal(clerk.client.lastActiveSessionId, first.createdSessionId);
  const claims = JSON.parse(Buffer.from((await clerk.session.getToken()).split('.')[1], 'base64url'));
  assert.equal(claims.sid, first.createdSessionId);

  await clerk.signOut();
  assert.equal(clerk.session, null);
  assert.equal(clerk.client.sessions.length, 0);
});

test('every FAPI response seen in this file matches its schema in the spec', () => {
  assert.ok(recorded.length > 0, 'responses were recorded');
  assertWireFidelity(recorded);
});
