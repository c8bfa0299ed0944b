/**
 * `@batonhq/client/web` for browsers, workers and other fetch-only runtimes:
 * the same API as `@batonhq/client`, over `fetch` (Connect or gRPC-Web;
 * browsers cannot speak gRPC proper).
 *
 * Mind that an API key in a browser is visible to whoever uses the page:
 * use a key of the least privileged role that does the job.
 *
 * @example
 * ```ts
 * import { createBatonClient } from "@batonhq/client/web";
 *
 * const baton = createBatonClient({ baseUrl: "https://track.example.com", apiKey, protocol: "grpc-web" });
 * ```
 *
 * @packageDocumentation
 */
import { clientsFor, resolveOptions } from "./client.js";
import type { BatonClient, BatonClientOptions, Protocol } from "./client.js";
import { fetchTransport } from "./transports.js";

export * from "./common.js";

/** The protocols fetch can speak: all but `"grpc"`. */
export type WebProtocol = Exclude<Protocol, "grpc">;

const protocols: readonly WebProtocol[] = ["connect", "connect-binary", "grpc-web"];

/**
 * Creates typed clients for Baton's five services over `fetch`,
 * authenticated with your API key.
 *
 * @throws TypeError - when an option is missing or invalid, or the protocol is `"grpc"`.
 */
export function createBatonClient(options: BatonClientOptions<WebProtocol>): BatonClient {
  if ((options?.protocol as string | undefined) === "grpc") {
    throw new TypeError(
      'createBatonClient: browsers cannot speak gRPC (it needs HTTP/2 trailers); use "grpc-web" or "connect"',
    );
  }
  return clientsFor(fetchTransport(resolveOptions(options, protocols, "connect")));
}
