"""baton-client against a live Baton (BATON_URL, BATON_ADMIN_KEY)."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from baton.v1.click_pb import (
    Click,
    ClickSource,
    GetClickRequest,
    ListClicksRequest,
    RecordClickRequest,
    TrackingLink,
)
from baton.v1.common_pb import Role
from baton.v1.config_pb import CreatePublisherRequest, Offer, PublisherKind, WhoAmIRequest
from baton.v1.conversion_pb import ConversionStatus, RecordConversionRequest
from baton.v1.postback_pb import (
    Delivery,
    DeliveryState,
    ListDeliveriesRequest,
    PostbackEndpoint,
    PostbackEvent,
)

from baton_client import AsyncBatonClient, BatonClient, BatonError, apaginate, paginate, tracking_link

from conftest import (
    BROWSER_UA,
    DEMO_ADVERTISER,
    DEMO_PUBLISHER,
    DEMO_PUBLISHER_KEY,
    LANDING_URL,
    Receiver,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # surface the 302 as an HTTPError instead of following it


def poll_deliveries(client: BatonClient, conversion_id: str, want: int = 1, timeout: float = 10.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while True:
        res = client.postbacks.list_deliveries(ListDeliveriesRequest(conversion_id=conversion_id))
        if len(res.deliveries) >= want or time.monotonic() >= deadline:
            return list(res.deliveries)
        time.sleep(0.2)


# --------------------------------------------------------------- setup objects


@pytest.mark.parametrize("protocol", ["connect", "connect-json", "grpc", "grpc-web"])
def test_who_am_i_over_each_protocol(baton_url: str, admin_key: str, protocol: Any) -> None:
    with BatonClient(baton_url, admin_key, protocol=protocol) as c:
        res = c.config.who_am_i(WhoAmIRequest())
    assert res.key is not None and res.key.role == Role.ADMIN


def test_offer_created(offer: Offer) -> None:
    assert offer.id and offer.advertiser_id == DEMO_ADVERTISER
    assert offer.landing_url == LANDING_URL
    assert offer.downstream is not None and offer.downstream.click_id_param == "sid"
    assert offer.payout is not None and offer.payout.kind is not None
    assert (offer.payout.kind.field, offer.payout.kind.value) == ("percent_bps", 500)


def test_tracking_link_created(link: TrackingLink, offer: Offer) -> None:
    assert link.id and link.offer_id == offer.id and link.publisher_id == DEMO_PUBLISHER
    # The helper builds the same URL the server reports (from the server's public base URL).
    public_base = link.url.rsplit("/c/", 1)[0]
    assert tracking_link(public_base, link.id) == link.url


# --------------------------------------------------------------- clicks


@pytest.fixture(scope="session")
def api_click(publisher: BatonClient, link: TrackingLink) -> Click:
    res = publisher.clicks.record_click(
        RecordClickRequest(link_id=link.id, sub_ids=["api-sub-1"], ip="203.0.113.7", user_agent=BROWSER_UA)
    )
    assert res.click is not None
    return res.click


@pytest.fixture(scope="session")
def redirect_click_id(baton_url: str, link: TrackingLink) -> str:
    """A browser-like click through the tracking link; returns sid from the 302 Location."""
    url = tracking_link(baton_url, link.id, subs=("redirect-sub-1",))
    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(url, headers={"User-Agent": BROWSER_UA})
    with pytest.raises(urllib.error.HTTPError) as exc_info:
        opener.open(req, timeout=10)
    resp = exc_info.value
    try:
        assert resp.code in (302, 303, 307), f"{url} answered {resp.code}"
        location = resp.headers["Location"]
    finally:
        resp.close()
    assert location.startswith(LANDING_URL), location
    sids = parse_qs(urlsplit(location).query).get("sid")
    assert sids and len(sids) == 1, location
    return sids[0]


def test_record_click(api_click: Click, link: TrackingLink, offer: Offer) -> None:
    assert api_click.id and api_click.link_id == link.id and api_click.offer_id == offer.id
    assert api_click.source == ClickSource.API
    assert list(api_click.sub_ids) == ["api-sub-1"]
    assert api_click.redirect_url.startswith(LANDING_URL + "?sid=" + api_click.id)


def test_click_through_tracking_link(publisher: BatonClient, redirect_click_id: str, link: TrackingLink) -> None:
    res = publisher.clicks.get_click(GetClickRequest(id=redirect_click_id))
    assert res.click is not None
    assert res.click.link_id == link.id
    assert res.click.source == ClickSource.REDIRECT
    assert list(res.click.sub_ids) == ["redirect-sub-1"]
    assert res.click.user_agent == BROWSER_UA


# --------------------------------------------------------------- conversions and postbacks


def test_conversion_causes_a_get_postback(
    advertiser: BatonClient,
    api_click: Click,
    offer: Offer,
    get_endpoint: PostbackEndpoint,
    receiver: Receiver,
    run_id: str,
) -> None:
    order_id = f"py-{run_id}-1"
    res = advertiser.conversions.record_conversion(
        RecordConversionRequest(click_id=api_click.id, order_id=order_id, amount_jpy=1980)
    )
    conv = res.conversion
    assert conv is not None and not res.duplicate
    assert (conv.offer_id, conv.publisher_id, conv.click_id) == (offer.id, DEMO_PUBLISHER, api_click.id)
    assert conv.status == ConversionStatus.PENDING
    assert conv.commission is not None and conv.commission.amount_minor == 99  # 5% of 1980, rounded down

    deliveries = poll_deliveries(advertiser, conv.id)
    mine = [d for d in deliveries if d.endpoint_id == get_endpoint.id]
    assert mine, f"no delivery to the GET endpoint among {deliveries}"
    assert mine[0].event == PostbackEvent.PENDING and mine[0].conversion_id == conv.id

    # ...and the postback really arrived, rendered from the template.
    got = receiver.wait_for(lambda r: r.method == "GET" and r.path == f"/pb?o={order_id}")
    assert got.body == b""
    # The delivery is then logged as succeeded.
    deadline = time.monotonic() + 10
    while True:
        d = next(x for x in poll_deliveries(advertiser, conv.id) if x.endpoint_id == get_endpoint.id)
        if d.state == DeliveryState.SUCCEEDED or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert d.state == DeliveryState.SUCCEEDED, d


# --------------------------------------------------------------- errors


def test_validation_error_names_the_field(admin: BatonClient) -> None:
    with pytest.raises(BatonError) as exc_info:
        admin.config.create_publisher(CreatePublisherRequest(name="", kind=PublisherKind.MEDIA))
    err = exc_info.value
    assert err.code == "invalid_argument", err
    assert "name" in [v.field for v in err.violations], err.violations
    v = next(v for v in err.violations if v.field == "name")
    assert v.rule_id == "string.min_len" and v.message
    assert err.connect_error is not None and isinstance(err.__cause__, type(err.connect_error))


def test_message_level_violations(advertiser: BatonClient) -> None:
    with pytest.raises(BatonError) as exc_info:
        advertiser.conversions.record_conversion(RecordConversionRequest(order_id="x"))
    rule_ids = {v.rule_id for v in exc_info.value.violations}
    assert {"record_conversion.one_amount", "record_conversion.click_or_offer"} <= rule_ids
    assert all(v.field == "" for v in exc_info.value.violations)


@pytest.mark.parametrize("protocol", ["connect", "grpc"])
def test_wrong_key_is_unauthenticated(baton_url: str, admin_key: str, protocol: Any) -> None:
    with BatonClient(baton_url, admin_key + "-wrong", protocol=protocol) as c, pytest.raises(BatonError) as exc_info:
        c.config.who_am_i(WhoAmIRequest())
    assert exc_info.value.code == "unauthenticated", exc_info.value


def test_per_call_authorization_header_wins(baton_url: str, admin_key: str) -> None:
    with BatonClient(baton_url, admin_key + "-wrong") as c:
        res = c.config.who_am_i(WhoAmIRequest(), headers={"Authorization": f"Bearer {admin_key}"})
    assert res.key is not None and res.key.role == Role.ADMIN


def test_publisher_cannot_read_another_publisher(publisher: BatonClient) -> None:
    from baton.v1.config_pb import GetPublisherRequest

    with pytest.raises(BatonError) as exc_info:
        publisher.config.get_publisher(GetPublisherRequest(id="pub_demo2"))
    assert exc_info.value.code == "permission_denied"


# --------------------------------------------------------------- pagination and async


def test_paginate_list_clicks(
    publisher: BatonClient, link: TrackingLink, api_click: Click, redirect_click_id: str
) -> None:
    calls: list[ListClicksRequest] = []

    def list_clicks(req: ListClicksRequest, **kw: Any) -> Any:
        calls.append(req)
        return publisher.clicks.list_clicks(req, **kw)

    first = ListClicksRequest(page_size=1, link_id=link.id)
    clicks = list(paginate(list_clicks, first, "clicks", timeout_ms=5000))
    ids = [c.id for c in clicks]
    assert len(ids) == len(set(ids)), ids
    assert {api_click.id, redirect_click_id} <= set(ids)
    assert len(calls) >= len(ids) >= 2  # one click per page
    assert first.page_token == "" and all(c.page_size == 1 for c in calls)
    assert all(c.page_token for c in calls[1:])


def test_async_client(baton_url: str, link: TrackingLink, api_click: Click) -> None:
    async def main() -> tuple[Role, list[str]]:
        async with AsyncBatonClient(baton_url, DEMO_PUBLISHER_KEY, protocol="connect-json") as c:
            me = await c.config.who_am_i(WhoAmIRequest())
            assert me.key is not None
            ids = [
                x.id
                async for x in apaginate(
                    c.clicks.list_clicks, ListClicksRequest(page_size=1, link_id=link.id), "clicks"
                )
            ]
            try:
                await c.clicks.get_click(GetClickRequest(id="bad id!"))
            except BatonError as e:
                assert e.code == "invalid_argument" and e.violations
            else:
                raise AssertionError("get_click with a malformed ID did not fail")
            return me.key.role, ids

    role, ids = asyncio.run(main())
    assert role == Role.PUBLISHER
    assert api_click.id in ids


def test_clicks_iterator_is_lazy(publisher: BatonClient, link: TrackingLink) -> None:
    it: Iterator[Any] = paginate(
        publisher.clicks.list_clicks, ListClicksRequest(page_size=1, link_id=link.id), "clicks"
    )
    assert next(it).link_id == link.id
