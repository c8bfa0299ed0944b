// The helpers on their own (no server): FC2 sh, Standard Webhooks
// verification, tracking links, errors, pagination, option checks.

import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import { Code, ConnectError } from "@connectrpc/connect";

import {
  BatonError,
  createBatonClient,
  DEFAULT_TIMEOUT_MS,
  fc2Sh,
  paginate,
  toBatonError,
  trackingLink,
  verifyWebhook,
  WebhookVerificationError,
} from "@batonhq/client";
import type { Fc2ShFields, VerifyWebhookOptions } from "@batonhq/client";
import * as web from "@batonhq/client/web";
import { ViolationsSchema } from "@batonhq/client/gen/buf/validate/validate_pb";

describe("fc2Sh", () => {
  const fields: Fc2ShFields = {
    shopid: "26",
    unique_id: "100",
    uname: "tarou",
    email: "tarou@hogehoge.com",
    amount_y: "1980",
    ts: "20060228185000",
    recurring: "0",
    item_code: "sample1",
    unit_num: "1",
  };
  const sh = "cdfa85a2c27f3bc879b5d9b7a61bac4550a51f98";

  test("matches FC2's example", async () => {
    assert.equal(await fc2Sh("secretpw", fields), sh);
  });

  test("short: the first 16 characters", async () => {
    assert.equal(await fc2Sh("secretpw", fields, { short: true }), sh.slice(0, 16));
  });

  test("numbers, booleans and a Date (formatted in Japan time) give the same sh", async () => {
    const typed: Fc2ShFields = {
      ...fields,
      shopid: 26,
      amount_y: 1980n,
      ts: new Date("2006-02-28T09:50:00Z"),
      recurring: false,
      unit_num: 1,
    };
    assert.equal(await fc2Sh("secretpw", typed), sh);
  });

  test("an omitted field counts as empty", async () => {
    assert.equal(await fc2Sh("secretpw", { ...fields, amount_d: undefined }), sh);
    assert.notEqual(await fc2Sh("secretpw", { ...fields, amount_d: "1" }), sh);
  });

  test("the same from @batonhq/client/web", async () => {
    assert.equal(await web.fc2Sh("secretpw", fields), sh);
  });
});

describe("verifyWebhook", () => {
  // The example of the Standard Webhooks specification.
  const spec = {
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: "1614265330",
    body: '{"test": 2432232314}',
    signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  };
  const specOptions = (over: Partial<VerifyWebhookOptions> = {}): VerifyWebhookOptions => ({
    secrets: [spec.secret],
    headers: { "webhook-id": spec.id, "webhook-timestamp": spec.timestamp, "webhook-signature": spec.signature },
    body: spec.body,
    now: 1614265330,
    ...over,
  });

  async function refusal(options: VerifyWebhookOptions): Promise<WebhookVerificationError> {
    return verifyWebhook(options).then(
      () => assert.fail("expected the webhook to be refused"),
      (err: unknown) => {
        assert.ok(err instanceof WebhookVerificationError, `expected a WebhookVerificationError, got ${String(err)}`);
        return err;
      },
    );
  }

  test("accepts the Standard Webhooks specification's example", async () => {
    assert.deepEqual(await verifyWebhook(specOptions()), { id: spec.id, timestamp: 1614265330 });
  });

  test("accepts it from @batonhq/client/web too", async () => {
    assert.deepEqual(await web.verifyWebhook(specOptions()), { id: spec.id, timestamp: 1614265330 });
  });

  test("takes a Headers object, Node-style headers of any case, and a byte body", async () => {
    const headers = new Headers({
      "Webhook-Id": spec.id,
      "Webhook-Timestamp": spec.timestamp,
      "Webhook-Signature": spec.signature,
    });
    await verifyWebhook(specOptions({ headers }));
    await verifyWebhook(
      specOptions({
        headers: { "Webhook-Id": [spec.id], "WEBHOOK-TIMESTAMP": spec.timestamp, "webhook-signature": spec.signature },
      }),
    );
    await verifyWebhook(specOptions({ body: new TextEncoder().encode(spec.body) }));
    await verifyWebhook(specOptions({ body: Buffer.from(spec.body) }));
    await verifyWebhook(specOptions({ now: new Date(1614265330_000 + 299_000) }));
  });

  test("accepts any matching entry and any of the secrets (rotation)", async () => {
    const other = `whsec_${randomBytes(32).toString("base64")}`;
    await verifyWebhook(
      specOptions({
        secrets: [other, spec.secret],
        headers: {
          "webhook-id": spec.id,
          "webhook-timestamp": spec.timestamp,
          "webhook-signature": `v1a,c2lnbmF0dXJl v1,bm90LWl0 ${spec.signature} v1,!!!`,
        },
      }),
    );
  });

  test("refuses a changed body, ID or timestamp", async () => {
    assert.equal((await refusal(specOptions({ body: '{"test": 2432232315}' }))).reason, "invalid_signature");
    assert.equal((await refusal(specOptions({ body: '{"test":2432232314}' }))).reason, "invalid_signature");
    const headers = { "webhook-id": "msg_other", "webhook-timestamp": spec.timestamp, "webhook-signature": spec.signature };
    assert.equal((await refusal(specOptions({ headers }))).reason, "invalid_signature");
    const later = { ...headers, "webhook-id": spec.id, "webhook-timestamp": "1614265331" };
    assert.equal((await refusal(specOptions({ headers: later }))).reason, "invalid_signature");
  });

  test("refuses the wrong secret, and signatures of other versions only", async () => {
    const other = `whsec_${randomBytes(32).toString("base64")}`;
    assert.equal((await refusal(specOptions({ secrets: [other] }))).reason, "invalid_signature");
    const headers = {
      "webhook-id": spec.id,
      "webhook-timestamp": spec.timestamp,
      "webhook-signature": spec.signature.replace("v1,", "v2,"),
    };
    assert.equal((await refusal(specOptions({ headers }))).reason, "invalid_signature");
  });

  test("refuses stale and future timestamps (default tolerance 300 s)", async () => {
    assert.equal((await refusal(specOptions({ now: 1614265330 + 301 }))).reason, "timestamp_too_old");
    assert.equal((await refusal(specOptions({ now: 1614265330 - 301 }))).reason, "timestamp_too_new");
    assert.equal((await refusal(specOptions({ now: 1614265330 + 61, toleranceSec: 60 }))).reason, "timestamp_too_old");
    // Without `now`, the clock: the example is from 2021.
    assert.equal((await refusal(specOptions({ now: undefined }))).reason, "timestamp_too_old");
  });

  test("refuses missing headers and malformed timestamps", async () => {
    const { "webhook-signature": _, ...noSignature } = specOptions().headers as Record<string, string>;
    assert.equal((await refusal(specOptions({ headers: noSignature }))).reason, "missing_header");
    for (const stamp of ["", "1614265330.5", "-1614265330", "01614265330", " 1614265330", "abc"]) {
      const headers = { "webhook-id": spec.id, "webhook-timestamp": stamp, "webhook-signature": spec.signature };
      const { reason } = await refusal(specOptions({ headers }));
      assert.ok(reason === "invalid_timestamp" || reason === "missing_header", `${JSON.stringify(stamp)}: ${reason}`);
    }
  });

  test("a malformed secret is a TypeError, and does not appear in the message", async () => {
    await assert.rejects(verifyWebhook(specOptions({ secrets: [] })), TypeError);
    await assert.rejects(verifyWebhook(specOptions({ secrets: ["whsec_not base64!"] })), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.ok(!err.message.includes("not base64!"), err.message);
      return true;
    });
  });

  test("agrees with an HMAC computed by node:crypto, at the current time", async () => {
    const key = randomBytes(32);
    const secret = `whsec_${key.toString("base64")}`;
    const id = "dlv_test";
    const timestamp = `${Math.floor(Date.now() / 1000)}`;
    const body = JSON.stringify({ type: "conversion.pending", data: { order_id: "注文-1" } });
    const signature = `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
    const result = await verifyWebhook({
      secrets: [secret],
      headers: { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signature },
      body,
    });
    assert.deepEqual(result, { id, timestamp: Number(timestamp) });
  });
});

describe("trackingLink", () => {
  test("the bare link", () => {
    assert.equal(trackingLink("https://track.example.com", "Ab3dE5"), "https://track.example.com/c/Ab3dE5");
    assert.equal(trackingLink("https://track.example.com/", "Ab3dE5", {}), "https://track.example.com/c/Ab3dE5");
    assert.equal(trackingLink("https://example.com/baton//", "x"), "https://example.com/baton/c/x");
  });

  test("sub1..sub5 as param1..param5, URL-encoded, and the deep link as jump", () => {
    assert.equal(
      trackingLink("https://t.example", "L1", { sub1: "a b&c=d", sub3: "日本", deepLink: "https://shop.example.com/p?x=1#y" }),
      "https://t.example/c/L1?param1=a%20b%26c%3Dd&param3=%E6%97%A5%E6%9C%AC&jump=https%3A%2F%2Fshop.example.com%2Fp%3Fx%3D1%23y",
    );
  });

  test("params by name", () => {
    assert.equal(
      trackingLink("https://t.example", "L1", { sub1: "s1", params: { aff_sub: "x/y", n: 5 } }),
      "https://t.example/c/L1?param1=s1&aff_sub=x%2Fy&n=5",
    );
  });

  test("a link ID is required", () => {
    assert.throws(() => trackingLink("https://t.example", ""), TypeError);
  });
});

describe("BatonError", () => {
  test("toBatonError keeps the code name, message and buf.validate violations", () => {
    const ce = new ConnectError("validation error", Code.InvalidArgument, undefined, [
      {
        desc: ViolationsSchema,
        value: {
          violations: [
            {
              field: { elements: [{ fieldName: "payout" }, { fieldName: "percent_bps" }] },
              ruleId: "uint32.lte",
              message: "value must be less than or equal to 10000",
            },
            { ruleId: "record_conversion.one_amount", message: "exactly one amount" },
          ],
        },
      },
    ]);
    const err = toBatonError(ce);
    assert.ok(err instanceof BatonError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, "BatonError");
    assert.equal(err.code, "invalid_argument");
    assert.equal(err.rawMessage, "validation error");
    assert.equal(err.message, "[invalid_argument] validation error");
    assert.equal(err.cause, ce);
    assert.deepEqual(err.violations, [
      { field: "payout.percent_bps", ruleId: "uint32.lte", message: "value must be less than or equal to 10000" },
      { field: "", ruleId: "record_conversion.one_amount", message: "exactly one amount" },
    ]);
    assert.equal(toBatonError(err), err);
  });

  test("other errors", () => {
    assert.equal(toBatonError(new Error("boom")).code, "unknown");
    assert.equal(toBatonError(new ConnectError("no", Code.Unauthenticated)).code, "unauthenticated");
    assert.equal(toBatonError(new DOMException("stop", "AbortError")).code, "canceled");
    assert.equal(new BatonError("not_found", "").message, "[not_found]");
  });
});

describe("paginate", () => {
  test("follows nextPageToken and stops on an empty one", async () => {
    const pages: Record<string, { items: number[]; nextPageToken: string }> = {
      "": { items: [1, 2], nextPageToken: "b" },
      b: { items: [], nextPageToken: "c" },
      c: { items: [3], nextPageToken: "" },
    };
    const seen: { pageToken: string | undefined; filter: string }[] = [];
    const list = async (req: { pageToken?: string; filter: string }) => {
      seen.push({ pageToken: req.pageToken, filter: req.filter });
      return pages[req.pageToken ?? ""]!;
    };
    const items: number[] = [];
    for await (const item of paginate(list, { filter: "f" }, "items")) {
      items.push(item);
    }
    assert.deepEqual(items, [1, 2, 3]);
    assert.deepEqual(seen, [
      { pageToken: "", filter: "f" },
      { pageToken: "b", filter: "f" },
      { pageToken: "c", filter: "f" },
    ]);
  });

  test("fetches lazily: break stops early; maxPages caps", async () => {
    let calls = 0;
    const list = async (req: { pageToken?: string }) => {
      calls++;
      return { things: [Number(req.pageToken || 0)], nextPageToken: String(Number(req.pageToken || 0) + 1) };
    };
    for await (const n of paginate(list, {}, "things")) {
      if (n === 2) break;
    }
    assert.equal(calls, 3);
    const capped: number[] = [];
    for await (const n of paginate(list, {}, "things", { maxPages: 4 })) capped.push(n);
    assert.deepEqual(capped, [0, 1, 2, 3]);
  });
});

describe("createBatonClient", () => {
  test("checks its options", () => {
    assert.throws(() => createBatonClient({ baseUrl: "http://127.0.0.1:1", apiKey: "" }), TypeError);
    assert.throws(() => createBatonClient({ baseUrl: "127.0.0.1:1", apiKey: "k" }), TypeError);
    assert.throws(() => createBatonClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", timeoutMs: 0 }), TypeError);
    assert.throws(
      () => createBatonClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", protocol: "soap" as "connect" }),
      TypeError,
    );
    assert.throws(
      () => createBatonClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", protocol: "grpc", fetch: globalThis.fetch }),
      /HTTP\/2/,
    );
    assert.equal(DEFAULT_TIMEOUT_MS, 10_000);
  });

  test("the web entry has no gRPC", () => {
    assert.throws(
      () => web.createBatonClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", protocol: "grpc" as "grpc-web" }),
      /grpc-web/,
    );
  });

  test("sends the API key as a bearer token, and the default deadline", async () => {
    const seen: { auth: string | null; timeout: string | null }[] = [];
    const fakeFetch: typeof globalThis.fetch = async (_input, init) => {
      const headers = new Headers(init?.headers);
      seen.push({ auth: headers.get("authorization"), timeout: headers.get("connect-timeout-ms") });
      return new Response(JSON.stringify({ code: "unauthenticated", message: "nope" }), {
        status: 401,
        headers: { "Content-Type": "application/json" },
      });
    };
    for (const baton of [
      createBatonClient({ baseUrl: "http://baton.invalid", apiKey: "bk_x", fetch: fakeFetch }),
      web.createBatonClient({ baseUrl: "http://baton.invalid", apiKey: "bk_x", fetch: fakeFetch }),
    ]) {
      const err = await baton.config.whoAmI({}).then(
        () => assert.fail("expected unauthenticated"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BatonError);
      assert.equal(err.code, "unauthenticated");
      assert.equal(err.rawMessage, "nope");
    }
    assert.deepEqual(seen, [
      { auth: "Bearer bk_x", timeout: "10000" },
      { auth: "Bearer bk_x", timeout: "10000" },
    ]);
  });
});
