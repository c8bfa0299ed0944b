// Shared fixtures of the live tests. They run against a running Baton given
// by BATON_URL and BATON_ADMIN_KEY, started with BATON_DEMO=true (the demo
// advertiser adv_demo, publisher pub_demo and their keys below).
//
// Importing this module throws when either variable is unset: the tests
// fail, they never skip.

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { createBatonClient, trackingLink } from "@batonhq/client";
import type { BatonClient, Offer, TrackingLink } from "@batonhq/client";

function requireEnv(name: string, example: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set: these tests need a running Baton (BATON_DEMO=true), e.g. ${name}=${example}`);
  }
  return value;
}

export const baseUrl = requireEnv("BATON_URL", "http://127.0.0.1:8080").replace(/\/+$/, "");
export const adminKey = requireEnv("BATON_ADMIN_KEY", "<admin key>");

/** Seeded by BATON_DEMO=true. */
export const DEMO_ADVERTISER = "adv_demo";
export const DEMO_PUBLISHER = "pub_demo";
export const DEMO_ADVERTISER_KEY = "bk_demo_advertiser_key_0000000000";
export const DEMO_PUBLISHER_KEY = "bk_demo_publisher_key_00000000000";

/** A browser's User-Agent: Baton does not count clicks of bots. */
export const BROWSER_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

export const admin = createBatonClient({ baseUrl, apiKey: adminKey });
export const advertiser = createBatonClient({ baseUrl, apiKey: DEMO_ADVERTISER_KEY });
export const publisher = createBatonClient({ baseUrl, apiKey: DEMO_PUBLISHER_KEY });

/** A unique suffix for names and order IDs, so that runs never collide. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A new offer of adv_demo (5% payout, Baton's click ID passed as "sid") and a
 * tracking link of pub_demo for it. A fresh offer per test file keeps clicks,
 * conversions and postbacks of different runs apart.
 */
export async function createOfferAndLink(client: BatonClient = admin): Promise<{ offer: Offer; link: TrackingLink }> {
  const { offer } = await client.config.createOffer({
    advertiserId: DEMO_ADVERTISER,
    name: unique("ts-client"),
    landingUrl: "https://shop.example.com/lp",
    downstream: { clickIdParam: "sid" },
    payout: { kind: { case: "percentBps", value: 500 } },
  });
  if (offer === undefined) throw new Error("CreateOffer returned no offer");
  const { link } = await client.clicks.createTrackingLink({ offerId: offer.id, publisherId: DEMO_PUBLISHER });
  if (link === undefined) throw new Error("CreateTrackingLink returned no link");
  return { offer, link };
}

/**
 * Follows a tracking link as a browser would, without following the
 * redirect, and returns where Baton sent the person and the click ID it
 * passed on as "sid".
 */
export async function clickThrough(url: string): Promise<{ status: number; location: URL; sid: string }> {
  const res = await fetch(url, { redirect: "manual", headers: { "User-Agent": BROWSER_UA } });
  await res.body?.cancel();
  const location = res.headers.get("location");
  if (location === null) {
    throw new Error(`GET ${url}: status ${res.status} without a Location header`);
  }
  const target = new URL(location);
  const sid = target.searchParams.get("sid");
  if (sid === null || sid === "") {
    throw new Error(`GET ${url}: Location ${location} has no sid`);
  }
  return { status: res.status, location: target, sid };
}

/** Clicks a new tracking link of the demo publisher and returns the click ID. */
export async function newClick(link: TrackingLink): Promise<string> {
  return (await clickThrough(trackingLink(baseUrl, link.id))).sid;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A local HTTP server standing in for a publisher's postback receiver. */
export async function startReceiver(): Promise<{ port: number; requests: ReceivedRequest[]; close(): Promise<void> }> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(200, { "Content-Type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Calls fn until it returns a value other than undefined, for at most timeoutMs. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
