"""Standard Webhooks verification, for Baton's JSON postbacks.

Spec: https://www.standardwebhooks.com/ (v1 symmetric signatures). A JSON
delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (space-separated ``v1,<base64 HMAC-SHA256>`` entries,
one per current secret while a secret is rotated). The HMAC key is the
base64 part of the endpoint secret ``whsec_<base64>``; the signed content is
``<webhook-id>.<webhook-timestamp>.<raw body>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["WebhookVerificationError", "sign_webhook", "verify_webhook"]

_SECRET_PREFIX = "whsec_"


class _SupportsItems(Protocol):
    def items(self) -> Iterable[tuple[Any, Any]]: ...


HeadersLike = _SupportsItems | Iterable[tuple[str | bytes, str | bytes]]
"""A mapping of header names to values (anything with ``.items()``), or pairs."""


class WebhookVerificationError(Exception):
    """The webhook is not authentic or not fresh: reject it (e.g. answer 400)."""


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(_SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        msg = 'a webhook secret must be "whsec_" followed by base64'
        raise ValueError(msg) from None
    if not key:
        msg = "a webhook secret must not be empty"
        raise ValueError(msg)
    return key


def _keys(secrets: str | Iterable[str]) -> list[bytes]:
    keys = [_key(secrets)] if isinstance(secrets, str) else [_key(s) for s in secrets]
    if not keys:
        msg = "no webhook secret given"
        raise ValueError(msg)
    return keys


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _lower_headers(headers: HeadersLike) -> dict[str, str]:
    pairs: Iterable[tuple[Any, Any]] = headers.items() if hasattr(headers, "items") else headers
    return {_text(k).lower(): _text(v) for k, v in pairs}


def _mac(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """Return the ``webhook-signature`` header value for a message (for tests and
    for relaying webhooks; Baton signs its own deliveries)."""
    payload = body.encode() if isinstance(body, str) else body
    mac = _mac(_key(secret), msg_id, str(int(timestamp)), payload)
    return "v1," + base64.b64encode(mac).decode()


def verify_webhook(
    secrets: str | Iterable[str],
    headers: HeadersLike,
    body: bytes | str,
    tolerance: int = 300,
    now: float | None = None,
) -> Any:
    """Verify a Standard Webhooks signature and return the JSON payload.

    Args:
        secrets: The endpoint secret (``whsec_...``), or several during a
            rotation: any one of them may have signed the message.
        headers: The request headers, in any case: a mapping (dict, Flask /
            Django / Starlette headers, ``http.client.HTTPMessage``) or
            ``(name, value)`` pairs (str or bytes, as in ASGI).
        body: The raw request body, exactly as received (bytes; str is UTF-8 encoded).
        tolerance: Largest accepted distance, in seconds, between
            ``webhook-timestamp`` and now, in either direction.
        now: The current Unix time (default ``time.time()``).

    Returns:
        The parsed JSON body.

    Raises:
        WebhookVerificationError: a header is missing or malformed, the
            timestamp is too old or in the future, no signature matches, or
            the body is not JSON.
        ValueError: a secret is malformed or tolerance is not positive.
    """
    keys = _keys(secrets)
    if tolerance <= 0:
        msg = "tolerance must be positive"
        raise ValueError(msg)
    payload = body.encode() if isinstance(body, str) else bytes(body)
    h = _lower_headers(headers)
    try:
        msg_id = h["webhook-id"]
        timestamp = h["webhook-timestamp"]
        signature_header = h["webhook-signature"]
    except KeyError as e:
        msg = f"missing header {e.args[0]}"
        raise WebhookVerificationError(msg) from None

    if not timestamp.isascii() or not timestamp.isdigit():
        msg = f"malformed webhook-timestamp {timestamp!r}"
        raise WebhookVerificationError(msg)
    current = time.time() if now is None else now
    skew = current - int(timestamp)
    if skew > tolerance:
        msg = f"webhook-timestamp is {int(skew)} s old, more than {tolerance} s"
        raise WebhookVerificationError(msg)
    if skew < -tolerance:
        msg = f"webhook-timestamp is {int(-skew)} s in the future, more than {tolerance} s"
        raise WebhookVerificationError(msg)

    given: list[bytes] = []
    for entry in signature_header.split(" "):
        version, sep, encoded = entry.partition(",")
        if version != "v1" or not sep:
            continue  # other schemes (v1a, ...) or junk
        try:
            given.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    matched = False
    for key in keys:
        expected = _mac(key, msg_id, timestamp, payload)
        for signature in given:
            # Compare every pair, so the time taken does not depend on which matched.
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        msg = "no webhook signature matches"
        raise WebhookVerificationError(msg)
    try:
        return json.loads(payload)
    except ValueError:
        msg = "the webhook body is not JSON"
        raise WebhookVerificationError(msg) from None
