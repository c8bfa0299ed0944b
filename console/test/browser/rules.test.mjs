// The rules editor in real headless Chromium against a real Baton (its own
// process and fresh database, demo data): an admin opens Rules, sees
// Baton's field-path error for an impossible condition, tries a valid set
// that rejects sales above 20,000 yen in a dry run over seeded conversions
// and sees the expected counts and rows, saves it (version 1, the rule's
// versions read-only), and a conversion recorded through the API afterwards
// is rejected by the rule while a small one is still recorded. An
// advertiser sees its own rule set. Every wait is on visible text.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { ADMIN_KEY, ADVERTISER_KEY, artifactsDir, chromiumPath, click, launch, rpc, signIn, startBaton } from "./harness.mjs";

const required = process.env.BATON_REQUIRE_BROWSER === "1";
const exe = chromiumPath();
if (!exe && required) throw new Error("BATON_REQUIRE_BROWSER=1 but no Chromium at /usr/bin/chromium (apt-get install chromium)");

describe("console rules", { skip: exe ? false : "no Chromium (install Debian's chromium; BATON_REQUIRE_BROWSER=1 makes this a failure)" }, () => {
  let baton, browser, context;
  const shots = artifactsDir();
  const shot = async (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const order = `RULES-${Date.now()}`;
  const amounts = [1980, 15000, 20000, 20001, 48000];
  const big = amounts.filter((a) => a > 20000);

  before(async () => {
    baton = await startBaton();
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", timezoneId: "Asia/Tokyo" });
    for (const [i, a] of amounts.entries()) {
      const clickId = await click(baton.url, `param1=rules-${i}`);
      await rpc(baton.url, ADVERTISER_KEY, "ConversionService/RecordConversion", { clickId, orderId: `${order}-${a}`, amountJpy: String(a) });
    }
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await baton?.stop();
  });

  test("an admin edits, dry-runs and saves the network's rules; the API then obeys them", async () => {
    // The dry run judges every advertiser's latest conversions: count them
    // as the API sees them (demo data may hold some of its own).
    const all = (await rpc(baton.url, ADMIN_KEY, "ConversionService/ListConversions", { pageSize: 100, includeTest: true })).conversions ?? [];
    const bigAll = all.filter((c) => c.amount?.currencyCode === "JPY" && Number(c.amount.amountMinor) > 20000).length;
    assert.ok(all.length < 100 && bigAll >= big.length, `${all.length} conversions, ${bigAll} above 20,000 yen`);

    const page = await signIn(context, baton.url, ADMIN_KEY);
    await page.locator("nav.tabs a", { hasText: "Rules" }).click();
    await page.getByTestId("rule-set-version").filter({ hasText: "The network's rule set · version 0" }).waitFor();
    await page.getByText("No rules: every conversion is recorded as without rules.").waitFor();
    const editor = page.locator('textarea[name="rules_json"]');

    // An impossible condition: Baton names it by its path, shown next to the editor.
    await editor.fill(JSON.stringify({ rules: [{ name: "broken", conditions: { any: [{ amount: { currency: "JPY", min: 5, max: 4 } }] }, action: { type: "reject", reason: "x" } }] }));
    await page.getByRole("button", { name: "Dry run" }).click();
    await page.getByTestId("rules-error-path").filter({ hasText: "rules[0].conditions.any[0].amount.min" }).waitFor();
    assert.match(await page.getByTestId("rules-error").textContent(), /min 5 is above max 4: the range is empty/);
    assert.equal(await editor.getAttribute("aria-invalid"), "true");
    // Saving it is refused the same way, and nothing is saved.
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByTestId("rules-error-path").filter({ hasText: "rules[0].conditions.any[0].amount.min" }).waitFor();
    assert.equal((await rpc(baton.url, ADMIN_KEY, "RuleService/ListRules", {})).ruleSet.version ?? 0, 0);
    await shot(page, "rules-error-admin");

    // A valid set: reject sales above 20,000 yen. The dry run counts them
    // and lists each with what happened and what would.
    await editor.fill(JSON.stringify({ rules: [{ name: "no big sales", conditions: { amount: { currency: "JPY", min: 20001 } }, action: { type: "reject", reason: "sale above 20,000 yen" } }] }));
    await page.getByRole("button", { name: "Pretty-print" }).click();
    assert.match(await editor.inputValue(), /\n {2}"rules": \[\n/);
    await page.getByRole("button", { name: "Dry run" }).click();
    const counts = page.getByTestId("dry-run-counts");
    await counts.locator('[data-count="total"]').filter({ hasText: String(all.length) }).waitFor();
    assert.equal(await counts.locator('[data-count="reject"]').textContent(), String(bigAll));
    assert.equal(await counts.locator('[data-count="changed"]').textContent(), String(bigAll));
    assert.equal(await counts.locator('[data-count="no_rule"]').textContent(), String(all.length - bigAll));
    for (const a of big) {
      const row = page.locator(`[data-testid="dry-run-changes"] tr[data-order="${order}-${a}"]`);
      await row.waitFor();
      const text = await row.textContent();
      assert.match(text, /no rule/);
      assert.match(text, /reject · no big sales/);
      assert.match(text, /conditions\.amount/);
      assert.match(text, /→ not stored/);
    }
    for (const a of amounts.filter((x) => x <= 20000)) {
      assert.equal(await page.locator(`tr[data-order="${order}-${a}"]`).count(), 0, `${a} yen is not changed`);
    }
    await shot(page, "rules-dry-run-admin");

    // Save: version 1, the rule in force with its own version history.
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved: the rule set is now version 1.").waitFor();
    await page.getByTestId("rule-set-version").filter({ hasText: "version 1" }).waitFor();
    const rule = page.locator('[data-testid="rules-in-force"] tr[data-rule="no big sales"]');
    await rule.waitFor();
    assert.match(await rule.textContent(), /network-wide.*reject.*v1/);
    await rule.getByRole("button", { name: "Versions" }).click();
    await page.getByTestId("rule-versions").filter({ hasText: "v1" }).waitFor();
    assert.match(await page.getByTestId("rule-versions").textContent(), /"min": 20001/);
    // The editor now holds the saved set with the rule's id.
    assert.match(await editor.inputValue(), /"id": "/);
    await shot(page, "rules-saved-admin");

    // The API obeys the saved rule: a big sale is refused by it, a small one recorded.
    const c1 = await click(baton.url, "param1=rules-after");
    await assert.rejects(
      rpc(baton.url, ADVERTISER_KEY, "ConversionService/RecordConversion", { clickId: c1, orderId: `${order}-after-big`, amountJpy: "30000" }),
      (e) => e.status === 400 && /sale above 20,000 yen/.test(JSON.stringify(e.body)),
    );
    const c2 = await click(baton.url, "param1=rules-after-small");
    const ok = await rpc(baton.url, ADVERTISER_KEY, "ConversionService/RecordConversion", { clickId: c2, orderId: `${order}-after-small`, amountJpy: "5000" });
    assert.ok(ok.conversion.id);
    const listed = (await rpc(baton.url, ADMIN_KEY, "ConversionService/ListConversions", { orderId: `${order}-after-big` })).conversions ?? [];
    assert.equal(listed.length, 0, "the rejected conversion is not stored");
    await page.close();
  });

  test("an advertiser sees and edits only its own rule set", async () => {
    const page = await signIn(context, baton.url, ADVERTISER_KEY);
    await page.locator("nav.tabs a", { hasText: "Rules" }).click();
    await page.getByTestId("rule-set-version").filter({ hasText: "advertiser adv_demo · version 0" }).waitFor();
    assert.equal(await page.locator('input[name="advertiser"]').count(), 0, "no choice of another advertiser's set");
    await page.locator('textarea[name="rules_json"]').fill(JSON.stringify({ rules: [{ name: "hold fast ones", conditions: { click_to_conversion: { max: "15s" } }, action: { type: "hold", hold_days: 7 } }] }));
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved: the rule set is now version 1.").waitFor();
    const rule = page.locator('[data-testid="rules-in-force"] tr[data-rule="hold fast ones"]');
    await rule.waitFor();
    assert.match(await rule.textContent(), /Advertiser adv_demo.*hold/);
    await shot(page, "rules-advertiser");
    await page.close();
  });
});
