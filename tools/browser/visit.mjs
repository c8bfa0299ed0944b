// visit.mjs drives Debian's Chromium (headless, through playwright-core;
// never a downloaded browser) for Baton's Go browser tests: it opens one URL,
// lets the pages navigate on their own until a page's title starts with the
// given prefix, and prints one JSON document of what a person's browser did:
// every request to Baton's tracking paths with the Cookie header it carried,
// console errors, page errors, the cookies and localStorage it kept.
//
//   node visit.mjs plan.json
//
// plan.json: {"chromium": "/usr/bin/chromium", "hostRules": "MAP baton.test 127.0.0.1, ...",
//   "blockThirdPartyCookies": true, "spki": ["<base64 SHA-256 of a trusted key>"],
//   "start": "http://media.test:1234/", "until": "done", "timeoutMs": 30000,
//   "screenshot": "/path/to.png", "storageOrigin": "http://shop.test:4321"}
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const args = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-proxy-server',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions'];
if (plan.hostRules) args.push('--host-resolver-rules=' + plan.hostRules);
if (plan.spki && plan.spki.length) args.push('--ignore-certificate-errors-spki-list=' + plan.spki.join(','));
// A regular profile, not an incognito context (playwright's newContext):
// Chromium blocks third-party cookies in incognito by default, and the
// tests choose. Blocking is the profile's own setting (Settings > Privacy >
// Third-party cookies: "Block"), as Safari and Firefox do by default.
const profile = mkdtempSync(join(tmpdir(), 'baton-browser-'));
mkdirSync(join(profile, 'Default'));
writeFileSync(join(profile, 'Default', 'Preferences'),
  JSON.stringify({ profile: { cookie_controls_mode: plan.blockThirdPartyCookies ? 1 : 0, block_third_party_cookies: !!plan.blockThirdPartyCookies } }));

const out = { requests: [], consoleErrors: [], pageErrors: [], titles: [], cookies: [], storage: {}, finalURL: '', title: '' };
const context = await chromium.launchPersistentContext(profile, { executablePath: plan.chromium || '/usr/bin/chromium', headless: true, args });
try {
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') out.consoleErrors.push(m.text() + ' @ ' + page.url());
  });
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  const tracked = /\/(tracking\/tracking_img\.php|t\.js|t\/c\/|c\/)/;
  context.on('requestfinished', async (req) => {
    if (!tracked.test(new URL(req.url()).pathname)) return;
    const headers = await req.allHeaders().catch(() => ({}));
    const res = await req.response().catch(() => null);
    out.requests.push({ url: req.url(), cookie: headers.cookie || '', status: res ? res.status() : 0 });
  });
  context.on('requestfailed', (req) => {
    if (tracked.test(new URL(req.url()).pathname)) out.requests.push({ url: req.url(), cookie: '', status: 0, failure: req.failure()?.errorText || '' });
  });
  await page.goto(plan.start);
  const deadline = Date.now() + (plan.timeoutMs || 30000);
  for (;;) {
    const title = await page.title().catch(() => '');
    if (out.titles[out.titles.length - 1] !== title) out.titles.push(title);
    if (title.startsWith(plan.until)) break;
    if (Date.now() > deadline) {
      out.timedOut = true;
      break;
    }
    await page.waitForTimeout(50);
  }
  // Requests the last page started (the tag's copy) are given a moment.
  await page.waitForLoadState('networkidle').catch(() => {});
  out.finalURL = page.url();
  out.title = await page.title().catch(() => '');
  out.cookies = await context.cookies();
  if (plan.storageOrigin && page.url().startsWith(plan.storageOrigin)) {
    out.storage = await page.evaluate(() => Object.fromEntries(Object.entries(window.localStorage))).catch(() => ({}));
  }
  if (plan.screenshot) await page.screenshot({ path: plan.screenshot, fullPage: true }).catch(() => {});
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(out) + '\n');
