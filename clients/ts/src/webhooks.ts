import { concat, fromBase64, subtle, timingSafeEqual, utf8 } from "./crypto.js";

/**
 * The request headers of a webhook: a Fetch API `Headers` (or anything with
 * `get(name)`), or a plain object such as Node's `req.headers` (names are
 * matched case-insensitively).
 */
export type WebhookHeaders =
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /**
   * The endpoint's signing secrets, `"whsec_..."` as Baton showed them. Give
   * two while a secret is being rotated; either one is accepted.
   */
  secrets: readonly string[];
  /** The request headers; `webhook-id`, `webhook-timestamp` and `webhook-signature` are read. */
  headers: WebhookHeaders;
  /**
   * The request body exactly as received, as text or bytes. Verify before
   * parsing: re-serialised JSON does not match.
   */
  body: string | Uint8Array | ArrayBuffer;
  /**
   * How far, in seconds, `webhook-timestamp` may be from now, either way;
   * default 300. Older messages are refused to stop replays.
   */
  toleranceSec?: number;
  /** The current time, as Unix seconds or a `Date`; default the clock. For tests. */
  now?: number | Date;
}

/** What a verified webhook carried. */
export interface VerifiedWebhook {
  /** The message ID (`webhook-id`; Baton's delivery ID): the same on every retry, so drop duplicates by it. */
  id: string;
  /** When it was sent (`webhook-timestamp`), in Unix seconds. */
  timestamp: number;
}

/** Why {@link verifyWebhook} refused a message. */
export type WebhookVerificationFailure =
  | "missing_header"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "invalid_signature";

/** Thrown by {@link verifyWebhook} for a message that must not be trusted. */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
  /** Why the message was refused. */
  readonly reason: WebhookVerificationFailure;

  constructor(reason: WebhookVerificationFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

const SECRET_PREFIX = "whsec_";

/**
 * Verifies a webhook signed the Standard Webhooks way
 * (https://www.standardwebhooks.com/), as Baton signs its JSON postbacks:
 * the `webhook-signature` header holds space-separated `v1,<base64>` entries,
 * each an HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${body}` keyed
 * with the base64-decoded part of a `whsec_` secret. It passes when any
 * entry matches under any secret (compared in constant time) and the
 * timestamp is within `toleranceSec` of now.
 *
 * Uses WebCrypto, so it runs in Node, browsers, Deno, Bun and workers.
 *
 * @returns the message's ID and timestamp.
 * @throws WebhookVerificationError - when the message must not be trusted.
 * @throws TypeError - when a secret is malformed, or none is given.
 *
 * @example
 * ```ts
 * // Any Fetch API server (Next.js route handler, Workers, Deno, Bun, Hono):
 * const body = await req.text();
 * await verifyWebhook({ secrets: [process.env.BATON_WEBHOOK_SECRET!], headers: req.headers, body });
 * const event = JSON.parse(body);
 * ```
 */
export async function verifyWebhook(options: VerifyWebhookOptions): Promise<VerifiedWebhook> {
  const { secrets, headers, body } = options;
  const keys = decodeSecrets(secrets);
  const toleranceSec = options.toleranceSec ?? 300;
  if (!(toleranceSec > 0)) {
    throw new TypeError(`verifyWebhook: toleranceSec must be positive, got ${toleranceSec}`);
  }

  const id = header(headers, "webhook-id");
  const stamp = header(headers, "webhook-timestamp");
  const signature = header(headers, "webhook-signature");
  if (id === undefined || stamp === undefined || signature === undefined) {
    throw new WebhookVerificationError(
      "missing_header",
      "webhook-id, webhook-timestamp and webhook-signature headers are required",
    );
  }

  if (!/^(0|[1-9][0-9]{0,15})$/.test(stamp)) {
    throw new WebhookVerificationError("invalid_timestamp", `malformed webhook-timestamp ${JSON.stringify(stamp)}`);
  }
  const timestamp = Number(stamp);
  const now =
    options.now === undefined
      ? Date.now() / 1000
      : options.now instanceof Date
        ? options.now.getTime() / 1000
        : options.now;
  if (now - timestamp > toleranceSec) {
    throw new WebhookVerificationError("timestamp_too_old", `webhook-timestamp ${stamp} is more than ${toleranceSec}s old`);
  }
  if (timestamp - now > toleranceSec) {
    throw new WebhookVerificationError(
      "timestamp_too_new",
      `webhook-timestamp ${stamp} is more than ${toleranceSec}s in the future`,
    );
  }

  const signatures: Uint8Array[] = [];
  for (const entry of signature.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") {
      continue; // other versions (e.g. v1a, asymmetric) are not ours to check
    }
    const sig = fromBase64(entry.slice(comma + 1));
    if (sig !== undefined) {
      signatures.push(sig);
    }
  }

  const content = concat([utf8(`${id}.${stamp}.`), bodyBytes(body)]);
  let ok = false;
  for (const key of keys) {
    const hmacKey = await subtle().importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const expected = new Uint8Array(await subtle().sign("HMAC", hmacKey, content));
    for (const sig of signatures) {
      // No early exit: every comparison runs, whatever matched.
      ok = timingSafeEqual(expected, sig) || ok;
    }
  }
  if (!ok) {
    throw new WebhookVerificationError("invalid_signature", "no webhook-signature entry matches the secrets");
  }
  return { id, timestamp };
}

function decodeSecrets(secrets: readonly string[]): Uint8Array<ArrayBuffer>[] {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new TypeError("verifyWebhook: secrets must list at least one whsec_ secret");
  }
  return secrets.map((secret, i) => {
    if (typeof secret !== "string") {
      throw new TypeError(`verifyWebhook: secret ${i} is not a string`);
    }
    const key = fromBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
    if (key === undefined || key.length === 0) {
      // Never echo the secret itself.
      throw new TypeError(`verifyWebhook: secret ${i} is not "whsec_" followed by base64`);
    }
    return key;
  });
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  let value: string | readonly string[] | null | undefined;
  if (typeof (headers as { get?: unknown }).get === "function") {
    value = (headers as { get(name: string): string | null | undefined }).get(name);
  } else {
    const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
    value = record[name];
    if (value === undefined) {
      const key = Object.keys(record).find((k) => k.toLowerCase() === name);
      value = key === undefined ? undefined : record[key];
    }
  }
  if (Array.isArray(value)) {
    value = value[0];
  }
  return typeof value === "string" && value !== "" ? value : undefined;
}

function bodyBytes(body: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof body === "string") {
    return utf8(body);
  }
  if (body instanceof ArrayBuffer) {
    return new Uint8Array(body);
  }
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  throw new TypeError("verifyWebhook: body must be a string, a Uint8Array or an ArrayBuffer");
}
