// The README's example is examples/readme.ts, byte for byte, and it works:
// this runs it against a running Baton and calls its webhook handler.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { PostbackEvent, PostbackMethod } from "@batonhq/client";

import {
  advertiser,
  baseUrl,
  createOfferAndLink,
  DEMO_ADVERTISER_KEY,
  DEMO_PUBLISHER,
  eventually,
  newClick,
  publisher,
  startReceiver,
} from "./helpers.js";

// Compiled to test-dist/tests/; the sources sit next to test-dist/.
const exampleSource = fileURLToPath(new URL("../../examples/readme.ts", import.meta.url));
// The README as the installed package ships it.
const readme = join(dirname(fileURLToPath(import.meta.resolve("@batonhq/client/package.json"))), "README.md");

const MARKER = "<!-- The example below is examples/readme.ts; tests/readme.test.ts checks and runs it. -->\n```ts\n";

test("README.md's example is examples/readme.ts, byte for byte", () => {
  const text = readFileSync(readme);
  const start = text.indexOf(MARKER);
  assert.ok(start >= 0, `${readme} has no example block after the marker`);
  const from = start + Buffer.byteLength(MARKER);
  const end = text.indexOf("```\n", from);
  assert.ok(end > from, "the example block is not closed");
  const block = text.subarray(from, end);
  const file = readFileSync(exampleSource);
  assert.ok(block.equals(file), `README block and ${exampleSource} differ:\n--- README\n${block}\n--- file\n${file}`);
});

test("the README example records a conversion, lists its postbacks and checks a signature", async (t) => {
  const { offer, link } = await createOfferAndLink();
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const { endpoint, secret } = await publisher.postbacks.createPostbackEndpoint({
    offerId: offer.id,
    events: [PostbackEvent.PENDING],
    method: PostbackMethod.GET,
    urlTemplate: `http://127.0.0.1:${receiver.port}/pb?o={order_id}`,
  });
  assert.ok(endpoint);
  t.after(() => publisher.postbacks.deletePostbackEndpoint({ id: endpoint.id }).then(() => undefined));
  const clickId = await newClick(link);

  // What the example reads.
  process.env.BATON_URL = baseUrl;
  process.env.BATON_API_KEY = DEMO_ADVERTISER_KEY;
  process.env.CLICK_ID = clickId;
  process.env.WEBHOOK_SECRET = secret;

  const log = t.mock.method(console, "log", () => {});
  const example = (await import("../examples/readme.js")) as { onPostback(req: Request): Promise<Response> };
  log.mock.restore();

  // It recorded a conversion for the click...
  const { conversions } = await advertiser.conversions.listConversions({ clickId });
  assert.equal(conversions.length, 1, "the example should have recorded exactly one conversion for the click");
  const conversion = conversions[0]!;
  assert.equal(conversion.publisherId, DEMO_PUBLISHER);
  assert.equal(conversion.amount?.amountMinor, 1980n);
  // ...printed it with the postbacks it found...
  assert.equal(log.mock.callCount(), 1);
  const line = String(log.mock.calls[0]!.arguments[0]);
  assert.match(line, new RegExp(`^conversion ${conversion.id} for ${DEMO_PUBLISHER}: \\d+ postback\\(s\\)$`));
  // ...and those postbacks exist.
  const delivery = await eventually("the conversion's delivery", async () => {
    const { deliveries } = await advertiser.postbacks.listDeliveries({ conversionId: conversion.id });
    return deliveries[0];
  });
  assert.equal(delivery.endpointId, endpoint.id);

  // Its webhook handler accepts a correctly signed postback (signed here with
  // node:crypto, independently of the package) and refuses anything else.
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const signed = (body: string, id = delivery.id, timestamp = Math.floor(Date.now() / 1000)) => {
    const mac = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
    return { "webhook-id": id, "webhook-timestamp": `${timestamp}`, "webhook-signature": `v1,${mac}` };
  };
  const body = JSON.stringify({ type: "conversion.pending", data: { order_id: conversion.orderId } });
  const post = (headers: Record<string, string>, payload: string) =>
    example.onPostback(new Request("http://publisher.example/postback", { method: "POST", headers, body: payload }));

  const ok = await post(signed(body), body);
  assert.equal(ok.status, 200, await ok.text());
  const tampered = await post(signed(body), body.replace("pending", "approved"));
  assert.equal(tampered.status, 401);
  const stale = await post(signed(body, delivery.id, Math.floor(Date.now() / 1000) - 3600), body);
  assert.equal(stale.status, 401);
  const unsigned = await post({}, body);
  assert.equal(unsigned.status, 401);
});
