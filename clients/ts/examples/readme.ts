import { createBatonClient, verifyWebhook } from "@batonhq/client";

// Shop: record a sale for the click ID that came with the visitor (?sid=...), then see the postbacks it caused.
const baton = createBatonClient({ baseUrl: process.env.BATON_URL!, apiKey: process.env.BATON_API_KEY! });
const { conversion } = await baton.conversions.recordConversion({ clickId: process.env.CLICK_ID!, orderId: `order-${Date.now()}`, amountJpy: 1980n });
const { deliveries } = await baton.postbacks.listDeliveries({ conversionId: conversion!.id });
console.log(`conversion ${conversion!.id} for ${conversion!.publisherId}: ${deliveries.length} postback(s)`);

// Publisher (any Fetch API server): trust a signed postback only after checking its signature.
export async function onPostback(req: Request): Promise<Response> {
  const body = await req.text();
  const ok = await verifyWebhook({ secrets: [process.env.WEBHOOK_SECRET!], headers: req.headers, body }).then(() => true, () => false);
  return new Response(ok ? "ok" : "invalid signature", { status: ok ? 200 : 401 });
}
