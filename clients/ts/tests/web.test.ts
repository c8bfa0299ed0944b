// The browser entry, @batonhq/client/web (fetch), against a running Baton,
// from Node: Node 20 has fetch and WebCrypto like a browser.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

import * as node from "@batonhq/client";
import { BatonError, createBatonClient, PublisherKind, Role } from "@batonhq/client/web";
import type { WebProtocol } from "@batonhq/client/web";

import { adminKey, baseUrl } from "./helpers.js";

const protocols: WebProtocol[] = ["connect", "connect-binary", "grpc-web"];

for (const protocol of protocols) {
  test(`web ${protocol}: WhoAmI, a wrong key, a validation error`, async () => {
    const baton = createBatonClient({ baseUrl, apiKey: adminKey, protocol });
    const { key } = await baton.config.whoAmI({});
    assert.equal(key?.role, Role.ADMIN);

    const wrong = createBatonClient({ baseUrl, apiKey: `${adminKey}-wrong`, protocol });
    const unauthenticated = await wrong.config.whoAmI({}).catch((e: unknown) => e);
    assert.ok(unauthenticated instanceof BatonError);
    assert.equal(unauthenticated.code, "unauthenticated");

    const invalid = await baton.config.createPublisher({ name: "", kind: PublisherKind.MEDIA }).catch((e: unknown) => e);
    assert.ok(invalid instanceof BatonError);
    assert.equal(invalid.code, "invalid_argument");
    assert.ok(invalid.violations.some((v) => v.field === "name"), JSON.stringify(invalid.violations));
  });
}

test("Node entry with a custom fetch goes through it", async () => {
  let calls = 0;
  const counting: typeof globalThis.fetch = (input, init) => {
    calls++;
    return fetch(input, init);
  };
  const baton = node.createBatonClient({ baseUrl, apiKey: adminKey, fetch: counting, protocol: "grpc-web" });
  const { key } = await baton.config.whoAmI({});
  assert.equal(key?.role, Role.ADMIN);
  assert.equal(calls, 1);
});

test('bundlers for browsers ("browser" condition) get the web entry from "@batonhq/client"', async () => {
  const script = `
    import * as m from "@batonhq/client";
    try { m.createBatonClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", protocol: "grpc" }); console.log("node"); }
    catch (e) { console.log(/browsers cannot/.test(e.message) ? "web" : "other: " + e.message); }`;
  const run = (conditions: string[]) =>
    promisify(execFile)(process.execPath, [...conditions, "--input-type=module", "-e", script], {
      cwd: new URL(".", import.meta.url),
    });
  assert.equal((await run(["--conditions=browser"])).stdout.trim(), "web");
  assert.equal((await run([])).stdout.trim(), "node");
});
