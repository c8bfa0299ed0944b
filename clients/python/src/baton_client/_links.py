"""Tracking links and FC2's ``sh`` hash."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["fc2_sh", "tracking_link"]

MAX_SUBS = 5


def tracking_link(
    base_url: str,
    link_id: str,
    subs: Sequence[str | None] = (),
    deep_link: str | None = None,
) -> str:
    """Build the click URL of a tracking link: ``{base_url}/c/{link_id}?param1=..&jump=..``.

    Args:
        base_url: Baton's public URL (``BATON_PUBLIC_URL``), e.g. ``https://t.example.com``.
        link_id: The tracking link's ID (``TrackingLink.id``).
        subs: Up to five sub-IDs, sent as ``param1``..``param5`` (the first is
            the upstream ID postbacks carry back). ``None`` leaves a position out.
        deep_link: A path, or a URL on the offer's allowed hosts, sent as ``jump``.
    """
    if not link_id:
        msg = "link_id must not be empty"
        raise ValueError(msg)
    if isinstance(subs, str):
        msg = "subs must be a sequence of strings, not a string"
        raise TypeError(msg)
    if len(subs) > MAX_SUBS:
        msg = f"at most {MAX_SUBS} sub-IDs, got {len(subs)}"
        raise ValueError(msg)
    params = [(f"param{i}", s) for i, s in enumerate(subs, start=1) if s is not None]
    if deep_link is not None:
        params.append(("jump", deep_link))
    url = f"{base_url.rstrip('/')}/c/{quote(link_id, safe='')}"
    return f"{url}?{urlencode(params)}" if params else url


def _field(value: str | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def fc2_sh(
    password: str,
    *,
    shopid: str | int,
    unique_id: str | int,
    uname: str = "",
    email: str = "",
    amount_y: str | int = "",
    amount_d: str = "",
    ts: str = "",
    recurring: str | int = "",
    item_code: str = "",
    unit_num: str | int = "",
    short: bool = False,
) -> str:
    """FC2's ``sh``: SHA-1 (hex) of the shop password followed by shopid,
    unique_id, uname, email, amount_y, amount_d, ts, recurring, item_code and
    unit_num, exactly as sent (an omitted parameter is the empty string).

    ``short=True`` returns only the first 16 hex characters, which FC2 (and
    Baton) also accept.
    """
    h = hashlib.sha1(usedforsecurity=False)
    for part in (
        password,
        shopid,
        unique_id,
        uname,
        email,
        amount_y,
        amount_d,
        ts,
        recurring,
        item_code,
        unit_num,
    ):
        h.update(_field(part).encode())
    digest = h.hexdigest()
    return digest[:16] if short else digest
