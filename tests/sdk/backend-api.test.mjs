// The official @clerk/backend 3.25 client (`createClerkClient({ apiUrl, secretKey })`) managing a
// user through Frontdoor's Backend API: metadata (deep merge; private metadata never reaches
// clerk-js), lock, sessions (listed, revoked: clerk-js loses its session), the client token,
// deletion, creation with an imported bcrypt digest, the user list (each filter, pages) and count,
// email addresses and phone numbers by id, ban (the user's own clerk-js loses its session and cannot sign in again
// until unbanned), second factors off, the password check. Results arrive as the SDK's typed
// objects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClerkClient } from '@clerk/backend';
import { startServer, nativeClerk, signUpActive, exitWhenDone, recorded } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

const SECRET_KEY = 'sk_test_backend0api0tests0secret0key00000000';
const PASSWORD = 'correct horse battery staple';
const EMAIL = 'operator+clerk_test@example.com';

let server;
let clerk;
let clerkClient;
let userId;
let device;

before(async () => {
  server = await startServer({ env: { FRONTDOOR_SECRET_KEY: SECRET_KEY } });
  ({ clerk, device } = nativeClerk(server));
  await clerk.load({ standardBrowser: false, telemetry: false });
  await signUpActive(clerk, EMAIL, PASSWORD);
  userId = clerk.user.id;
  clerkClient = createClerkClient({ secretKey: SECRET_KEY, apiUrl: server.url });
});

after(async () => {
  await server?.stop();
  exitWhenDone();
});

test('updateUserMetadata deep-merges, and private metadata stays on the server', async () => {
  await clerkClient.users.updateUserMetadata(userId, {
    publicMetadata: { plan: 'pro', limits: { seats: 5, projects: 3 } },
    privateMetadata: { stripeCustomer: 'cus_123' },
  });
  const user = await clerkClient.users.updateUserMetadata(userId, {
    publicMetadata: { limits: { seats: 10, projects: null } },
  });
  assert.deepEqual(user.publicMetadata, { plan: 'pro', limits: { seats: 10 } });
  assert.deepEqual(user.privateMetadata, { stripeCustomer: 'cus_123' });
  assert.equal(user.primaryEmailAddress?.emailAddress, EMAIL);
  await clerk.user.reload();
  assert.deepEqual(clerk.user.publicMetadata, { plan: 'pro', limits: { seats: 10 } });
  assert.equal(clerk.user.privateMetadata, undefined);
  assert.ok(!JSON.stringify(recorded.filter((r) => !new URL(r.url).pathname.startsWith('/v1/users'))).includes('cus_123'));
});

test('verifyPassword answers verified for the right password and a Clerk error otherwise', async () => {
  assert.deepEqual(await clerkClient.users.verifyPassword({ userId, password: PASSWORD }), { verified: true });
  await assert.rejects(clerkClient.users.verifyPassword({ userId, password: 'not the password' }), (e) => e.status === 422);
});

test('lockUser and unlockUser', async () => {
  assert.equal((await clerkClient.users.lockUser(userId)).locked, true);
  assert.equal((await clerkClient.users.unlockUser(userId)).locked, false);
});

test('disableUserMFA', async () => {
  assert.deepEqual(await clerkClient.users.disableUserMFA(userId), { user_id: userId });
});

test("getSessionList and getSession show the user's session; revokeSession ends it for clerk-js", async () => {
  const { data, totalCount } = await clerkClient.sessions.getSessionList({ userId, status: 'active' });
  assert.equal(totalCount, 1);
  assert.equal(data[0].id, clerk.session.id);
  assert.equal(data[0].userId, userId);
  assert.equal((await clerkClient.sessions.getSession(clerk.session.id)).status, 'active');
  const revoked = await clerkClient.sessions.revokeSession(clerk.session.id);
  assert.equal(revoked.status, 'revoked');
  // The user's next token refresh on the Frontend API is a 401.
  await assert.rejects(clerk.session.getToken({ skipCache: true }), (e) => e.status === 401, 'a 401');
  await clerk.signOut();
  const signIn = await clerk.client.signIn.create({ identifier: EMAIL, password: PASSWORD });
  await clerk.setActive({ session: signIn.createdSessionId });
});

test("banUser ends the user's session in clerk-js and blocks sign-in until unbanUser", async () => {
  const banned = await clerkClient.users.banUser(userId);
  assert.equal(banned.banned, true);
  await assert.rejects(clerk.session.getToken({ skipCache: true }));
  await clerk.signOut();
  await assert.rejects(clerk.client.signIn.create({ identifier: EMAIL, password: PASSWORD }), (e) => e.errors?.[0]?.code === 'user_banned');
  assert.equal((await clerkClient.users.unbanUser(userId)).banned, false);
  const signIn = await clerk.client.signIn.create({ identifier: EMAIL, password: PASSWORD });
  assert.equal(signIn.status, 'complete');
  await clerk.setActive({ session: signIn.createdSessionId });
});

test('verifyClient knows the client by its token; deleteUser removes the user and its session', async () => {
  const client = await clerkClient.clients.verifyClient(device.jwt);
  assert.equal(client.id, clerk.client.id);
  assert.ok(client.sessionIds.includes(clerk.session.id));
  const deleted = await clerkClient.users.deleteUser(userId);
  assert.equal(deleted.deleted, true);
  await assert.rejects(clerkClient.users.getUser(userId), (e) => e.status === 404);
  await assert.rejects(clerk.session.getToken({ skipCache: true }));
});

// A password digest as another system exported it (bcrypt, cost 10, of PASSWORD).
const LEGACY_DIGEST = '$2b$10$RZNBtiBA.q6KA1nGpPHA1.DlUsGbU/NGpTU9Hn7brUXSBB0Uq554i';

test('createUser with a bcrypt digest: clerk-js signs in with the old password; updateUser', async () => {
  const created = await clerkClient.users.createUser({
    emailAddress: ['legacy.user@example.com'],
    passwordDigest: LEGACY_DIGEST,
    passwordHasher: 'bcrypt',
    firstName: 'Legacy',
    externalId: 'legacy-7',
  });
  assert.equal(created.firstName, 'Legacy');
  assert.equal(created.externalId, 'legacy-7');
  assert.equal(created.passwordEnabled, true);
  assert.equal(created.primaryEmailAddress?.verification?.status, 'verified');
  await clerk.signOut();
  const signIn = await clerk.client.signIn.create({ identifier: 'legacy.user@example.com', password: PASSWORD });
  assert.equal(signIn.status, 'complete');
  await clerk.setActive({ session: signIn.createdSessionId });
  assert.equal(clerk.user.id, created.id);
  // The digest was replaced by an argon2id hash at that sign-in (tests/tests/backend_api.rs
  // checks the stored hash); the password still verifies.
  assert.deepEqual(await clerkClient.users.verifyPassword({ userId: created.id, password: PASSWORD }), { verified: true });
  // updateUser: the signed-in clerk-js sees the new name on its next reload.
  const renamed = await clerkClient.users.updateUser(created.id, { firstName: 'Renamed', username: 'legacy_user' });
  assert.equal(renamed.firstName, 'Renamed');
  assert.equal(renamed.username, 'legacy_user');
  await clerk.user.reload();
  assert.equal(clerk.user.firstName, 'Renamed');
});

test('getUserList with each filter and pagination, getCount, as typed users', async () => {
  const made = [];
  for (let i = 0; i < 5; i++) {
    made.push(await clerkClient.users.createUser({
      emailAddress: [`dir${i}@example.com`],
      phoneNumber: [`+1202555${String(300 + i).padStart(4, '0')}`],
      username: `dir_user_${i}`,
      firstName: i % 2 ? 'Odd' : 'Even',
      externalId: `dir-ext-${i}`,
      skipPasswordRequirement: true,
    }));
  }
  const ids = (list) => list.map((u) => u.id).sort();
  const pick = (...is) => is.map((i) => made[i].id).sort();
  const list = async (params, want) => {
    const { data, totalCount } = await clerkClient.users.getUserList(params);
    assert.deepEqual(ids(data), want, JSON.stringify(params));
    assert.equal(totalCount, want.length, JSON.stringify(params));
    assert.equal(await clerkClient.users.getCount(params), want.length, JSON.stringify(params));
  };
  await list({ emailAddress: ['dir1@example.com', 'DIR3@example.com'] }, pick(1, 3));
  await list({ phoneNumber: ['+12025550302'] }, pick(2));
  await list({ username: ['dir_user_4'] }, pick(4));
  await list({ externalId: ['dir-ext-0', 'dir-ext-2'] }, pick(0, 2));
  await list({ userId: [made[1].id, made[4].id] }, pick(1, 4));
  await list({ query: 'dir_user' }, pick(0, 1, 2, 3, 4));
  await list({ query: 'odd', emailAddress: ['dir1@example.com', 'dir2@example.com'] }, pick(1));
  // Pagination over the newest users, in creation order either way.
  const page1 = await clerkClient.users.getUserList({ limit: 2, orderBy: '-created_at' });
  const page2 = await clerkClient.users.getUserList({ limit: 2, offset: 2, orderBy: '-created_at' });
  assert.deepEqual([...page1.data, ...page2.data].map((u) => u.id), made.slice(1).reverse().map((u) => u.id));
  assert.ok(page1.totalCount >= 5);
  assert.equal(page1.data[0].firstName, 'Even');
  assert.equal(page1.data[0].externalId, 'dir-ext-4');
  assert.equal(page1.data[0].primaryEmailAddress?.emailAddress, 'dir4@example.com');
});

test('emailAddresses and phoneNumbers: create, get, update, delete', async () => {
  const { data: [owner] } = await clerkClient.users.getUserList({ username: ['dir_user_0'] });
  const added = await clerkClient.emailAddresses.createEmailAddress({ userId: owner.id, emailAddress: 'dir0.work@example.com' });
  assert.equal(added.emailAddress, 'dir0.work@example.com');
  assert.equal(added.verification, null);
  assert.equal((await clerkClient.emailAddresses.getEmailAddress(added.id)).id, added.id);
  const verified = await clerkClient.emailAddresses.updateEmailAddress(added.id, { verified: true, primary: true });
  assert.equal(verified.verification?.status, 'verified');
  const user = await clerkClient.users.getUser(owner.id);
  assert.equal(user.primaryEmailAddress?.emailAddress, 'dir0.work@example.com');
  const { data: found } = await clerkClient.users.getUserList({ emailAddress: ['dir0.work@example.com'] });
  assert.deepEqual(found.map((u) => u.id), [owner.id]);
  const deleted = await clerkClient.emailAddresses.deleteEmailAddress(added.id);
  assert.equal(deleted.id, added.id);
  assert.equal(deleted.deleted, true);
  await assert.rejects(clerkClient.emailAddresses.getEmailAddress(added.id), (e) => e.status === 404);

  const phone = await clerkClient.phoneNumbers.createPhoneNumber({ userId: owner.id, phoneNumber: '+12025550399', verified: true });
  assert.equal(phone.phoneNumber, '+12025550399');
  assert.equal(phone.verification?.status, 'verified');
  const reserved = await clerkClient.phoneNumbers.updatePhoneNumber(phone.id, { reservedForSecondFactor: true });
  assert.equal(reserved.reservedForSecondFactor, true);
  assert.equal((await clerkClient.users.getUser(owner.id)).twoFactorEnabled, true);
  assert.equal((await clerkClient.phoneNumbers.deletePhoneNumber(phone.id)).deleted, true);
});

test("what this Backend API does not serve answers Clerk's 404, never a 500", async () => {
  const calls = [
    () => clerkClient.organizations.getOrganizationList(),
    () => clerkClient.invitations.getInvitationList(),
    () => clerkClient.allowlistIdentifiers.getAllowlistIdentifierList(),
    () => clerkClient.emailAddresses.getEmailAddress('idn_unknown'),
    () => clerkClient.redirectUrls.getRedirectUrlList(),
    () => clerkClient.users.getUserOauthAccessToken(userId, 'google'),
  ];
  for (const call of calls) {
    await assert.rejects(call(), (e) => e.status === 404 && e.errors?.[0]?.code === 'resource_not_found', String(call));
  }
});

test('every Frontend API response seen here matches its schema in the spec', () => {
  assertWireFidelity(recorded);
});
