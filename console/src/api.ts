// The console's connection to Baton: @batonhq/client/web (clients/ts) over
// the Connect protocol on the page's own origin, with the API key of this
// browser tab. The key lives in sessionStorage only: never in a URL, a
// cookie or localStorage, and it is never logged.
import { createBatonClient, BatonError } from "@batonhq/client/web";
import type { BatonClient } from "@batonhq/client/web";

export { BatonError };
export type { BatonClient };

const KEY = "baton.apiKey";

export function savedKey(): string {
  try {
    return sessionStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

export function saveKey(key: string): void {
  try {
    sessionStorage.setItem(KEY, key);
  } catch {
    // Storage disabled: the key lives in memory for this page only.
  }
}

export function forgetKey(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}

export function connect(apiKey: string): BatonClient {
  return createBatonClient({ baseUrl: location.origin, apiKey, protocol: "connect", timeoutMs: 15000 });
}

/** The error as a BatonError (network failures included). */
export function asBatonError(e: unknown): BatonError {
  if (e instanceof BatonError) return e;
  return new BatonError("unavailable", e instanceof Error ? e.message : String(e));
}
