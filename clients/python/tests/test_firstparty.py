"""Keeping the click ID on the shop's own site (no Baton needed): the
baton_cid cookie against fixed vectors shared with the Go and TypeScript
clients and t.js, and the README's WSGI example served over loopback."""

from __future__ import annotations

import http.client
import runpy
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from baton_client import CLICK_ID_COOKIE, click_id_set_cookie, is_click_id, keep_click_id, kept_click_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

ID = "06h36q8hwjm6pyc767nvjxz170abc"
NOW = datetime.fromtimestamp(1_700_000_000, tz=UTC)  # 2023-11-14T22:13:20Z

# What Go's net/http writes for the Go client's cookie (KeepClickID) at NOW;
# clients/ts/tests/firstparty.test.ts checks the same strings.
VECTORS = [
    (
        timedelta(days=1),
        True,
        f"baton_cid={ID}.1700086400000; Path=/; Expires=Wed, 15 Nov 2023 22:13:20 GMT; Max-Age=86400; Secure; "
        "SameSite=Lax",
    ),
    (
        timedelta(days=1),
        False,
        f"baton_cid={ID}.1700086400000; Path=/; Expires=Wed, 15 Nov 2023 22:13:20 GMT; Max-Age=86400; SameSite=Lax",
    ),
    (
        None,  # 30 days
        False,
        f"baton_cid={ID}.1702592000000; Path=/; Expires=Thu, 14 Dec 2023 22:13:20 GMT; Max-Age=2592000; SameSite=Lax",
    ),
]


def test_is_click_id() -> None:
    assert is_click_id(ID)
    for bad in ["", ID[1:], ID + "0", ID.upper(), ID[:28] + "i", ID[:28] + "u", ID + "\n", 42, None]:
        assert not is_click_id(bad), bad


@pytest.mark.parametrize(("window", "secure", "want"), VECTORS)
def test_set_cookie_is_byte_for_byte_the_go_clients(window: timedelta | None, secure: bool, want: str) -> None:
    if window is None:
        assert click_id_set_cookie(ID, secure=secure, now=NOW) == want
    else:
        assert click_id_set_cookie(ID, window=window, secure=secure, now=NOW) == want
    assert "httponly" not in want.lower()


def test_set_cookie_refuses_what_is_not_a_click_id_or_a_window() -> None:
    with pytest.raises(ValueError, match="'hello' is not a Baton click ID"):
        click_id_set_cookie("hello")
    with pytest.raises(ValueError, match="not a Baton click ID"):
        click_id_set_cookie(ID + "; Domain=evil.example")
    for w in [timedelta(0), timedelta(seconds=-1), timedelta(milliseconds=500), timedelta(days=400, seconds=1)]:
        with pytest.raises(ValueError, match="window must be from 1 second to 400 days"):
            click_id_set_cookie(ID, window=w)
    with pytest.raises(TypeError, match="timedelta"):
        click_id_set_cookie(ID, window=86400)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        click_id_set_cookie(ID, now=datetime(2023, 11, 14))
    assert "; Max-Age=34560000;" in click_id_set_cookie(ID, window=timedelta(days=400))


def test_keep_click_id_from_a_query_string_or_a_mapping() -> None:
    kept = keep_click_id(f"?aff_userid=1000&sid={ID}", window=timedelta(days=1), secure=True)
    assert kept.click_id == ID
    assert kept.set_cookie is not None
    assert kept.set_cookie.startswith(f"baton_cid={ID}.")
    assert kept.set_cookie.endswith("; Max-Age=86400; Secure; SameSite=Lax")
    click_id, set_cookie = keep_click_id(parse_qs(f"cid={ID}&cid=other"), param="cid")
    assert click_id == ID
    assert set_cookie is not None
    assert set_cookie.endswith("; Max-Age=2592000; SameSite=Lax")
    assert keep_click_id({"sid": ID}).click_id == ID
    assert keep_click_id(f"sid={ID}".encode()).click_id == ID
    for query in ["", "sid=", "sid=hello", f"other={ID}", f"sid={ID.upper()}", f"sid={quote(ID + '; Domain=x')}"]:
        assert keep_click_id(query) == (None, None), query
    assert keep_click_id({"sid": []}) == (None, None)
    assert keep_click_id({"sid": 42}) == (None, None)
    with pytest.raises(ValueError, match="window"):
        keep_click_id("", window=timedelta(0))
    with pytest.raises(ValueError, match="param"):
        keep_click_id(f"sid={ID}", param="")
    with pytest.raises(TypeError, match="query"):
        keep_click_id(42)  # type: ignore[arg-type]


def test_kept_click_id_reads_the_go_vectors_t_js_and_a_bare_id() -> None:
    for _, _, set_cookie in VECTORS:
        pair = set_cookie.split(";")[0]
        assert kept_click_id(pair, now=NOW) == ID
        assert kept_click_id(f"session=abc; {pair}; theme=dark", now=NOW) == ID
    # t.js writes encodeURIComponent("<id>.<ms>"): the same bytes.
    assert kept_click_id(f"baton_cid={ID}%2E1700086400000", now=NOW) == ID
    assert kept_click_id(f'baton_cid="{ID}.1700086400000"', now=NOW) == ID
    assert kept_click_id(f"baton_cid={ID}") == ID
    assert kept_click_id({CLICK_ID_COOKIE: f"{ID}.1700086400000"}, now=NOW) == ID


def test_kept_click_id_window_ends_at_the_expirys_millisecond() -> None:
    cookie = f"baton_cid={ID}.1700086400000"
    assert kept_click_id(cookie, now=datetime.fromtimestamp(1_700_086_399.999, tz=UTC)) == ID
    assert kept_click_id(cookie, now=datetime.fromtimestamp(1_700_086_400, tz=UTC)) is None
    assert kept_click_id(cookie) is None  # 2023 is over


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "session=abc",
        "baton_cid=",
        "baton_cid",
        "baton_cid=hello",
        f"baton_cid={ID}.",
        f"baton_cid={ID}.soon",
        f"baton_cid={ID}.+1800000000000",
        f"baton_cid={ID}.-1",
        f"baton_cid={ID}.12345678901234567",
        f"baton_cid={ID}.\u0661800000000000",  # an Arabic-Indic digit
        f"baton_cid={ID.upper()}",
        f"baton_cid={ID}0.1800000000000",
        f"baton_cid={ID}.1800000000000.1",
        "baton_cid=%E0%A4%A",
        f"xbaton_cid={ID}",
        f"baton_cid_old={ID}",
        f"baton_cid=hello; baton_cid={ID}",  # the first counts, as in Go and t.js
    ],
)
def test_kept_click_id_refuses_anything_else(header: str | None) -> None:
    assert kept_click_id(header, now=NOW) is None


# The README's WSGI example (examples/wsgi_shop.py), served by wsgiref over loopback.

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "wsgi_shop.py"


def test_readme_shows_the_wsgi_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"```python\n{EXAMPLE.read_text(encoding='utf-8')}```" in readme


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def with_session(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The shop's own cookie on every response, to see that the helper keeps it."""

    def wrapped(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]]) -> object:
            return start_response(status, [("Set-Cookie", "session=abc; Path=/; HttpOnly"), *headers])

        return app(environ, start)

    return wrapped


@pytest.fixture
def shop() -> Iterator[int]:
    app = runpy.run_path(str(EXAMPLE))["app"]
    server: WSGIServer = make_server("127.0.0.1", 0, with_session(app), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[str, list[str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        return res.read().decode(), [v for k, v in res.getheaders() if k.lower() == "set-cookie"]
    finally:
        conn.close()


def test_wsgi_landing_keeps_the_click_id_and_checkout_reads_it(shop: int) -> None:
    body, cookies = get(shop, f"/lp?aff_userid=1000&sid={ID}")
    assert body == "landing page"
    assert cookies[0] == "session=abc; Path=/; HttpOnly"
    assert len(cookies) == 2
    assert cookies[1].startswith(f"baton_cid={ID}.")
    assert cookies[1].endswith("; Max-Age=2592000; SameSite=Lax")  # plain http: no Secure, never HttpOnly
    body, _ = get(shop, "/checkout", {"Cookie": f"session=abc; {cookies[1].split(';')[0]}"})
    assert body == f"checkout, click {ID}"

    _, cookies = get(shop, f"/lp?sid={ID}", {"X-Forwarded-Proto": "HTTPS"})
    assert cookies[1].endswith("; Secure; SameSite=Lax")

    body, cookies = get(shop, "/lp?sid=hello")
    assert body == "landing page"
    assert cookies == ["session=abc; Path=/; HttpOnly"]
    body, _ = get(shop, "/checkout", {"Cookie": "session=abc"})
    assert body == "checkout, click None"
