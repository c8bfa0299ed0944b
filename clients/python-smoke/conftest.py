"""Fixtures for the Python smoke test: where the Baton server is, and its admin key.

The server must already be running; these tests never start one. A missing
BATON_URL or BATON_ADMIN_KEY fails every test (it does not skip them).
"""

from __future__ import annotations

import os

import pytest


def _require_env(name: str, example: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(
            f"{name} is not set. This smoke test needs a running Baton server, "
            f"e.g. {name}={example} (see clients/python-smoke/README.md).",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def baton_url() -> str:
    return _require_env("BATON_URL", "http://127.0.0.1:8080").rstrip("/")


@pytest.fixture(scope="session")
def admin_key() -> str:
    return _require_env("BATON_ADMIN_KEY", "<admin key>")
