// The official @clerk/backend 3.25 `authenticateRequest` (what every server-rendered framework's
// middleware runs) against Frontdoor's handshake, one case per handshake reason: the first visit
// in development, an expired session token, a `__client_uat` newer than the token, a client that
// is signed out. Each handshake is followed to Frontdoor and its answer handed back to
// @clerk/backend, which must verify it and come out signed in (or signed out). A forged or
// another instance's handshake token must be refused, and a foreign redirect_url never leaves
// Frontdoor.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createSign } from 'node:crypto';
import { createClerkClient } from '@clerk/backend';
import { getCookieSuffix } from '@clerk/shared/keys';
import { startServer, settingsFile, nativeClerk, signUpActive, publishableKey, exitWhenDone, recorded, at } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

const SECRET_KEY = 'sk_test_handshake0tests0secret0key0000000000';
const PK = publishableKey('frontdoor-handshake.clerk.accounts.dev');
const APP = 'http://localhost:4100';

let server;
let other;
let clerkClient;
let signedIn;
let suffix;

async function frontdoor(extra = {}) {
  return startServer({
    settings: settingsFile([], null),
    env: { FRONTDOOR_SECRET_KEY: SECRET_KEY, FRONTDOOR_PUBLISHABLE_KEY: PK, ...extra },
  });
}

before(async () => {
  suffix = await getCookieSuffix(PK);
  server = await frontdoor();
  other = await frontdoor();
  clerkClient = createClerkClient({ secretKey: SECRET_KEY, apiUrl: server.url, publishableKey: PK, proxyUrl: server.url });
  const { clerk, device } = nativeClerk(server);
  await clerk.load({ standardBrowser: false, telemetry: false });
  await signUpActive(clerk, 'handshake+clerk_test@example.com', 'correct horse battery staple');
  const token = await clerk.session.getToken();
  const client = await (await fetch(`${server.url}/v1/client?_is_native=1`, { headers: { authorization: device.jwt } })).json();
  // A native client token and a development browser token are the same kind of token.
  signedIn = { userId: clerk.user.id, devBrowser: device.jwt, token, uat: Math.floor(client.response.updated_at / 1000) };
});

after(async () => {
  await server?.stop();
  await other?.stop();
  exitWhenDone();
});

// A page load as a browser sends it to the app, with each cookie also under its suffixed name,
// as clerk-js writes them (@clerk/backend reads the suffixed ones when the token's issuer is not
// the key's host, as here: the key names a Clerk development host, the server is on loopback).
function page(url, cookies = {}) {
  const all = Object.entries(cookies).flatMap(([k, v]) => [[k, v], [`${k}_${suffix}`, v]]);
  const cookie = all.map(([k, v]) => `${k}=${v}`).join('; ');
  return new Request(url, { headers: { accept: 'text/html', 'sec-fetch-dest': 'document', cookie } });
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

// Follows a handshake redirect to Frontdoor and returns where Frontdoor sends the browser back.
async function followHandshake(location) {
  assert.ok(location.startsWith(`${server.url}/v1/client/handshake?`), location);
  const r = await fetch(location, { redirect: 'manual' });
  assert.equal(r.status, 307);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const back = r.headers.get('location');
  assert.ok(back.startsWith(APP), back);
  return back;
}

// The cookies an answer sets, by name.
function setCookies(headers) {
  return Object.fromEntries(headers.getSetCookie().map((c) => c.split(';')[0].split(/=(.*)/s).slice(0, 2)));
}

test('first visit in development: dev-browser-missing → a handshake that brings a development browser', async () => {
  const first = await clerkClient.authenticateRequest(page(`${APP}/dashboard`));
  assert.equal(first.status, 'handshake');
  assert.equal(first.reason, 'dev-browser-missing');
  const back = await followHandshake(first.headers.get('location'));
  assert.ok(new URL(back).searchParams.get('__clerk_handshake'), 'development: the token travels in the URL');
  const resolved = await clerkClient.authenticateRequest(page(back));
  assert.equal(resolved.status, 'signed-out');
  const set = setCookies(resolved.headers);
  assert.ok(set.__clerk_db_jwt, 'the app now holds a development browser');
  assert.equal(set.__client_uat, '0');
  assert.equal(resolved.headers.get('location'), `${APP}/dashboard`, 'the handshake is stripped from the URL');
  // With that development browser the next request is decided without a handshake.
  const next = await clerkClient.authenticateRequest(page(`${APP}/dashboard`, { __clerk_db_jwt: set.__clerk_db_jwt, __client_uat: '0' }));
  assert.equal(next.status, 'signed-out');
  assert.equal(next.reason, 'session-token-and-uat-missing');
});

test('signed in: the session token in the cookie is accepted as it is', async () => {
  const cookies = { __clerk_db_jwt: signedIn.devBrowser, __session: signedIn.token, __client_uat: String(signedIn.uat) };
  const r = await clerkClient.authenticateRequest(page(`${APP}/dashboard`, cookies));
  assert.equal(r.status, 'signed-in', r.reason);
  assert.equal(r.toAuth().userId, signedIn.userId);
});

async function handshakeFor(reason, cookies, offsetMs = 0) {
  const first = await at(offsetMs, () => clerkClient.authenticateRequest(page(`${APP}/dashboard`, cookies)));
  assert.equal(first.status, 'handshake');
  assert.ok(first.reason.startsWith(reason), `${first.reason} is ${reason}`);
  const back = await followHandshake(first.headers.get('location'));
  const resolved = await at(offsetMs, () => clerkClient.authenticateRequest(page(back, { __clerk_db_jwt: signedIn.devBrowser })));
  return { first, resolved, set: setCookies(resolved.headers) };
}

test('an expired session token: session-token-expired → a fresh token, still signed in', async () => {
  const { exp } = claims(signedIn.token);
  // The app server's clock, past the token's expiry and @clerk/backend's 5 s leeway.
  const offset = exp * 1000 - Date.now() + 10_000;
  const cookies = { __clerk_db_jwt: signedIn.devBrowser, __session: signedIn.token, __client_uat: String(signedIn.uat) };
  const expired = await at(offset, () => clerkClient.authenticateRequest(page(`${APP}/dashboard`, cookies)));
  assert.equal(expired.status, 'handshake');
  assert.match(expired.reason, /^session-token-expired/);
  const back = await followHandshake(expired.headers.get('location'));
  const resolved = await clerkClient.authenticateRequest(page(back, { __clerk_db_jwt: signedIn.devBrowser }));
  assert.equal(resolved.status, 'signed-in', resolved.message);
  assert.equal(resolved.toAuth().userId, signedIn.userId);
  const set = setCookies(resolved.headers);
  assert.notEqual(set.__session, signedIn.token, 'a new token');
  assert.equal(claims(set.__session).azp, APP);
});

test('__client_uat newer than the token: session-token-iat-before-client-uat → signed in with a newer token', async () => {
  const { iat } = claims(signedIn.token);
  const cookies = { __clerk_db_jwt: signedIn.devBrowser, __session: signedIn.token, __client_uat: String(iat + 1) };
  const { resolved, set } = await handshakeFor('session-token-iat-before-client-uat', cookies);
  assert.equal(resolved.status, 'signed-in', resolved.message);
  assert.ok(claims(set.__session).iat >= Number(set.__client_uat), 'the new token is not older than the client');
});

test('signed out elsewhere: client-uat-but-no-session-token → signed out, cookies cleared', async () => {
  // A second browser signs up and then signs out: its __client_uat still says signed in.
  const r = await fetch(`${server.url}/v1/dev_browser`, { method: 'POST' });
  const devBrowser = (await r.json()).id;
  const first = await clerkClient.authenticateRequest(page(`${APP}/dashboard`, { __clerk_db_jwt: devBrowser, __client_uat: '1700000000' }));
  assert.equal(first.status, 'handshake');
  assert.equal(first.reason, 'client-uat-but-no-session-token');
  const back = await followHandshake(first.headers.get('location'));
  const resolved = await clerkClient.authenticateRequest(page(back, { __clerk_db_jwt: devBrowser }));
  assert.equal(resolved.status, 'signed-out');
  const set = setCookies(resolved.headers);
  assert.equal(set.__client_uat, '0');
  assert.equal(set.__session, '');
});

test("a forged handshake token, or another instance's, is refused by @clerk/backend", async () => {
  // Signed with a key Frontdoor never published, under Frontdoor's own kid.
  const jwks = await (await fetch(`${server.url}/v1/jwks`)).json();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const forgedSession = signedIn.token;
  const unsigned = `${enc({ alg: 'RS256', kid: jwks.keys[0].kid, typ: 'JWT' })}.${enc({ handshake: [`__session=${forgedSession}; Path=/`] })}`;
  const forged = `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url')}`;
  await assert.rejects(
    clerkClient.authenticateRequest(page(`${APP}/dashboard?__clerk_handshake=${forged}`, { __clerk_db_jwt: signedIn.devBrowser })),
    /signature/i,
  );
  // A genuine handshake answer, from another Frontdoor instance.
  const r = await fetch(`${other.url}/v1/client/handshake?redirect_url=${encodeURIComponent(`${APP}/x`)}`, { redirect: 'manual' });
  const foreign = new URL(r.headers.get('location')).searchParams.get('__clerk_handshake');
  assert.ok(foreign);
  await assert.rejects(
    clerkClient.authenticateRequest(page(`${APP}/dashboard?__clerk_handshake=${foreign}`, { __clerk_db_jwt: signedIn.devBrowser })),
  );
});

test('a redirect_url on a foreign origin never leaves Frontdoor', async () => {
  const r = await fetch(`${server.url}/v1/client/handshake?redirect_url=${encodeURIComponent('https://evil.test/')}&__clerk_db_jwt=${signedIn.devBrowser}`, {
    redirect: 'manual',
  });
  assert.equal(r.status, 422);
  assert.equal(r.headers.get('location'), null);
  assert.equal((await r.json()).errors[0].code, 'invalid_redirect_url');
});

test('the app server reads the user with its secret key; a wrong key gets a 401', async () => {
  const user = await clerkClient.users.getUser(signedIn.userId);
  assert.equal(user.id, signedIn.userId);
  assert.equal(user.primaryEmailAddress?.emailAddress, 'handshake+clerk_test@example.com');
  const stranger = createClerkClient({ secretKey: 'sk_test_wrong', apiUrl: server.url });
  await assert.rejects(stranger.users.getUser(signedIn.userId), (e) => e.status === 401 && e.errors?.[0]?.code === 'clerk_key_invalid');
});

test('every Frontdoor response seen here matches its schema in the spec', () => {
  assert.ok(recorded.length > 5);
  assertWireFidelity(recorded);
});
