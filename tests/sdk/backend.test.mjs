// The official @clerk/backend 3.25 verifies Frontdoor's session tokens: with the PEM built
// from our JWKS (offline), and with `apiUrl` pointed at our server; `authorizedParties` checks
// `azp`; expired tokens are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { verifyToken } from '@clerk/backend';
import { startServer, nativeClerk, signUpActive, exitWhenDone, at } from './harness.mjs';
import { recorded } from './harness.mjs';
import { assertWireFidelity } from './wire.mjs';

let server;
let jwt;
let session;
let pem;

const SECRET_KEY = 'sk_test_backend0tests0secret0key000000000000';

before(async () => {
  server = await startServer({ env: { FRONTDOOR_SECRET_KEY: SECRET_KEY } });
  const { clerk, device } = nativeClerk(server);
  await clerk.load({ standardBrowser: false, telemetry: false });
  await signUpActive(clerk, 'backend+clerk_test@example.com', 'correct horse battery staple');
  jwt = await clerk.session.getToken();
  session = { id: clerk.session.id, userId: clerk.user.id, clientJwt: device.jwt };
  const jwks = await (await fetch(`${server.url}/.well-known/jwks.json`)).json();
  pem = createPublicKey({ key: jwks.keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' });
});

after(async () => {
  await server?.stop();
  exitWhenDone();
});

test('verifyToken accepts our token with the PEM from our JWKS (offline)', async () => {
  const payload = await verifyToken(jwt, { jwtKey: pem });
  assert.equal(payload.sub, session.userId);
  assert.equal(payload.sid, session.id);
  assert.equal(payload.v, 2);
});

test('verifyToken accepts our token with apiUrl at our server and the secret key; a wrong key is reported as one', async () => {
  const payload = await verifyToken(jwt, {
    secretKey: SECRET_KEY,
    apiUrl: server.url,
  });
  assert.equal(payload.sub, session.userId);
  await assert.rejects(
    verifyToken(jwt, { secretKey: 'sk_test_not0this0instances0key', apiUrl: server.url, skipJwksCache: true }),
    (e) => e.reason === 'secret-key-invalid',
  );
});

test('authorizedParties checks azp', async () => {
  const origin = 'http://localhost:5173';
  const r = await fetch(`${server.url}/v1/client/sessions/${session.id}/tokens?_is_native=1`, {
    method: 'POST',
    headers: { authorization: session.clientJwt, origin },
  });
  assert.equal(r.status, 200);
  const { jwt: withAzp } = await r.json();
  const ok = await verifyToken(withAzp, { jwtKey: pem, authorizedParties: [origin] });
  assert.equal(ok.azp, origin);
  await assert.rejects(
    verifyToken(withAzp, { jwtKey: pem, authorizedParties: ['https://elsewhere.example'] }),
    /azp|authorized/i,
  );
});

test('verifyToken refuses our token once it has expired', async () => {
  await assert.rejects(at(120_000, () => verifyToken(jwt, { jwtKey: pem })), /expired/i);
  // Within its lifetime (60 s) it is still good.
  assert.ok(await at(30_000, () => verifyToken(jwt, { jwtKey: pem })));
});

test('a token signed by another key is refused', async () => {
  const [h, p] = jwt.split('.');
  const forged = `${h}.${p}.${Buffer.from('not our signature').toString('base64url')}`;
  await assert.rejects(verifyToken(forged, { jwtKey: pem }), /signature/i);
});

test('every FAPI response seen in this file matches its schema in the spec', () => {
  assert.ok(recorded.length > 0, 'responses were recorded');
  assertWireFidelity(recorded);
});
