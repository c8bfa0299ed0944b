import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

import type { Protocol, ResolvedOptions } from "./client.js";

/**
 * A fetch-based transport (browsers, workers, and Node when a fetch is
 * given): Connect or gRPC-Web. gRPC proper needs HTTP/2 trailers, which
 * fetch does not expose.
 *
 * @internal
 */
export function fetchTransport(o: ResolvedOptions<Protocol>): Transport {
  const common = {
    baseUrl: o.baseUrl,
    interceptors: o.interceptors,
    defaultTimeoutMs: o.timeoutMs,
    ...(o.fetch === undefined ? {} : { fetch: o.fetch }),
  };
  switch (o.protocol) {
    case "connect":
      return createConnectTransport({ ...common, useBinaryFormat: false });
    case "connect-binary":
      return createConnectTransport({ ...common, useBinaryFormat: true });
    case "grpc-web":
      return createGrpcWebTransport({ ...common, useBinaryFormat: true });
    case "grpc":
      throw new TypeError(
        'createBatonClient: protocol "grpc" needs HTTP/2 and cannot run over fetch; use "grpc-web" or "connect"',
      );
  }
}
