"""Fixtures: the running Baton (BATON_URL, BATON_ADMIN_KEY), clients with the
demo keys, a local HTTP server receiving postbacks, and the objects the
tests share (an offer, a tracking link, postback endpoints).

The server must already be running, with demo data (BATON_DEMO=true) and
postbacks to loopback allowed (BATON_POSTBACK_ALLOW=127.0.0.0/8). A missing
BATON_URL or BATON_ADMIN_KEY fails every test that needs it; nothing is skipped.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal

import pytest
from baton.v1.click_pb import CreateTrackingLinkRequest, TrackingLink
from baton.v1.config_pb import CreateOfferRequest, DownstreamLink, Offer, Payout
from baton.v1.postback_pb import (
    CreatePostbackEndpointRequest,
    PostbackEndpoint,
    PostbackEvent,
    PostbackMethod,
)
from protobuf import Oneof

from baton_client import BatonClient

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

DEMO_PUBLISHER_KEY = "bk_demo_publisher_key_00000000000"
DEMO_ADVERTISER_KEY = "bk_demo_advertiser_key_0000000000"
DEMO_ADVERTISER = "adv_demo"
DEMO_PUBLISHER = "pub_demo"
LANDING_URL = "https://shop.example.com/lp"
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


def _require_env(name: str, example: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(
            f"{name} is not set. These tests need a running Baton, e.g. {name}={example} "
            "(see clients/python/README.md).",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def baton_url() -> str:
    return _require_env("BATON_URL", "http://127.0.0.1:8080").rstrip("/")


@pytest.fixture(scope="session")
def admin_key() -> str:
    return _require_env("BATON_ADMIN_KEY", "<admin key>")


@pytest.fixture(scope="session")
def run_id() -> str:
    """Makes names and order IDs unique, so the tests can run again on the same server."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def admin(baton_url: str, admin_key: str) -> Iterator[BatonClient]:
    with BatonClient(baton_url, admin_key) as c:
        yield c


@pytest.fixture(scope="session")
def publisher(baton_url: str) -> Iterator[BatonClient]:
    with BatonClient(baton_url, DEMO_PUBLISHER_KEY) as c:
        yield c


@pytest.fixture(scope="session")
def advertiser(baton_url: str) -> Iterator[BatonClient]:
    with BatonClient(baton_url, DEMO_ADVERTISER_KEY) as c:
        yield c


# --------------------------------------------------------------- postback receiver


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP server that answers 200 to everything and records it."""

    base_url: str
    requests: list[Received] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def record(self, r: Received) -> None:
        with self.cond:
            self.requests.append(r)
            self.cond.notify_all()

    def wait_for(self, pred: Callable[[Received], bool], timeout: float = 10.0) -> Received:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for r in self.requests:
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r.method, r.path) for r in self.requests]
                    pytest.fail(f"no matching postback within {timeout} s; received: {seen}")
                self.cond.wait(left)


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            holder["r"].record(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, name="postback-receiver", daemon=True)
    thread.start()
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------- shared objects


@pytest.fixture(scope="session")
def offer(admin: BatonClient, run_id: str) -> Offer:
    five_percent: Oneof[Literal["percent_bps"], int] = Oneof("percent_bps", 500)
    res = admin.config.create_offer(
        CreateOfferRequest(
            advertiser_id=DEMO_ADVERTISER,
            name=f"baton-client test {run_id}",
            landing_url=LANDING_URL,
            downstream=DownstreamLink(click_id_param="sid"),
            payout=Payout(kind=five_percent),
        )
    )
    assert res.offer is not None
    return res.offer


@pytest.fixture(scope="session")
def link(publisher: BatonClient, offer: Offer) -> TrackingLink:
    # A publisher key creates links for itself.
    res = publisher.clicks.create_tracking_link(CreateTrackingLinkRequest(offer_id=offer.id))
    assert res.link is not None
    return res.link


@pytest.fixture(scope="session")
def get_endpoint(admin: BatonClient, offer: Offer, receiver: Receiver) -> PostbackEndpoint:
    """GET postback to the local receiver on PENDING conversions of this offer."""
    res = admin.postbacks.create_postback_endpoint(
        CreatePostbackEndpointRequest(
            publisher_id=DEMO_PUBLISHER,
            offer_id=offer.id,
            events=[PostbackEvent.PENDING],
            method=PostbackMethod.GET,
            url_template=receiver.base_url + "/pb?o={order_id}",
        )
    )
    assert res.endpoint is not None
    return res.endpoint


@dataclass(frozen=True)
class JsonEndpoint:
    endpoint: PostbackEndpoint
    secret: str


@pytest.fixture(scope="session")
def json_endpoint(admin: BatonClient, offer: Offer, receiver: Receiver) -> JsonEndpoint:
    """POST_JSON postback (Standard Webhooks signed) to the local receiver."""
    res = admin.postbacks.create_postback_endpoint(
        CreatePostbackEndpointRequest(
            publisher_id=DEMO_PUBLISHER,
            offer_id=offer.id,
            events=[PostbackEvent.PENDING],
            method=PostbackMethod.POST_JSON,
            url_template=receiver.base_url + "/webhook",
        )
    )
    assert res.endpoint is not None
    assert res.secret.startswith("whsec_"), res.secret
    return JsonEndpoint(res.endpoint, res.secret)
