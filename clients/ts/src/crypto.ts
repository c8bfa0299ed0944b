// Small helpers over WebCrypto, which Node (20+), browsers, Deno, Bun and
// workers all have as globalThis.crypto.subtle. One implementation for every
// runtime.

/** @internal */
export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) {
    throw new Error(
      "@batonhq/client: WebCrypto (globalThis.crypto.subtle) is not available; it needs Node 20+, or a browser page served over HTTPS",
    );
  }
  return s;
}

const encoder = new TextEncoder();

/** @internal */
export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s) as Uint8Array<ArrayBuffer>;
}

/** @internal */
export function toHex(buf: ArrayBuffer): string {
  let out = "";
  for (const b of new Uint8Array(buf)) {
    out += b.toString(16).padStart(2, "0");
  }
  return out;
}

/**
 * Decodes standard base64 (with or without padding). Returns undefined for
 * anything else.
 *
 * @internal
 */
export function fromBase64(s: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.replace(/=+$/, "").length % 4 === 1) {
    return undefined;
  }
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) {
    out[i] = bin.charCodeAt(i);
  }
  return out;
}

/** @internal */
export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Compares two byte arrays in time that depends only on their lengths.
 *
 * @internal
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    return false;
  }
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    diff |= a[i]! ^ b[i]!;
  }
  return diff === 0;
}
