// Moving off Clerk: the operator's `frontdoor import` reads a Clerk Dashboard CSV export of
// 1,000 users (bcrypt password digests) into the running server's store, and again without
// changing anything; an imported user then signs in with the old password through the
// unchanged clerk-js and leaves with an argon2id hash. (Row by row outcomes and refusals are in
// tests/tests/import.rs; the command's other subcommands in cli/tests/cli.rs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, nativeClerk, exitWhenDone, frontdoorCli } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
// bcrypt, cost 10, of PASSWORD: what Clerk's export carries for a password user.
const DIGEST = '$2b$10$RZNBtiBA.q6KA1nGpPHA1.DlUsGbU/NGpTU9Hn7brUXSBB0Uq554i';
const USERS = 1000;

let server;
let exportFile;
const idOf = (i) => `user_2imp${String(i).padStart(4, '0')}xyzXYZ`;

before(async () => {
  server = await startServer();
  const header = 'id,first_name,last_name,username,primary_email_address,primary_phone_number,verified_email_addresses,unverified_email_addresses,verified_phone_numbers,unverified_phone_numbers,totp_secret,password_digest,password_hasher';
  const rows = [header];
  for (let i = 0; i < USERS; i++) {
    rows.push(`${idOf(i)},First${i},Last${i},,person${i}@example.com,,person${i}@example.com,,,,,${DIGEST},bcrypt`);
  }
  exportFile = join(server.dataDir, 'clerk-export.csv');
  writeFileSync(exportFile, rows.join('\n') + '\n');
});

after(async () => {
  await server?.stop();
  exitWhenDone();
});

test(`frontdoor import brings ${USERS} users from a Clerk CSV export, and a re-run changes nothing`, async (t) => {
  const first = await frontdoorCli(server, ['--json', 'import', exportFile]);
  assert.equal(first.status, 0, first.stderr);
  const report = JSON.parse(first.stdout);
  assert.equal(report.created, USERS);
  assert.deepEqual(report.refused, []);
  // The time is reported, not asserted (a benchmark is not a test).
  t.diagnostic(`imported ${USERS} users in ${report.elapsed_ms} ms`);
  assert.match(first.stderr, /imported 500\/1000 rows/, 'progress on stderr');

  const again = JSON.parse((await frontdoorCli(server, ['--json', 'import', exportFile])).stdout);
  assert.equal(again.created, 0);
  assert.equal(again.already_imported, USERS);
  const list = JSON.parse((await frontdoorCli(server, ['--json', 'users', 'list', '--limit', '1'])).stdout);
  assert.equal(list.total_count, USERS);
});

test('an imported bcrypt user signs in through clerk-js with the old password and ends up with argon2id', async () => {
  const id = idOf(500);
  const before = JSON.parse((await frontdoorCli(server, ['--json', 'users', 'show', id])).stdout);
  assert.equal(before.password_hasher, 'bcrypt');
  const { clerk } = nativeClerk(server);
  await clerk.load({ standardBrowser: false, telemetry: false });
  const signIn = await clerk.client.signIn.create({ identifier: 'person500@example.com', password: PASSWORD });
  assert.equal(signIn.status, 'complete');
  await clerk.setActive({ session: signIn.createdSessionId });
  assert.equal(clerk.user.id, id, 'the Clerk user id is kept');
  assert.equal(clerk.user.firstName, 'First500');
  const after = JSON.parse((await frontdoorCli(server, ['--json', 'users', 'show', id])).stdout);
  assert.equal(after.password_hasher, 'argon2id');
});
