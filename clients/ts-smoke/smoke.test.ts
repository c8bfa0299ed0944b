// Smoke test: the generated TypeScript code (gen/ts, protoc-gen-es v2) and
// Connect-ES v2 against a running Baton server.
//
//   BATON_URL=http://127.0.0.1:8080 BATON_ADMIN_KEY=... npm test
//
// The server must be running already; this test never starts one. It fails
// (it does not skip) when BATON_URL or BATON_ADMIN_KEY is unset.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createGrpcWebTransport as createGrpcWebFetchTransport } from "@connectrpc/connect-web";

import { Role } from "../../gen/ts/baton/v1/common_pb.js";
import { ConfigService, PublisherKind } from "../../gen/ts/baton/v1/config_pb.js";
import { ViolationsSchema } from "../../gen/ts/buf/validate/validate_pb.js";

function requireEnv(name: string, example: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(
      `${name} is not set. This smoke test needs a running Baton server, e.g. ` +
        `${name}=${example} (see clients/ts-smoke/README.md).`,
    );
  }
  return value;
}

// Top-level on purpose: a missing variable fails the whole file loudly.
const baseUrl = requireEnv("BATON_URL", "http://127.0.0.1:8080").replace(/\/+$/, "");
const adminKey = requireEnv("BATON_ADMIN_KEY", "<admin key>");

function bearer(key: string): Interceptor {
  return (next) => async (req) => {
    req.header.set("Authorization", `Bearer ${key}`);
    return next(req);
  };
}

type TransportFactory = (key: string) => Transport;

const transports: Record<string, TransportFactory> = {
  "Connect (connect-node, HTTP/1.1)": (key) =>
    createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer(key)] }),
  "gRPC (connect-node, HTTP/2 h2c)": (key) =>
    // Connect-ES v2 removed the httpVersion option here: gRPC is always HTTP/2.
    createGrpcTransport({ baseUrl, interceptors: [bearer(key)] }),
  "gRPC-Web (connect-node, HTTP/1.1)": (key) =>
    createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer(key)] }),
  "gRPC-Web (connect-web, fetch)": (key) =>
    createGrpcWebFetchTransport({ baseUrl, interceptors: [bearer(key)] }),
};

const connectTransport = transports["Connect (connect-node, HTTP/1.1)"]!;

describe("ConfigService.WhoAmI with the admin key", () => {
  for (const [name, makeTransport] of Object.entries(transports)) {
    test(name, async () => {
      const client = createClient(ConfigService, makeTransport(adminKey));
      const res = await client.whoAmI({});
      assert.ok(res.key, "WhoAmIResponse.key is missing");
      assert.equal(
        res.key.role,
        Role.ADMIN,
        `expected role ROLE_ADMIN (${Role.ADMIN}), got ${Role[res.key.role] ?? res.key.role}`,
      );
    });
  }
});

test("ConfigService.CreatePublisher with an empty name is invalid_argument naming the field", async () => {
  const client = createClient(ConfigService, connectTransport(adminKey));
  const err = await client
    .createPublisher({ name: "", kind: PublisherKind.MEDIA })
    .then(
      (res) => assert.fail(`expected invalid_argument, got a publisher: ${JSON.stringify(res.publisher?.id)}`),
      (e: unknown) => ConnectError.from(e),
    );
  assert.equal(err.code, Code.InvalidArgument, `expected invalid_argument, got ${Code[err.code]}: ${err.rawMessage}`);

  const details = err.findDetails(ViolationsSchema);
  assert.ok(details.length > 0, `no buf.validate.Violations detail in the error: ${err.message}`);
  const fields = details.flatMap((d) =>
    d.violations.map((v) => (v.field?.elements ?? []).map((e) => e.fieldName).join(".")),
  );
  assert.ok(fields.includes("name"), `violations do not name the field "name": ${JSON.stringify(fields)}`);
});

describe("a wrong API key is unauthenticated", () => {
  for (const [name, makeTransport] of Object.entries(transports)) {
    test(name, async () => {
      const client = createClient(ConfigService, makeTransport(`${adminKey}-wrong`));
      const err = await client.whoAmI({}).then(
        (res) => assert.fail(`expected unauthenticated, got role ${res.key?.role}`),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.Unauthenticated, `expected unauthenticated, got ${Code[err.code]}: ${err.rawMessage}`);
    });
  }
});
