// keepClickId / keptClickId for Node's `http` (and `https`, `http2`
// compatibility) servers, and frameworks built on them (Express, Koa's
// ctx.req/ctx.res, Fastify's request.raw/reply.raw).

import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";

import { clickIdSetCookie, isClickId, parseKeptClickId, windowOf } from "./firstparty.js";

/** Options of {@link keepClickId}. */
export interface KeepClickIdOptions {
  /**
   * The landing URL's query parameter that carries the click ID: the offer's
   * click ID parameter (`downstream.clickIdParam`). Default `"sid"`.
   */
  param?: string;
  /**
   * How long to keep it, in seconds: the offer's attribution window.
   * 30 days when omitted; at most 400 days.
   */
  windowSeconds?: number;
  /**
   * Whether to add `Secure`. By default, when the request came over TLS or
   * with `X-Forwarded-Proto: https` (from your own TLS-terminating proxy).
   */
  secure?: boolean;
}

/** The part of a request keepClickId and keptClickId read. */
type Request = Pick<IncomingMessage, "url" | "headers" | "socket">;

function header(req: Request, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

function cameOverHttps(req: Request): boolean {
  return (req.socket as Partial<TLSSocket> | null)?.encrypted === true ||
    header(req, "x-forwarded-proto").trim().toLowerCase() === "https";
}

/**
 * For the shop's landing page handler: when the request's URL carries a
 * Baton click ID in `param`, it appends a `Set-Cookie` header keeping it in
 * the `baton_cid` cookie on the shop's own site for the window, and returns
 * the ID; otherwise it returns `""` and sets nothing. `Set-Cookie` headers
 * already on the response are kept.
 *
 * Call it before the response's headers are written. A cookie set by the
 * shop's server is first-party and, unlike a cookie written by a script,
 * not cut to 7 days by Safari. The cookie is not `HttpOnly`, so that
 * Baton's `t.js` can read it too.
 *
 * @example
 * ```ts
 * createServer((req, res) => {
 *   if (req.url?.startsWith("/lp")) keepClickId(req, res, { param: "sid", windowSeconds: 30 * 86400 });
 *   res.end("landing page");
 * });
 * ```
 *
 * @throws TypeError - when the options are invalid.
 * @throws Error - when the response's headers were already sent.
 */
export function keepClickId(req: Request, res: ServerResponse, options: KeepClickIdOptions = {}): string {
  const param = options.param ?? "sid";
  if (typeof param !== "string" || param === "") {
    throw new TypeError("keepClickId: param must be a non-empty string");
  }
  // Checked even when there is nothing to keep, so that a wrong window
  // shows on the first request.
  const windowSeconds = windowOf(options.windowSeconds, "keepClickId");
  let id: string | null;
  try {
    id = new URL(req.url ?? "/", "http://localhost").searchParams.get(param);
  } catch {
    id = null;
  }
  if (!isClickId(id)) {
    return "";
  }
  const value = clickIdSetCookie(id, { windowSeconds, secure: options.secure ?? cameOverHttps(req) });
  if (res.headersSent) {
    throw new Error("keepClickId: the response's headers were already sent; call it before writing the response");
  }
  const existing = res.getHeader("set-cookie");
  const all = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader("Set-Cookie", [...all, value]);
  return id;
}

/**
 * For the shop's checkout: the click ID that {@link keepClickId} (or `t.js`,
 * or another Baton client) kept in the request's cookies, or `""` when there
 * is none or its window has ended. Report it with the sale, as `click_id` in
 * the FC2 POST or as the `clickId` of `baton.conversions.recordConversion`.
 */
export function keptClickId(req: Pick<IncomingMessage, "headers">): string {
  return parseKeptClickId(req.headers.cookie);
}
