// The unmodified @clerk/clerk-js 6.40 loads against Frontdoor in native mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, nativeClerk, exitWhenDone } from './harness.mjs';
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

test('the installed clerk-js is 6.40.0, unmodified', () => {
  const pkg = JSON.parse(
    readFileSync(new URL('./node_modules/@clerk/clerk-js/package.json', import.meta.url), 'utf8'),
  );
  assert.equal(pkg.version, '6.40.0');
});

test('clerk.load() succeeds in native mode', async () => {
  const { clerk, device } = nativeClerk(server);
  await clerk.load({ standardBrowser: false, telemetry: false });
  assert.equal(clerk.loaded, true);
  assert.ok(device.requests.includes('GET /v1/environment'), device.requests.join(', '));
  assert.ok(device.requests.includes('GET /v1/client'), device.requests.join(', '));
  // No client exists yet: the SDK holds an empty one and nobody is signed in.
  assert.equal(clerk.user, null);
  assert.equal(clerk.session, null);
  // The environment the SDK parsed is ours.
  assert.equal(clerk.__internal_environment?.displayConfig?.applicationName, 'Frontdoor');
  assert.equal(clerk.__internal_environment?.authConfig?.singleSessionMode, true);
});

test('a client created on the server is the one the SDK loads', async () => {
  const { clerk, device } = nativeClerk(server);
  const created = await fetch(`${server.url}/v1/client?_is_native=1`, { method: 'POST' });
  assert.equal(created.status, 200);
  device.jwt = created.headers.get('authorization');
  const body = await created.json();
  await clerk.load({ standardBrowser: false, telemetry: false });
  assert.equal(clerk.client?.id, body.client.id);
});

test('every FAPI response seen in this file matches its schema in the spec', () => {
  assert.ok(recorded.length > 0, 'responses were recorded');
  assertWireFidelity(recorded);
});
