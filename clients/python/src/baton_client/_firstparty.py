"""Keeping Baton's click ID in a first-party cookie on the shop's own site.

The contract is shared with Baton's first-party tag (``t.js``) and the Go and
TypeScript clients: cookie ``baton_cid``, value ``<click ID>.<expiry in Unix
milliseconds>``, attributes ``Path=/; Expires=...; Max-Age=...; SameSite=Lax``
(plus ``Secure`` over https), never ``HttpOnly`` (``t.js`` reads it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote

__all__ = [
    "CLICK_ID_COOKIE",
    "DEFAULT_WINDOW",
    "MAX_WINDOW",
    "KeptClickId",
    "click_id_set_cookie",
    "is_click_id",
    "keep_click_id",
    "kept_click_id",
]

CLICK_ID_COOKIE = "baton_cid"
"""The first-party cookie keeping the click ID from landing page to checkout."""

DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=400)
"""Browsers keep no cookie longer; Baton's attribution windows are at most 365 days."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLICK_ID = re.compile(r"[0-9a-hjkmnp-tv-z]{29}")
_KEPT = re.compile(r"([0-9a-hjkmnp-tv-z]{29})(?:\.([0-9]{1,16}))?")


def is_click_id(s: object) -> bool:
    """Whether ``s`` has the form of a Baton click ID: 29 characters of
    lower-case Crockford base32 (``0-9a-z`` without ``i``, ``l``, ``o``, ``u``)."""
    return isinstance(s, str) and _CLICK_ID.fullmatch(s) is not None


def _now_ms(now: datetime | None) -> int:
    if now is None:
        return time.time_ns() // 1_000_000
    if now.tzinfo is None:
        msg = "now must be timezone-aware"
        raise ValueError(msg)
    return (now - _EPOCH) // timedelta(milliseconds=1)


def _window_ms(window: timedelta) -> int:
    if not isinstance(window, timedelta):
        msg = f"window must be a datetime.timedelta, got {type(window).__name__}"
        raise TypeError(msg)
    if not timedelta(seconds=1) <= window <= MAX_WINDOW:
        msg = f"window must be from 1 second to 400 days, got {window}"
        raise ValueError(msg)
    return window // timedelta(milliseconds=1)


def click_id_set_cookie(
    click_id: str,
    *,
    window: timedelta = DEFAULT_WINDOW,
    secure: bool = False,
    now: datetime | None = None,
) -> str:
    """The value of a ``Set-Cookie`` header keeping ``click_id`` on the shop's
    own site for ``window`` (the offer's attribution window):

    ``baton_cid=<id>.<expiry ms>; Path=/; Expires=<HTTP date>; Max-Age=<s>; SameSite=Lax``

    plus ``; Secure`` when ``secure`` (the page was requested over https).
    ``now`` (timezone-aware) is for tests. Raises ``ValueError`` for what is
    not a click ID or a window outside 1 second to 400 days.
    """
    if not is_click_id(click_id):
        msg = f"{click_id!r} is not a Baton click ID"
        raise ValueError(msg)
    window_ms = _window_ms(window)
    expires = _now_ms(now) + window_ms
    http_date = formatdate(expires // 1000, usegmt=True)
    cookie = f"{CLICK_ID_COOKIE}={click_id}.{expires}; Path=/; Expires={http_date}; Max-Age={window_ms // 1000}"
    if secure:
        cookie += "; Secure"
    return cookie + "; SameSite=Lax"


class KeptClickId(NamedTuple):
    """What :func:`keep_click_id` returns: the click ID found on the landing
    URL and the ``Set-Cookie`` header value keeping it, or both ``None``."""

    click_id: str | None
    set_cookie: str | None


def _first(value: object) -> object:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def keep_click_id(
    query: str | bytes | Mapping[str, object],
    *,
    param: str = "sid",
    window: timedelta = DEFAULT_WINDOW,
    secure: bool = False,
) -> KeptClickId:
    """For the shop's landing page: when the request's query carries a Baton
    click ID in ``param`` (the offer's click ID parameter), returns it with
    the ``Set-Cookie`` header value that keeps it in ``baton_cid`` for
    ``window``; otherwise ``(None, None)``. Add the header to your response
    (next to any other ``Set-Cookie``): a cookie set by the shop's server is
    not cut to 7 days by Safari, as cookies written by scripts are.

    ``query`` is the raw query string (WSGI's ``QUERY_STRING``, with or
    without a leading ``?``) or a mapping of parameters (Flask's
    ``request.args``, Django's ``request.GET``, ``parse_qs`` output); the first
    value of ``param`` counts. Pass ``secure=True`` when the request came over
    https (directly or through your TLS-terminating proxy).
    """
    if not isinstance(param, str) or not param:
        msg = "param must be a non-empty string"
        raise ValueError(msg)
    _window_ms(window)  # a wrong window shows on the first request
    value: object
    if isinstance(query, str | bytes):
        text = query.decode("latin-1") if isinstance(query, bytes) else query
        value = next((v for k, v in parse_qsl(text.removeprefix("?"), keep_blank_values=True) if k == param), None)
    elif isinstance(query, Mapping):
        value = _first(query.get(param))
    else:
        msg = f"query must be a query string or a mapping, got {type(query).__name__}"
        raise TypeError(msg)
    if not isinstance(value, str) or not is_click_id(value):
        return KeptClickId(None, None)
    return KeptClickId(value, click_id_set_cookie(value, window=window, secure=secure))


def kept_click_id(cookies: str | Mapping[str, str] | None, *, now: datetime | None = None) -> str | None:
    """For the shop's checkout: the click ID kept in ``baton_cid`` (by
    :func:`keep_click_id`, ``t.js`` or another Baton client), or ``None`` when
    there is none, it is not a click ID, or its window has ended.

    ``cookies`` is the request's raw ``Cookie`` header (WSGI's ``HTTP_COOKIE``;
    the first ``baton_cid`` counts) or a mapping of cookies already parsed
    (Flask's ``request.cookies``, Django's ``request.COOKIES``). Report the ID
    with the sale, as ``click_id`` in the FC2 POST or the ``click_id`` of
    ``record_conversion``.
    """
    raw: str | None = None
    if isinstance(cookies, str):
        for part in cookies.split(";"):
            name, eq, value = part.partition("=")
            if name.strip() == CLICK_ID_COOKIE:
                raw = value.strip() if eq else ""
                break
    elif isinstance(cookies, Mapping):
        got = cookies.get(CLICK_ID_COOKIE)
        raw = got if isinstance(got, str) else None
    if raw is None:
        return None
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    try:
        raw = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    m = _KEPT.fullmatch(raw)
    if m is None:
        return None
    if m.group(2) is not None and int(m.group(2)) <= _now_ms(now):
        return None
    return m.group(1)
