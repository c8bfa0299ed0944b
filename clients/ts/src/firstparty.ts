// Keeping Baton's click ID in a first-party cookie on the shop's own site,
// from the landing page to the checkout: the cookie's contract, shared with
// Baton's first-party tag (t.js) and the Go and Python clients, as pure
// functions that work in any framework or runtime. The Node `http` helpers
// (keepClickId, keptClickId) are in firstparty-node.ts.

/**
 * The first-party cookie, on the shop's own site, that keeps Baton's click
 * ID from the landing page to the checkout. Baton's first-party tag (`t.js`)
 * and the Go and Python clients use the same name and format, so a shop may
 * use any of them, or several.
 */
export const CLICK_ID_COOKIE = "baton_cid";

/** The attribution window used when none is given: 30 days, in seconds. */
export const DEFAULT_CLICK_ID_WINDOW_SECONDS = 30 * 24 * 3600;

/**
 * The longest window a click ID cookie may be set for: 400 days, in seconds.
 * Browsers keep no cookie longer, and Baton's attribution windows are at
 * most 365 days.
 */
export const MAX_CLICK_ID_WINDOW_SECONDS = 400 * 24 * 3600;

// Baton's click IDs: 29 characters of lower-case Crockford base32.
const CLICK_ID = /^[0-9a-hjkmnp-tv-z]{29}$/;
// The cookie's value: "<click ID>.<expiry in Unix milliseconds>", or a bare
// click ID.
const KEPT = /^([0-9a-hjkmnp-tv-z]{29})(?:\.([0-9]{1,16}))?$/;

/**
 * Whether `s` has the form of a Baton click ID: 29 characters of lower-case
 * Crockford base32 (`0-9a-z` without `i`, `l`, `o`, `u`).
 */
export function isClickId(s: unknown): s is string {
  return typeof s === "string" && CLICK_ID.test(s);
}

/** Options of {@link clickIdSetCookie}. */
export interface ClickIdCookieOptions {
  /**
   * How long to keep the click ID, in seconds: the offer's attribution
   * window. 30 days when omitted; at most 400 days.
   */
  windowSeconds?: number;
  /**
   * Adds `Secure`: set it when the page was requested over https (directly,
   * or through your TLS-terminating proxy). A `Secure` cookie is not stored
   * from a plain-http page.
   */
  secure?: boolean;
  /** The current time (a `Date` or Unix milliseconds); for tests. */
  now?: Date | number;
}

function nowMs(now: Date | number | undefined, fn: string): number {
  const ms = now === undefined ? Date.now() : typeof now === "number" ? now : now.getTime();
  if (!Number.isFinite(ms)) {
    throw new TypeError(`${fn}: now is not a valid time`);
  }
  return ms;
}

/**
 * The window in seconds (the default when omitted), or a TypeError naming fn.
 * @internal
 */
export function windowOf(windowSeconds: number | undefined, fn: string): number {
  if (windowSeconds === undefined) {
    return DEFAULT_CLICK_ID_WINDOW_SECONDS;
  }
  if (
    typeof windowSeconds !== "number" ||
    !Number.isFinite(windowSeconds) ||
    windowSeconds < 1 ||
    windowSeconds > MAX_CLICK_ID_WINDOW_SECONDS
  ) {
    throw new TypeError(
      `${fn}: windowSeconds must be a number of seconds from 1 to ${MAX_CLICK_ID_WINDOW_SECONDS} (400 days), got ${String(windowSeconds)}`,
    );
  }
  return windowSeconds;
}

/**
 * The value of a `Set-Cookie` header that keeps `clickId` on the shop's own
 * site for the window:
 *
 * `baton_cid=<click ID>.<expiry in Unix ms>; Path=/; Expires=<HTTP date>; Max-Age=<seconds>; SameSite=Lax`
 *
 * plus `; Secure` with `secure: true`. It is deliberately not `HttpOnly`:
 * Baton's `t.js` reads the same cookie on the thank-you page. Send it from
 * your server (a cookie set by an HTTP response is not cut to 7 days by
 * Safari, as cookies written by scripts are). In a Node `http` server,
 * {@link keepClickId} does this for you.
 *
 * @example
 * ```ts
 * clickIdSetCookie("06h36q8hwjm6pyc767nvjxz170abc", { windowSeconds: 86400, secure: true, now: 1700000000000 });
 * // "baton_cid=06h36q8hwjm6pyc767nvjxz170abc.1700086400000; Path=/; Expires=Wed, 15 Nov 2023 22:13:20 GMT; Max-Age=86400; Secure; SameSite=Lax"
 * ```
 *
 * @throws TypeError - when `clickId` has not the form of a click ID, or the window or time is invalid.
 */
export function clickIdSetCookie(clickId: string, options: ClickIdCookieOptions = {}): string {
  if (!isClickId(clickId)) {
    throw new TypeError(`clickIdSetCookie: ${JSON.stringify(clickId)} is not a Baton click ID`);
  }
  const window = windowOf(options.windowSeconds, "clickIdSetCookie");
  const expires = nowMs(options.now, "clickIdSetCookie") + Math.round(window * 1000);
  // Expires has whole seconds, as HTTP dates do; the value keeps the
  // milliseconds.
  const httpDate = new Date(Math.floor(expires / 1000) * 1000).toUTCString();
  let c = `${CLICK_ID_COOKIE}=${clickId}.${expires}; Path=/; Expires=${httpDate}; Max-Age=${Math.floor(window)}`;
  if (options.secure === true) {
    c += "; Secure";
  }
  return `${c}; SameSite=Lax`;
}

/** Options of {@link parseKeptClickId}. */
export interface ParseKeptClickIdOptions {
  /** The current time (a `Date` or Unix milliseconds); for tests. */
  now?: Date | number;
}

/**
 * The click ID kept in the `baton_cid` cookie of a request's `Cookie`
 * header (by {@link keepClickId}, {@link clickIdSetCookie}, another Baton
 * client or `t.js`), or `""` when there is none, it is not a click ID, or
 * its window has ended. The value is `<click ID>.<expiry in Unix ms>` or a
 * bare click ID; the first `baton_cid` cookie of the header counts.
 *
 * Report the ID with the sale: as `click_id` in the FC2 POST, or as the
 * `clickId` of `baton.conversions.recordConversion`.
 *
 * @param cookieHeader - the request's `Cookie` header (Node's `req.headers.cookie`, Fetch's `request.headers.get("cookie")`).
 */
export function parseKeptClickId(
  cookieHeader: string | readonly string[] | null | undefined,
  options: ParseKeptClickIdOptions = {},
): string {
  const header = typeof cookieHeader === "string" ? cookieHeader : Array.isArray(cookieHeader) ? cookieHeader.join("; ") : "";
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (name !== CLICK_ID_COOKIE) {
      continue;
    }
    let value = eq < 0 ? "" : part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    try {
      value = decodeURIComponent(value);
    } catch {
      return "";
    }
    const m = KEPT.exec(value);
    if (m === null) {
      return "";
    }
    if (m[2] !== undefined && Number(m[2]) <= nowMs(options.now, "parseKeptClickId")) {
      return "";
    }
    return m[1] ?? "";
  }
  return "";
}
