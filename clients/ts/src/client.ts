import { createClient } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";

import { toBatonError } from "./errors.js";
import { AttributionService } from "./gen/baton/v1/attribution_pb.js";
import { ClickService } from "./gen/baton/v1/click_pb.js";
import { ConfigService } from "./gen/baton/v1/config_pb.js";
import { ConversionService } from "./gen/baton/v1/conversion_pb.js";
import { PartnerService } from "./gen/baton/v1/partners_pb.js";
import { PostbackService } from "./gen/baton/v1/postback_pb.js";

/**
 * The wire protocol the client speaks to Baton. Baton serves all four on the
 * same URL.
 *
 * - `"connect"`: the Connect protocol with JSON bodies (easy to read in logs
 *   and proxies). The default.
 * - `"connect-binary"`: the Connect protocol with binary Protobuf bodies.
 * - `"grpc"`: gRPC over HTTP/2 (Node only: browsers cannot do gRPC).
 * - `"grpc-web"`: gRPC-Web, binary.
 */
export type Protocol = "connect" | "connect-binary" | "grpc" | "grpc-web";

/**
 * Options of `createBatonClient`.
 *
 * @typeParam P - the protocols this entry point supports.
 */
export interface BatonClientOptions<P extends Protocol = Protocol> {
  /**
   * Where Baton runs, e.g. `"https://track.example.com"` (a path prefix is
   * kept: `"https://example.com/baton"`).
   */
  baseUrl: string;
  /** Your API key; sent as `Authorization: Bearer <apiKey>` on every call. */
  apiKey: string;
  /** The wire protocol; default `"connect"`. */
  protocol?: P;
  /**
   * Deadline of each call in milliseconds, sent to the server too; default
   * 10000. A call can override it with the `timeoutMs` call option.
   */
  timeoutMs?: number;
  /**
   * The `fetch` to use instead of `globalThis.fetch`, e.g. to add
   * `credentials` or to go through a proxy. In Node, giving one makes the
   * client use fetch instead of the `node:http` module (not possible with
   * `"grpc"`, which needs HTTP/2).
   */
  fetch?: typeof globalThis.fetch;
  /**
   * More Connect interceptors, run after the one that sets the
   * `Authorization` header (logging, tracing, retries...).
   */
  interceptors?: Interceptor[];
}

/**
 * Typed clients for Baton's services. Every method takes the request as a
 * plain object (fields in lowerCamelCase, 64-bit integers as `bigint`,
 * enums as the generated TypeScript enums), returns a promise of the
 * response, and rejects with a {@link BatonError}.
 */
export interface BatonClient {
  /** baton.v1.ConfigService: advertisers, publishers, sites, offers, networks, API keys, WhoAmI. */
  readonly config: Client<typeof ConfigService>;
  /** baton.v1.ClickService: tracking links and clicks. */
  readonly clicks: Client<typeof ClickService>;
  /** baton.v1.ConversionService: conversions, status changes, refusals, FC2 tags. */
  readonly conversions: Client<typeof ConversionService>;
  /** baton.v1.AttributionService: why a click won, and reports. */
  readonly attribution: Client<typeof AttributionService>;
  /** baton.v1.PostbackService: postback endpoints and deliveries. */
  readonly postbacks: Client<typeof PostbackService>;
  /** baton.v1.PartnerService: the partner catalog, presets, media URLs and the integration check. */
  readonly partners: Client<typeof PartnerService>;
  /** The Connect transport the clients use, for services of your own or `createClient`. */
  readonly transport: Transport;
}

/** Default of {@link BatonClientOptions.timeoutMs}. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The transport settings an entry point needs, after checking the options.
 *
 * @internal
 */
export interface ResolvedOptions<P extends Protocol> {
  baseUrl: string;
  protocol: P;
  timeoutMs: number;
  interceptors: Interceptor[];
  fetch: typeof globalThis.fetch | undefined;
}

/**
 * Checks the options and puts the bearer interceptor first.
 *
 * @internal
 */
export function resolveOptions<P extends Protocol>(
  options: BatonClientOptions<P>,
  protocols: readonly P[],
  defaultProtocol: P,
): ResolvedOptions<P> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("createBatonClient: options are required: { baseUrl, apiKey }");
  }
  const { baseUrl, apiKey } = options;
  if (typeof baseUrl !== "string" || !/^https?:\/\/./i.test(baseUrl)) {
    throw new TypeError(`createBatonClient: baseUrl must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
  }
  if (typeof apiKey !== "string" || apiKey === "") {
    throw new TypeError("createBatonClient: apiKey is required");
  }
  if (/[\r\n]/.test(apiKey)) {
    throw new TypeError("createBatonClient: apiKey must not contain line breaks");
  }
  const protocol = options.protocol ?? defaultProtocol;
  if (!protocols.includes(protocol)) {
    throw new TypeError(
      `createBatonClient: protocol ${JSON.stringify(protocol)} is not supported here; use one of ${protocols.map((p) => JSON.stringify(p)).join(", ")}`,
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`createBatonClient: timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  return {
    baseUrl: baseUrl.replace(/\/+$/, ""),
    protocol,
    timeoutMs,
    interceptors: [bearer(apiKey), ...(options.interceptors ?? [])],
    fetch: options.fetch,
  };
}

function bearer(apiKey: string): Interceptor {
  const value = `Bearer ${apiKey}`;
  return (next) => async (req) => {
    req.header.set("Authorization", value);
    return next(req);
  };
}

/**
 * Builds the service clients on a transport.
 *
 * @internal
 */
export function clientsFor(transport: Transport): BatonClient {
  return {
    config: serviceClient(ConfigService, transport),
    clicks: serviceClient(ClickService, transport),
    conversions: serviceClient(ConversionService, transport),
    attribution: serviceClient(AttributionService, transport),
    postbacks: serviceClient(PostbackService, transport),
    partners: serviceClient(PartnerService, transport),
    transport,
  };
}

type AnyFn = (...args: unknown[]) => unknown;

/** A Connect client whose methods throw BatonError instead of ConnectError. */
function serviceClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  const inner = createClient(service, transport) as unknown as Record<string, AnyFn>;
  const outer: Record<string, AnyFn> = {};
  for (const method of service.methods) {
    const call = inner[method.localName];
    if (call === undefined) {
      continue;
    }
    switch (method.methodKind) {
      case "unary":
      case "client_streaming":
        outer[method.localName] = (...args) =>
          (call(...args) as Promise<unknown>).catch((err: unknown) => {
            throw toBatonError(err);
          });
        break;
      case "server_streaming":
      case "bidi_streaming":
        outer[method.localName] = (...args) => rethrowing(call(...args) as AsyncIterable<unknown>);
        break;
    }
  }
  return outer as unknown as Client<S>;
}

async function* rethrowing<T>(iterable: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* iterable;
  } catch (err) {
    throw toBatonError(err);
  }
}
