/**
 * `@batonhq/client` for Node (20+): typed clients for Baton's services over
 * Node's `http`/`http2` modules, and the helpers every partner needs.
 *
 * Browsers (and bundlers targeting them) get `@batonhq/client/web`, which has
 * the same API over `fetch`.
 *
 * @example
 * ```ts
 * import { createBatonClient } from "@batonhq/client";
 *
 * const baton = createBatonClient({ baseUrl: "https://track.example.com", apiKey: process.env.BATON_API_KEY! });
 * const { key } = await baton.config.whoAmI({});
 * ```
 *
 * @packageDocumentation
 */
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type { Transport } from "@connectrpc/connect";

import { clientsFor, resolveOptions } from "./client.js";
import type { BatonClient, BatonClientOptions, Protocol, ResolvedOptions } from "./client.js";
import { fetchTransport } from "./transports.js";

export * from "./common.js";
// Node only: they take Node's IncomingMessage and ServerResponse.
export { keepClickId, keptClickId } from "./firstparty-node.js";
export type { KeepClickIdOptions } from "./firstparty-node.js";

const protocols: readonly Protocol[] = ["connect", "connect-binary", "grpc", "grpc-web"];

/**
 * Creates typed clients for Baton's five services, authenticated with your
 * API key.
 *
 * In Node, `"connect"`, `"connect-binary"` and `"grpc-web"` use HTTP/1.1
 * (`node:http`/`node:https`), `"grpc"` uses HTTP/2 (`node:http2`; cleartext
 * h2c for `http://` URLs). Give `fetch` to go through fetch instead.
 *
 * @example
 * ```ts
 * const baton = createBatonClient({ baseUrl: "https://track.example.com", apiKey, protocol: "grpc" });
 * const { clicks } = await baton.clicks.listClicks({ pageSize: 10 });
 * ```
 *
 * @throws TypeError - when an option is missing or invalid.
 */
export function createBatonClient(options: BatonClientOptions<Protocol>): BatonClient {
  return clientsFor(nodeTransport(resolveOptions(options, protocols, "connect")));
}

function nodeTransport(o: ResolvedOptions<Protocol>): Transport {
  if (o.fetch !== undefined) {
    return fetchTransport(o);
  }
  const common = { baseUrl: o.baseUrl, interceptors: o.interceptors, defaultTimeoutMs: o.timeoutMs };
  switch (o.protocol) {
    case "connect":
      return createConnectTransport({ ...common, httpVersion: "1.1", useBinaryFormat: false });
    case "connect-binary":
      return createConnectTransport({ ...common, httpVersion: "1.1", useBinaryFormat: true });
    case "grpc-web":
      return createGrpcWebTransport({ ...common, httpVersion: "1.1", useBinaryFormat: true });
    case "grpc":
      return createGrpcTransport({ ...common, useBinaryFormat: true });
  }
}
