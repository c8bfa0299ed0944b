"""Python client for Baton, the affiliate tracking server.

- ``BatonClient`` / ``AsyncBatonClient``: the generated Connect clients of
  every service (``config``, ``clicks``, ``conversions``, ``attribution``,
  ``postbacks``), authenticated with one API key. Request and response
  messages are in ``baton.v1.*_pb`` (installed with this package).
- ``BatonError``: what a failed call raises, with ``code``, ``message`` and
  the decoded validation ``violations``.
- Helpers: ``tracking_link``, ``fc2_sh``, ``verify_webhook`` (Standard
  Webhooks), ``paginate`` / ``apaginate``, and ``keep_click_id`` /
  ``kept_click_id`` to keep the click ID in a first-party cookie.
"""

from __future__ import annotations

from ._client import AsyncBatonClient, BatonClient, WireProtocol
from ._errors import BatonError, Violation
from ._firstparty import (
    CLICK_ID_COOKIE,
    KeptClickId,
    click_id_set_cookie,
    is_click_id,
    keep_click_id,
    kept_click_id,
)
from ._links import fc2_sh, tracking_link
from ._paginate import apaginate, paginate
from ._webhooks import WebhookVerificationError, sign_webhook, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "CLICK_ID_COOKIE",
    "AsyncBatonClient",
    "BatonClient",
    "BatonError",
    "KeptClickId",
    "Violation",
    "WebhookVerificationError",
    "WireProtocol",
    "__version__",
    "apaginate",
    "click_id_set_cookie",
    "fc2_sh",
    "is_click_id",
    "keep_click_id",
    "kept_click_id",
    "paginate",
    "sign_webhook",
    "tracking_link",
    "verify_webhook",
]
