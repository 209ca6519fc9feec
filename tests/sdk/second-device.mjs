// A second device, in its own process: clerk-js keeps one Clerk instance per process (its
// resources share a static reference), so a test that needs two devices runs the other here.
// Usage: node second-device.mjs <server url> <port> revoke <identifier> <password> <session id>
import { nativeClerk, signInActive } from './harness.mjs';

const [url, port, command, identifier, password, target] = process.argv.slice(2);
const server = { url, port: Number(port) };
const { clerk } = nativeClerk(server);
await clerk.load({ standardBrowser: false, telemetry: false });
const out = {};
if (command === 'revoke') {
  await signInActive(clerk, identifier, password);
  const sessions = await clerk.user.getSessions();
  out.listed = sessions.map((s) => s.id);
  const session = sessions.find((s) => s.id === target);
  if (!session) throw new Error(`session ${target} not listed`);
  const revoked = await session.revoke();
  out.status = revoked.status;
  out.self = clerk.session.id;
} else {
  throw new Error(`unknown command ${command}`);
}
process.stdout.write(JSON.stringify(out));
process.exit(0);
