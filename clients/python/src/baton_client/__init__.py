"""Python client for Baton, the affiliate tracking server.

- ``BatonClient`` / ``AsyncBatonClient``: the generated Connect clients of
  every service (``config``, ``clicks``, ``conversions``, ``attribution``,
  ``postbacks``), authenticated with one API key. Request and response
  messages are in ``baton.v1.*_pb`` (installed with this package).
- ``BatonError``: what a failed call raises, with ``code``, ``message`` and
  the decoded validation ``violations``.
- Helpers: ``tracking_link``, ``fc2_sh``, ``verify_webhook`` (Standard
  Webhooks), ``paginate`` / ``apaginate``.
"""

from __future__ import annotations

from ._client import AsyncBatonClient, BatonClient, WireProtocol
from ._errors import BatonError, Violation
from ._links import fc2_sh, tracking_link
from ._paginate import apaginate, paginate
from ._webhooks import WebhookVerificationError, sign_webhook, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "AsyncBatonClient",
    "BatonClient",
    "BatonError",
    "Violation",
    "WebhookVerificationError",
    "WireProtocol",
    "__version__",
    "apaginate",
    "fc2_sh",
    "paginate",
    "sign_webhook",
    "tracking_link",
    "verify_webhook",
]
