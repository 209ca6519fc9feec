// Webhooks as a Clerk app receives them: a receiver that checks every message with the
// unchanged `verifyWebhook` of `@clerk/backend/webhooks` (Standard Webhooks / Svix signatures),
// events of clerk-js and Backend API changes, a receiver that fails twice and then gets the
// event exactly once more after back-off, and a server restarted mid-delivery losing nothing.
// (The back-off schedule itself, under an injected clock, is in tests/tests/webhooks.rs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { verifyWebhook } from '@clerk/backend/webhooks';
import { createClerkClient } from '@clerk/backend';
import { startServer, nativeClerk, signUpActive, exitWhenDone, freePort } from './harness.mjs';

const SIGNING_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET_KEY = 'sk_test_webhooks0tests0secret0key000000000000';
const PASSWORD = 'correct horse battery staple';

// The receiver: every request checked with verifyWebhook; a per-email script of answers for
// user.created ('fail' → 500, 'hang' → no answer), 200 otherwise.
const attempts = []; // { id, type, at, ok }
const verified = new Map(); // svix-id → event, for messages answered 2xx
const scripts = new Map(); // email → ['fail', 'fail', …]
const waiters = [];
let receiver;
let receiverPort;

function emailOf(event) {
  return event.data?.email_addresses?.[0]?.email_address;
}

function settle() {
  for (const w of [...waiters]) {
    if (w.check()) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  }
}

// Resolves once `check()` holds (checked on every request the receiver gets).
function until(check, what) {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 30_000);
    waiters.push({ check, resolve: () => (clearTimeout(timer), resolve()) });
  });
}

async function startReceiver() {
  receiverPort = await freePort();
  receiver = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: 'POST',
      headers: req.headers,
      body: Buffer.concat(chunks),
    });
    let event;
    try {
      event = await verifyWebhook(request, { signingSecret: SIGNING_SECRET });
    } catch (e) {
      attempts.push({ id: req.headers['svix-id'], type: 'unverified', at: Date.now(), ok: false, error: String(e) });
      res.writeHead(400).end();
      settle();
      return;
    }
    const id = req.headers['svix-id'];
    const script = event.type === 'user.created' ? scripts.get(emailOf(event)) : undefined;
    const answer = script?.shift() ?? 'ok';
    attempts.push({ id, type: event.type, email: emailOf(event), at: Date.now(), ok: answer === 'ok' });
    if (answer === 'hang') {
      settle();
      return; // never answered: the server is stopped meanwhile
    }
    if (answer === 'fail') {
      res.writeHead(500).end();
    } else {
      verified.set(id, event);
      res.writeHead(204).end();
    }
    settle();
  });
  await new Promise((ok) => receiver.listen(receiverPort, '127.0.0.1', ok));
}

const webhookSettings = () => [
  [
    '[rate_limits]',
    `[webhooks]\nfirst_retry_ms = 300\nmax_attempts = 5\n\n[[webhooks.endpoints]]\nname = "app"\nurl = "http://127.0.0.1:${receiverPort}/hooks"\nsecret_env = "TEST_WEBHOOK_SECRET"\n\n[rate_limits]`,
  ],
];

let server;
let clerkClient;

async function start(dataDir) {
  server = await startServer({
    replacements: webhookSettings(),
    env: { TEST_WEBHOOK_SECRET: SIGNING_SECRET, FRONTDOOR_SECRET_KEY: SECRET_KEY },
    dataDir,
  });
  clerkClient = createClerkClient({ secretKey: SECRET_KEY, apiUrl: server.url });
}

before(async () => {
  await startReceiver();
  await start();
});

after(async () => {
  await server?.stop();
  receiver?.closeAllConnections();
  receiver?.close();
  exitWhenDone();
});

const delivered = (type, pred = () => true) => [...verified.values()].filter((e) => e.type === type && pred(e));

test('clerk-js and Backend API changes arrive as events verifyWebhook accepts', async () => {
  const { clerk } = nativeClerk(server);
  await clerk.load({ standardBrowser: false, telemetry: false });
  await signUpActive(clerk, 'hooks+clerk_test@example.com', PASSWORD);
  const userId = clerk.user.id;
  const sessionId = clerk.session.id;
  await clerk.user.update({ firstName: 'Hooked' });
  await clerk.signOut();
  await until(() => delivered('user.created', (e) => e.data.id === userId).length === 1
    && delivered('session.created', (e) => e.data.id === sessionId).length === 1
    && delivered('user.updated', (e) => e.data.first_name === 'Hooked').length === 1
    && delivered('session.ended', (e) => e.data.id === sessionId).length
      + delivered('session.removed', (e) => e.data.id === sessionId).length === 1, 'the sign-up events');
  const created = delivered('user.created', (e) => e.data.id === userId)[0];
  assert.equal(created.object, 'event');
  assert.match(created.instance_id, /^ins_/);
  assert.equal(typeof created.timestamp, 'number');
  assert.equal(created.data.object, 'user');
  assert.equal(created.data.email_addresses[0].email_address, 'hooks+clerk_test@example.com');
  assert.equal(delivered('session.created', (e) => e.data.id === sessionId)[0].data.user_id, userId);

  await clerkClient.users.deleteUser(userId);
  await until(() => delivered('user.deleted', (e) => e.data.id === userId).length === 1, 'user.deleted');
  assert.deepEqual(delivered('user.deleted', (e) => e.data.id === userId)[0].data, { object: 'user', id: userId, deleted: true });
  assert.ok(attempts.every((a) => a.type !== 'unverified'), JSON.stringify(attempts.filter((a) => a.type === 'unverified')));
});

test('a receiver that fails twice then succeeds gets the event exactly once more after back-off', async () => {
  scripts.set('flaky@example.com', ['fail', 'fail']);
  await clerkClient.users.createUser({ emailAddress: ['flaky@example.com'], skipPasswordRequirement: true });
  await until(() => delivered('user.created', (e) => emailOf(e) === 'flaky@example.com').length === 1, 'the flaky delivery');
  // A later event, delivered after it: nothing of the first is still on its way.
  await clerkClient.users.createUser({ emailAddress: ['sentinel@example.com'], skipPasswordRequirement: true });
  await until(() => delivered('user.created', (e) => emailOf(e) === 'sentinel@example.com').length === 1, 'the sentinel');
  const tries = attempts.filter((a) => a.email === 'flaky@example.com');
  assert.deepEqual(tries.map((a) => a.ok), [false, false, true]);
  assert.ok(tries.every((a) => a.id === tries[0].id), 'one svix-id on every attempt');
  // Back-off: 300 ms after the first failure, five times that after the second.
  assert.ok(tries[1].at - tries[0].at >= 300, `${tries[1].at - tries[0].at} ms`);
  assert.ok(tries[2].at - tries[1].at >= 1500, `${tries[2].at - tries[1].at} ms`);
});

test('a server restarted mid-delivery loses no event', async () => {
  scripts.set('restart@example.com', ['hang']);
  await clerkClient.users.createUser({ emailAddress: ['restart@example.com'], skipPasswordRequirement: true });
  await until(() => attempts.some((a) => a.email === 'restart@example.com'), 'the delivery in flight');
  const { dataDir } = server;
  await server.stop();
  await start(dataDir);
  await until(() => delivered('user.created', (e) => emailOf(e) === 'restart@example.com').length === 1, 'the delivery after the restart');
  const tries = attempts.filter((a) => a.email === 'restart@example.com');
  assert.equal(tries.length, 2);
  assert.equal(tries[0].id, tries[1].id);
});
