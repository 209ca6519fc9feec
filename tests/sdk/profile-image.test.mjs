// Profile images in a real browser: Clerk's prebuilt UserProfile on the demo page uploads an
// avatar, which the page then shows from Frontdoor; files that are not what they say, or too
// large, are refused with Clerk errors through clerk-js's own call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import { startServer, launchBrowser, exitWhenDone } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  exitWhenDone();
});

// A real 16×16 PNG (every pixel orange), so the browser can decode and draw it.
function png() {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(16, 0);
  ihdr.writeUInt32BE(16, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(16 * 3, Buffer.from([255, 140, 0]))]);
  const pixels = deflateSync(Buffer.concat(Array(16).fill(row)));
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'),
    chunk('IHDR', ihdr),
    chunk('tEXt', Buffer.from('Comment\0taken at home')),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('UserProfile uploads an avatar and shows it; SVGs, disguised and huge files are refused', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.__frontdoorDemoReady, null, { timeout: 20_000 });
    await page.evaluate(async ([email, password]) => {
      const c = window.Clerk;
      const su = await c.client.signUp.create({ emailAddress: email, password });
      await su.prepareEmailAddressVerification({ strategy: 'email_code' });
      const done = await c.client.signUp.attemptEmailAddressVerification({ code: '424242' });
      await c.setActive({ session: done.createdSessionId });
    }, ['avatar+clerk_test@example.com', PASSWORD]);

    await page.getByRole('button', { name: /Update profile/i }).click();
    // Choosing the file uploads it (the component saves the image at once).
    await page.locator('input[type="file"]').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png() });
    await page.waitForFunction(() => window.Clerk.user?.hasImage, null, { timeout: 20_000 });
    const url = await page.evaluate(() => window.Clerk.user.imageUrl);
    assert.ok(url.startsWith(`${server.url}/v1/images/`), url);
    // The page shows it: an <img> with that source, decoded by the browser.
    await page.waitForFunction(
      (src) => [...document.images].some((i) => i.src === src && i.complete && i.naturalWidth === 16),
      url,
      { timeout: 20_000 },
    );
    const served = await fetch(url);
    assert.equal(served.headers.get('content-type'), 'image/png');
    assert.ok(!Buffer.from(await served.arrayBuffer()).includes('taken at home'), 'metadata stripped');

    // clerk-js's own upload call with what must be refused.
    const refusals = await page.evaluate(async () => {
      const attempt = async (blob) => {
        try {
          await window.Clerk.user.setProfileImage({ file: blob });
          return 'accepted';
        } catch (e) {
          return `${e.status} ${e.errors?.[0]?.code}`;
        }
      };
      const svg = new Blob(['<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'], { type: 'image/svg+xml' });
      const disguised = new Blob(['<html><script>alert(1)</script></html>'], { type: 'image/png' });
      const huge = new Blob([new Uint8Array(20 * 1024 * 1024)], { type: 'image/png' });
      return [await attempt(svg), await attempt(disguised), await attempt(huge)];
    });
    assert.deepEqual(refusals, ['422 form_param_value_invalid', '422 form_param_value_invalid', '413 image_too_large']);
    assert.equal(await page.evaluate(() => window.Clerk.user.imageUrl), url, 'the avatar stayed');
  } catch (e) {
    await page.screenshot({ path: join(tmpdir(), 'frontdoor-profile-image.png') }).catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
});
