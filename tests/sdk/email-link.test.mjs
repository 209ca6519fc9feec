// Email links through the unmodified @clerk/clerk-js in native mode: the SDK's own email-link
// flows (they poll the attempt every second) complete once the link read from the development
// outbox is opened elsewhere; a link opened twice says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, nativeClerk, signUpActive, outboxCode, exitWhenDone, recorded } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

const PASSWORD = 'correct horse battery staple';
let server;

before(async () => {
  server = await startServer({
    replacements: [
      ['first_factors = ["email_code"]', 'first_factors = ["email_code", "email_link"]'],
      ['verifications = ["email_code"]', 'verifications = ["email_code", "email_link"]'],
    ],
  });
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

// The link the outbox holds for `to` once it arrives (the flow sends it while it starts polling).
async function mailedLink(to) {
  for (let i = 0; i < 200; i++) {
    const link = outboxCode(server, to);
    if (link?.includes('/v1/verify?token=')) return link;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no link for ${to}`);
}

// Another browser opens the link: where it is sent, and the parameters clerk-js reads there.
async function openElsewhere(link) {
  const res = await fetch(link, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const location = new URL(res.headers.get('location'));
  return {
    page: `${location.origin}${location.pathname}`,
    status: location.searchParams.get('__clerk_status'),
    session: location.searchParams.get('__clerk_created_session'),
  };
}

test('sign-in: the email-link flow completes when the link is opened on another device', async () => {
  const email = 'link.signin+clerk_test@example.com';
  const owner = await loaded();
  await signUpActive(owner.clerk, email, PASSWORD);
  const userId = owner.clerk.user.id;

  const { clerk } = await loaded();
  const signIn = await clerk.client.signIn.create({ identifier: email });
  const factor = signIn.supportedFirstFactors.find((f) => f.strategy === 'email_link');
  assert.ok(factor?.emailAddressId, 'email_link is offered with the address it goes to');
  const { startEmailLinkFlow } = signIn.createEmailLinkFlow();
  const flow = startEmailLinkFlow({ emailAddressId: factor.emailAddressId, redirectUrl: `${server.url}/verify` });
  const link = await mailedLink(email);
  const opened = await openElsewhere(link);
  assert.equal(opened.page, `${server.url}/verify`);
  assert.equal(opened.status, 'verified');
  assert.match(opened.session ?? '', /^sess_/);

  const done = await flow;
  assert.equal(done.firstFactorVerification.status, 'verified');
  assert.equal(done.status, 'complete');
  assert.equal(done.createdSessionId, opened.session);
  await clerk.setActive({ session: done.createdSessionId });
  assert.equal(clerk.user.id, userId);

  // Opened again: used once.
  const again = await openElsewhere(link);
  assert.deepEqual([again.status, again.session], ['failed', null]);
});

test('sign-up: the email-link flow verifies the address and creates the user', async () => {
  const email = 'link.signup+clerk_test@example.com';
  const { clerk } = await loaded();
  const signUp = await clerk.client.signUp.create({ emailAddress: email, password: PASSWORD });
  const { startEmailLinkFlow } = signUp.createEmailLinkFlow();
  const flow = startEmailLinkFlow({ redirectUrl: `${server.url}/verify` });
  const opened = await openElsewhere(await mailedLink(email));
  assert.equal(opened.status, 'verified');
  const done = await flow;
  assert.equal(done.verifications.emailAddress.status, 'verified');
  assert.equal(done.status, 'complete');
  await clerk.setActive({ session: done.createdSessionId });
  assert.equal(clerk.user.primaryEmailAddress.emailAddress, email);
  assert.equal(clerk.user.primaryEmailAddress.verification.status, 'verified');
});

test('a link that is not one is refused with a Clerk error', async () => {
  const res = await fetch(`${server.url}/v1/verify?token=forged`, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).errors[0].code, 'verification_failed');
});

test('every response matches the spec', () => {
  assert.ok(recorded.length > 0);
  assertWireFidelity(recorded);
});
