// Measures the console against a running Baton (node test/measure.mjs URL
// KEY): the first load (bytes on the wire, time until the sign-in form is
// usable), then, signed in, how long the overview and the conversion log
// take to show and how many bytes each screen downloads. Used for the
// figures with 100,000 conversions in the log (see the README).
import { chromium } from "playwright-core";

const [base, key] = process.argv.slice(2);
if (!base || !key) {
  console.error("usage: node test/measure.mjs http://127.0.0.1:8080 API_KEY");
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
const cdp = await page.context().newCDPSession(page);
await cdp.send("Network.enable");
await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
let bytes = 0;
let calls = [];
const urls = new Map();
cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, e.request.url));
cdp.on("Network.loadingFinished", (e) => {
  bytes += e.encodedDataLength;
  calls.push([urls.get(e.requestId)?.replace(base, ""), e.encodedDataLength]);
});
const measure = async (name, action, ready) => {
  bytes = 0;
  calls = [];
  const t0 = Date.now();
  await action();
  await ready();
  const ms = Date.now() - t0;
  await page.waitForTimeout(300);
  console.log(`${name}: ${ms} ms, ${bytes} bytes in ${calls.length} responses (${calls.map(([u, n]) => `${u} ${n}`).join(", ")})`);
};
await measure("first load", () => page.goto(`${base}/`), () => page.locator('input[name="apiKey"]').waitFor());
await measure("sign-in and overview", async () => {
  await page.locator('input[name="apiKey"]').fill(key);
  await page.locator('form button[type="submit"]').click();
}, () => page.locator("#today").waitFor());
await measure("conversion log, first page", () => page.locator("nav.tabs a", { hasText: "Conversions" }).click(), () => page.locator("table.conversions tbody tr").first().waitFor());
const rows = await page.locator("table.conversions tbody tr").count();
console.log(`rows on the page: ${rows}`);
await measure("next page", () => page.getByRole("button", { name: /Next page/ }).click(), () => page.getByText("Page 2").waitFor());
await measure("filter by order ID", async () => {
  await page.locator('input[name="order"]').fill("LOAD-54321");
  await page.getByRole("button", { name: "Apply" }).click();
}, () => page.locator('tr[data-order="LOAD-54321"]').waitFor());
await measure("filter by status approved", async () => {
  await page.locator('input[name="order"]').fill("");
  await page.locator('select[name="status"]').selectOption({ label: "Approved" });
  await page.getByRole("button", { name: "Apply" }).click();
}, () => page.waitForResponse((r) => r.url().includes("ListConversions")));
await browser.close();
