// The console in real headless Chromium (Debian's, through playwright-core)
// against a real Baton with demo data: sign-in for each role, a wrong and a
// revoked key, an advertiser's approval reaching the publisher's postback
// URL, a publisher's template edit, preview, save and test postback, and a
// publisher kept out of another's data. Screenshots of each main screen go
// to CONSOLE_ARTIFACTS (default .tmp/console-artifacts); the first load is
// measured and written to first-load.json there.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  ADMIN_KEY, ADVERTISER_KEY, PUBLISHER2_KEY, PUBLISHER_KEY, artifactsDir, chromiumPath, click, launch, rpc, signIn, startBaton, startJaeger, startReceiver,
} from "./harness.mjs";

const required = process.env.BATON_REQUIRE_BROWSER === "1";
const exe = chromiumPath();
if (!exe && required) throw new Error("BATON_REQUIRE_BROWSER=1 but no Chromium at /usr/bin/chromium (apt-get install chromium)");

describe("console", { skip: exe ? false : "no Chromium (install Debian's chromium; BATON_REQUIRE_BROWSER=1 makes this a failure)" }, () => {
  let baton, receiver, browser, context, jaeger;
  const shots = artifactsDir();
  const shot = async (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  before(async () => {
    jaeger = await startJaeger();
    baton = await startBaton(jaeger ? {
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttp, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_SERVICE_NAME: "baton-console-test",
      OTEL_BSP_SCHEDULE_DELAY: "100", BATON_JAEGER_URL: jaeger.queryUrl,
    } : {});
    receiver = await startReceiver();
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US", timezoneId: "Europe/Berlin" });
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await receiver?.close();
    await baton?.stop();
    await jaeger?.stop();
  });

  test("first load: bytes and time to interactive", async () => {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    let bytes = 0;
    let requests = 0;
    cdp.on("Network.loadingFinished", (e) => {
      bytes += e.encodedDataLength;
      requests++;
    });
    const t0 = Date.now();
    await page.goto(`${baton.url}/`);
    await page.locator('input[name="apiKey"]').waitFor({ state: "visible" });
    const interactive = Date.now() - t0;
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0];
      return { domInteractive: Math.round(n.domInteractive), loadEventEnd: Math.round(n.loadEventEnd) };
    });
    const m = { requests, bytesTransferred: bytes, signInFormInteractiveMs: interactive, ...nav };
    writeFileSync(join(shots, "first-load.json"), JSON.stringify(m, null, 2) + "\n");
    console.log(`first load: ${requests} requests, ${bytes} bytes transferred, sign-in form usable after ${interactive} ms (domInteractive ${nav.domInteractive} ms)`);
    assert.ok(bytes > 0 && bytes < 400_000, `first load is ${bytes} bytes`);
    await shot(page, "signin");
    await page.close();
  });

  test("a wrong key shows a clear message, and nothing is stored", async () => {
    const page = await context.newPage();
    await page.goto(`${baton.url}/`);
    await page.locator('input[name="apiKey"]').fill("bk_not_a_real_key_000000000000000");
    await page.locator('form button[type="submit"]').click();
    const err = page.getByTestId("signin-error");
    await err.waitFor();
    assert.match(await err.textContent(), /not valid: it is unknown or was revoked/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("baton.apiKey")), null);
    assert.ok(!page.url().includes("bk_"), "the key is never in the URL");
    await shot(page, "signin-wrong-key");
    await page.close();
  });

  test("each demo role signs in and sees its own screens", async () => {
    const cases = [
      [ADMIN_KEY, /operator \(admin\)/, ["Partners", "API keys", "Delivery queue", "Chain"]],
      [ADVERTISER_KEY, /advertiser adv_demo/, ["Conversions", "Refusals", "Tags"]],
      [PUBLISHER_KEY, /publisher pub_demo/, ["Links", "Clicks", "Postbacks", "Deliveries"]],
      [PUBLISHER2_KEY, /publisher pub_demo2/, ["Links", "Postbacks"]],
    ];
    for (const [key, who, tabs] of cases) {
      const page = await signIn(context, baton.url, key);
      assert.match(await page.getByTestId("whoami").textContent(), who);
      const names = await page.locator("nav.tabs a").allTextContents();
      for (const t of tabs) assert.ok(names.includes(t), `${who}: tab ${t} in ${names}`);
      if (key !== ADMIN_KEY) assert.ok(!names.includes("API keys"), `${who} sees no key management`);
      // The key is in this tab's session storage only, never in the URL.
      assert.equal(await page.evaluate(() => sessionStorage.getItem("baton.apiKey")), key);
      assert.equal(await page.evaluate(() => localStorage.getItem("baton.apiKey")), null);
      assert.ok(!page.url().includes(key));
      await page.close();
    }
  });

  test("an advertiser approves a conversion in the log and the publisher's postback arrives", async () => {
    await rpc(baton.url, PUBLISHER_KEY, "PostbackService/CreatePostbackEndpoint", {
      events: ["POSTBACK_EVENT_APPROVED"], method: "POSTBACK_METHOD_GET",
      urlTemplate: `${receiver.url}/approved?sid=##PARA1##&status={status}&order={order_id}&amount={amount}`,
    });
    const order = `CONSOLE-${Date.now()}`;
    for (let i = 0; i < 3; i++) {
      const clickId = await click(baton.url, `param1=media-sess-${i}`);
      await rpc(baton.url, ADVERTISER_KEY, "ConversionService/RecordConversion", { clickId, orderId: `${order}-${i}`, amountJpy: String(1980 + i * 1000) });
    }
    const page = await signIn(context, baton.url, ADVERTISER_KEY);
    await shot(page, "overview-advertiser");
    await page.locator("nav.tabs a", { hasText: "Conversions" }).click();
    const row = page.locator(`tr[data-order="${order}-0"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /¥1,980/);
    // Why this click: the explanation in words.
    await row.getByRole("button", { name: "Why" }).click();
    await page.locator(".explain .summary").waitFor();
    await page.locator(".explain h4", { hasText: "Candidate clicks" }).waitFor();
    assert.ok((await page.locator(".explain .summary").textContent()).length > 10);
    await shot(page, "conversions-advertiser");
    await row.getByRole("checkbox").check();
    await page.locator('select[name="reason"]').selectOption({ label: "valid sale" });
    await page.locator('input[name="note"]').fill("checked in the shop's order system");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByText("1 changed.").waitFor();
    await page.locator(`tr[data-order="${order}-0"] [data-status="approved"]`).waitFor();
    const got = await receiver.waitFor((r) => r.url.startsWith("/approved") && r.url.includes(`order=${order}-0`));
    assert.match(got.url, /sid=media-sess-0&status=approved/);
    assert.match(got.url, /amount=1980/);
    // Filter by status: server-side, only approved ones listed.
    await page.locator('select[name="status"]').selectOption({ label: "Approved" });
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator(`tr[data-order="${order}-1"]`).waitFor({ state: "detached" });
    await page.locator(`tr[data-order="${order}-0"]`).waitFor();
    // CSV of what is listed.
    const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: /Export CSV/ }).click()]);
    const csv = await (await dl.createReadStream()).toArray();
    const text = Buffer.concat(csv).toString("utf8");
    assert.match(text, new RegExp(`${order}-0,off_demo,pub_demo,[^,]+,APPROVED,JPY,1980,`));
    assert.ok(!text.includes(`${order}-1`));
    // The FC2 tag builder: Baton computes sh; ts is Japan time.
    await page.locator("nav.tabs a", { hasText: "Tags" }).click();
    await page.getByTestId("first-party").filter({ hasText: "shopid=100&" }).waitFor();
    await page.getByRole("button", { name: "Build" }).click();
    const tag = page.locator(".out pre.code").first();
    await tag.waitFor();
    assert.match(await tag.textContent(), /tracking_img\.php\?shopid=100&.*sh=[0-9a-f]{16,40}/);
    assert.match(await page.locator(".out p").first().textContent(), /ts \(Japan time\): \d{14}/);
    await shot(page, "tags-advertiser");
    await page.close();
  });

  test("a publisher edits a template, sees it rendered, saves, sends a test postback and sees the attempt", async () => {
    const page = await signIn(context, baton.url, PUBLISHER_KEY);
    await page.locator("nav.tabs a", { hasText: "Postbacks" }).click();
    await page.getByRole("button", { name: "New endpoint" }).click();
    const tpl = page.locator('textarea[name="url_template"]');
    // An unknown variable is refused by name, as you type.
    await tpl.fill(`${receiver.url}/test?sid={sub1}&x={clickid}`);
    await page.getByText("Unknown variables: {clickid}").waitFor();
    await page.getByTestId("preview-error").filter({ hasText: "clickid" }).waitFor();
    // Fixed: Baton renders it for the sample conversion.
    await tpl.fill(`${receiver.url}/test?sid=##PARA1##&amount=##AMOUNT##&status={status}&order={order_id}`);
    await page.getByTestId("preview-url").filter({ hasText: "sid=media-session-123&amount=1980&status=pending&order=ORDER-1" }).waitFor();
    await shot(page, "postback-editor");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText(/Signing secret \(shown once\): whsec_/).waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    const ep = page.locator("li[data-endpoint]", { hasText: "/test?sid=" });
    await ep.waitFor();
    // Edit the saved template: the preview follows.
    await ep.getByRole("button", { name: "Edit" }).click();
    await tpl.fill(`${receiver.url}/test?sid=##PARA1##&amount=##AMOUNT##&status={status}&order={order_id}&v=2`);
    await page.getByTestId("preview-url").filter({ hasText: "&v=2" }).waitFor();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved.").waitFor();
    await ep.getByRole("button", { name: "Send test postback" }).click();
    await page.getByText(/Test postback queued: delivery dlv/).waitFor();
    const got = await receiver.waitFor((r) => r.url.startsWith("/test?") && r.url.includes("v=2"));
    assert.match(got.url, /amount=1980&status=pending&order=TEST-/);
    // The delivery log shows it with its attempt.
    const dlv = page.locator('li[data-delivery][data-state="SUCCEEDED"]', { hasText: "test" }).first();
    await dlv.waitFor({ timeout: 20000 });
    await dlv.getByRole("button", { name: "Attempts" }).click();
    const attempt = dlv.locator('tr[data-attempt="1"]');
    await attempt.waitFor();
    assert.match(await attempt.textContent(), /200 SUCCESS/);
    assert.match(await attempt.textContent(), /ok from receiver/);
    await shot(page, "postbacks-publisher");
    // The integration check of the endpoint, hop by hop.
    await ep.getByRole("button", { name: "Integration check: Check" }).click();
    await ep.getByTestId("check-report").locator('li[data-hop="redirect"]').waitFor({ timeout: 30000 });
    assert.match(await ep.getByTestId("check-report").textContent(), /redirect: the test click .*\/c\/demo\?param1=batoncheck/);
    await page.locator("nav.tabs a", { hasText: "Clicks" }).click();
    await page.locator("li[data-click]").first().waitFor();
    await shot(page, "clicks-publisher");
    await page.locator("nav.tabs a", { hasText: "Links" }).click();
    await page.getByRole("button", { name: "demo" }).click();
    await page.getByLabel("param1 (sub1)").fill("media-42");
    await page.getByLabel(/Deep link/).fill("/sale/spring.html");
    assert.match(await page.getByTestId("built-link").textContent(), /\/c\/demo\?param1=media-42&jump=%2Fsale%2Fspring\.html$/);
    // For a partner system, Baton appends its click-ID macro (& here: the link has a query).
    await page.getByLabel("Partner system (clicks from)").selectOption("keitaro");
    await page.getByTestId("media-url").filter({ hasText: "subid={subid}" }).waitFor();
    assert.match(await page.getByTestId("media-url").textContent(), /\/c\/demo\?param1=media-42&jump=%2Fsale%2Fspring\.html&subid=\{subid\}$/);
    await shot(page, "links-publisher");
    await page.close();
  });

  test("a publisher cannot reach another publisher's data through the console", async () => {
    const order = `OTHER-${Date.now()}`;
    const clickId = await click(baton.url, "param1=secret-session-of-pub-demo");
    const conv = await rpc(baton.url, ADVERTISER_KEY, "ConversionService/RecordConversion", { clickId, orderId: order, amountJpy: "5000" });
    const page = await signIn(context, baton.url, PUBLISHER2_KEY);
    await page.locator("nav.tabs a", { hasText: "Conversions" }).click();
    await page.getByText("Nothing yet.").waitFor();
    assert.equal(await page.locator(`tr[data-order="${order}"]`).count(), 0);
    // Not even by asking for it.
    await page.locator('input[name="order"]').fill(order);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("Nothing yet.").waitFor();
    await page.locator("nav.tabs a", { hasText: "Clicks" }).click();
    await page.getByText("Nothing yet.").waitFor();
    await page.locator("nav.tabs a", { hasText: "Postbacks" }).click();
    await page.locator("#endpoints-title").waitFor();
    await page.locator("#deliveries-title").waitFor();
    await page.waitForTimeout(500);
    assert.equal(await page.locator("li[data-endpoint]").count(), 0, "pub_demo's endpoints are not listed");
    assert.equal(await page.locator("li[data-delivery]").count(), 0, "pub_demo's deliveries are not listed");
    await page.locator("nav.tabs a", { hasText: "Chain" }).click();
    await page.locator('input[name="id"]').fill(conv.conversion.id);
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator(".error").waitFor();
    assert.match(await page.locator(".error").textContent(), /Not allowed|Not found/);
    assert.ok(!(await page.content()).includes("secret-session-of-pub-demo"));
    await page.close();
  });

  test("an admin creates and revokes a key; the revoked key stops working", async () => {
    const page = await signIn(context, baton.url, ADMIN_KEY);
    await shot(page, "overview-admin");
    await page.locator("nav.tabs a", { hasText: "API keys" }).click();
    await page.locator('input[name="name"]').fill("console test key");
    await page.locator('select[name="role"]').selectOption({ label: "publisher" });
    await page.locator('input[name="partner"]').fill("pub_demo2");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = await page.getByTestId("new-key").textContent();
    const key = /: (\S+)$/.exec(shown)[1];
    assert.equal((await rpc(baton.url, key, "ConfigService/WhoAmI", {})).key.partnerId, "pub_demo2");
    // The key works in a second tab until it is revoked there.
    const other = await signIn(context, baton.url, key);
    page.once("dialog", (d) => d.accept());
    await page.locator('tr[data-key="console test key"]').getByRole("button", { name: "Revoke" }).click();
    await page.locator('tr[data-key="console test key"] .badge', { hasText: "revoked" }).waitFor();
    await shot(page, "keys-admin");
    await assert.rejects(rpc(baton.url, key, "ConfigService/WhoAmI", {}), (e) => e.status === 401);
    // The tab signed in with it is sent back to sign-in with the reason.
    await other.locator("nav.tabs a", { hasText: "Conversions" }).click();
    await other.getByTestId("signin-error").waitFor();
    assert.match(await other.getByTestId("signin-error").textContent(), /stopped working/);
    assert.equal(await other.evaluate(() => sessionStorage.getItem("baton.apiKey")), null);
    await other.close();
    // The operator's other screens.
    for (const [tab, name] of [["Partners", "partners-admin"], ["Delivery queue", "queue-admin"], ["Networks", "networks-admin"]]) {
      await page.locator("nav.tabs a", { hasText: tab }).click();
      await page.waitForTimeout(600);
      assert.equal(await page.locator(".error").count(), 0, `${tab} shows no error`);
      if (tab === "Delivery queue") assert.match(await page.locator('[data-stat="pending"]').textContent(), /^\d+$/);
      await shot(page, name);
    }
    const conv = (await rpc(baton.url, ADMIN_KEY, "ConversionService/ListConversions", { pageSize: 1 })).conversions[0];
    await page.locator("nav.tabs a", { hasText: "Chain" }).click();
    await page.locator('input[name="id"]').fill(conv.id);
    await page.getByRole("button", { name: "Show" }).click();
    await page.locator("h2", { hasText: "Timeline" }).waitFor();
    assert.match(await page.locator(".chain-ids").first().textContent(), /Baton: /);
    // The click's trace, drawn from Jaeger's query API through GetTrace
    // (only with a Jaeger: untraced clicks carry no trace ID).
    if (jaeger) {
      const traceSection = page.locator("section", { hasText: /^Trace: [0-9a-f]{32}/ }).first();
      await traceSection.waitFor();
      // Spans reach Jaeger in batches: ask again until they are there.
      for (let i = 0; i < 50 && (await page.locator('li[data-span="baton.click"]').count()) === 0; i++) {
        await traceSection.getByRole("button", { name: /Show spans/ }).click();
        await page.waitForTimeout(300);
      }
      assert.match(await page.locator('li[data-span="baton.click"]').first().textContent(), /baton\.click_id=/);
    }
    await shot(page, "chain-admin");
    await page.close();
  });

  test("Japanese, on a phone, every control labelled", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: "ja-JP", timezoneId: "Asia/Tokyo" });
    try {
      const page = await signIn(phone, baton.url, ADVERTISER_KEY, "ja");
      assert.match(await page.getByTestId("whoami").textContent(), /広告主 adv_demo としてログイン中/);
      await page.locator("#today").waitFor();
      await shot(page, "overview-phone-ja");
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `no sideways scrolling of the page (${width}px)`);
      await page.locator("nav.tabs a", { hasText: "成果" }).click();
      await page.locator("table.conversions").waitFor();
      // Times in Japan show JST; money as yen.
      assert.match(await page.locator("table.conversions tbody tr").first().textContent(), /JST.*￥|JST.*¥/);
      await shot(page, "conversions-phone-ja");
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("input, select, textarea, button")]
          .filter((el) => {
            const label = el.getAttribute("aria-label") || (el.labels && el.labels.length && el.labels[0].textContent.trim()) || (el.tagName === "BUTTON" && el.textContent.trim());
            return !label;
          })
          .map((el) => el.outerHTML.slice(0, 80)),
      );
      assert.deepEqual(unlabelled, []);
      await page.close();
    } finally {
      await phone.close();
    }
  });
});
