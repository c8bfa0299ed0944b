// The package against a running Baton: offer, tracking link, clicks (API and
// redirect), postback endpoint, conversion, deliveries, errors, every
// protocol, pagination.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  BatonError,
  createBatonClient,
  DeliveryState,
  paginate,
  PostbackEvent,
  PostbackMethod,
  PublisherKind,
  Role,
  trackingLink,
} from "@batonhq/client";
import type { Click, Offer, PostbackEndpoint, Protocol, TrackingLink } from "@batonhq/client";

import {
  admin,
  adminKey,
  advertiser,
  baseUrl,
  BROWSER_UA,
  clickThrough,
  createOfferAndLink,
  DEMO_ADVERTISER,
  DEMO_PUBLISHER,
  eventually,
  publisher,
  startReceiver,
  unique,
} from "./helpers.js";

const protocols: Protocol[] = ["connect", "connect-binary", "grpc", "grpc-web"];

async function rejection(promise: Promise<unknown>): Promise<BatonError> {
  return promise.then(
    (res) => assert.fail(`expected an error, got ${JSON.stringify(res, (_, v) => (typeof v === "bigint" ? `${v}` : v))}`),
    (err: unknown) => {
      assert.ok(err instanceof BatonError, `expected a BatonError, got ${String(err)}`);
      return err;
    },
  );
}

describe("each protocol", () => {
  for (const protocol of protocols) {
    test(`${protocol}: WhoAmI with the admin key is ROLE_ADMIN`, async () => {
      const baton = createBatonClient({ baseUrl, apiKey: adminKey, protocol });
      const { key } = await baton.config.whoAmI({});
      assert.equal(key?.role, Role.ADMIN);
    });

    test(`${protocol}: WhoAmI with the advertiser key is adv_demo`, async () => {
      const baton = createBatonClient({ baseUrl, apiKey: "bk_demo_advertiser_key_0000000000", protocol });
      const { key } = await baton.config.whoAmI({});
      assert.equal(key?.role, Role.ADVERTISER);
      assert.equal(key?.partnerId, DEMO_ADVERTISER);
    });

    test(`${protocol}: a wrong key is "unauthenticated"`, async () => {
      const baton = createBatonClient({ baseUrl, apiKey: "bk_not_a_real_key_000000000000000", protocol });
      const err = await rejection(baton.config.whoAmI({}));
      assert.equal(err.code, "unauthenticated", err.message);
      assert.deepEqual(err.violations, []);
    });
  }
});

test('CreatePublisher with an empty name is "invalid_argument" with a violation on "name"', async () => {
  const err = await rejection(admin.config.createPublisher({ name: "", kind: PublisherKind.MEDIA }));
  assert.equal(err.code, "invalid_argument", err.message);
  const onName = err.violations.find((v) => v.field === "name");
  assert.ok(onName, `no violation on "name": ${JSON.stringify(err.violations)}`);
  assert.match(onName.ruleId, /^string\./);
  assert.notEqual(onName.message, "");
  assert.match(err.message, /^\[invalid_argument\] /);
});

describe("click to postback", () => {
  let offer: Offer;
  let link: TrackingLink;
  let endpoint: PostbackEndpoint;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let apiClick: Click;
  let redirectSid: string;
  let conversionId: string;

  before(async () => {
    receiver = await startReceiver();
  });

  after(async () => {
    if (endpoint !== undefined) {
      await publisher.postbacks.deletePostbackEndpoint({ id: endpoint.id });
    }
    await receiver?.close();
  });

  test("admin creates an offer and a tracking link for pub_demo", async () => {
    ({ offer, link } = await createOfferAndLink(admin));
    assert.equal(offer.advertiserId, DEMO_ADVERTISER);
    assert.equal(offer.downstream?.clickIdParam, "sid");
    assert.deepEqual(offer.payout?.kind, { case: "percentBps", value: 500 });
    assert.equal(link.offerId, offer.id);
    assert.equal(link.publisherId, DEMO_PUBLISHER);
    assert.equal(link.url, trackingLink(baseUrl, link.id));
  });

  test("pub_demo creates a GET postback endpoint for pending conversions", async () => {
    const res = await publisher.postbacks.createPostbackEndpoint({
      offerId: offer.id,
      events: [PostbackEvent.PENDING],
      method: PostbackMethod.GET,
      urlTemplate: `http://127.0.0.1:${receiver.port}/pb?o={order_id}`,
    });
    assert.ok(res.endpoint);
    endpoint = res.endpoint;
    assert.equal(endpoint.publisherId, DEMO_PUBLISHER);
    assert.match(res.secret, /^whsec_/);
  });

  test("RecordClick with the publisher key", async () => {
    const res = await publisher.clicks.recordClick({
      linkId: link.id,
      subIds: ["api-sub-1"],
      userAgent: BROWSER_UA,
      ip: "203.0.113.7",
    });
    assert.ok(res.click);
    apiClick = res.click;
    assert.equal(apiClick.offerId, offer.id);
    assert.deepEqual(apiClick.subIds, ["api-sub-1"]);
    assert.equal(new URL(res.redirectUrl).searchParams.get("sid"), apiClick.id);
  });

  test("a browser follows trackingLink(): sub-IDs and deep link arrive intact", async () => {
    const url = trackingLink(baseUrl, link.id, {
      sub1: "summer sale & more",
      sub2: "日本語/?#",
      deepLink: "https://shop.example.com/item/42?color=red",
    });
    const { status, location, sid } = await clickThrough(url);
    assert.equal(status, 302);
    assert.equal(`${location.origin}${location.pathname}`, "https://shop.example.com/item/42");
    assert.equal(location.searchParams.get("color"), "red");
    redirectSid = sid;

    const { click } = await publisher.clicks.getClick({ id: sid });
    assert.deepEqual(click?.subIds, ["summer sale & more", "日本語/?#"]);
    assert.equal(click?.deepLink, "https://shop.example.com/item/42?color=red");
    assert.equal(click?.userAgent, BROWSER_UA);
  });

  test("paginate() walks ListClicks one click per page", async () => {
    let pages = 0;
    const ids: string[] = [];
    const list: typeof publisher.clicks.listClicks = (req, opts) => {
      pages++;
      return publisher.clicks.listClicks(req, opts);
    };
    for await (const click of paginate(list, { linkId: link.id, pageSize: 1 }, "clicks")) {
      ids.push(click.id);
    }
    assert.deepEqual([...ids].sort(), [apiClick.id, redirectSid].sort());
    assert.ok(pages >= 2, `expected at least 2 pages, got ${pages}`);
  });

  test("adv_demo records a conversion for the redirect click; 5% commission", async () => {
    const { conversion, duplicate } = await advertiser.conversions.recordConversion({
      clickId: redirectSid,
      orderId: unique("order"),
      amountJpy: 1980n,
    });
    assert.equal(duplicate, false);
    assert.ok(conversion);
    conversionId = conversion.id;
    assert.equal(conversion.clickId, redirectSid);
    assert.equal(conversion.offerId, offer.id);
    assert.equal(conversion.publisherId, DEMO_PUBLISHER);
    assert.equal(conversion.amount?.currencyCode, "JPY");
    assert.equal(conversion.amount?.amountMinor, 1980n);
    assert.equal(conversion.commission?.amountMinor, 99n);
  });

  test("ListDeliveries shows the postback the conversion caused", async () => {
    const delivery = await eventually("a delivery of the conversion", async () => {
      const { deliveries } = await publisher.postbacks.listDeliveries({ conversionId });
      return deliveries[0];
    });
    assert.equal(delivery.conversionId, conversionId);
    assert.equal(delivery.endpointId, endpoint.id);
    assert.equal(delivery.publisherId, DEMO_PUBLISHER);
    assert.equal(delivery.event, PostbackEvent.PENDING);
    assert.notEqual(delivery.state, DeliveryState.UNSPECIFIED);
    // The advertiser sees the deliveries of its conversions too.
    const { deliveries } = await advertiser.postbacks.listDeliveries({ conversionId });
    assert.deepEqual(
      deliveries.map((d) => d.id),
      [delivery.id],
    );
  });

  test("an advertiser key may not create publishers: permission_denied", async () => {
    const err = await rejection(advertiser.config.createPublisher({ name: unique("nope"), kind: PublisherKind.MEDIA }));
    assert.equal(err.code, "permission_denied", err.message);
  });
});
