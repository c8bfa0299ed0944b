"""Smoke test: the generated Python code (gen/python: protoc-gen-py messages on
the protobuf-py runtime, protoc-gen-connectrpc clients on connectrpc) against a
running Baton server, over the Connect protocol.

    BATON_URL=http://127.0.0.1:8080 BATON_ADMIN_KEY=... .venv/bin/pytest
"""

from __future__ import annotations

import asyncio

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

try:
    from baton.v1.common_pb import Role
    from baton.v1.config_connect import ConfigServiceClient, ConfigServiceClientSync
    from baton.v1.config_pb import CreatePublisherRequest, PublisherKind, WhoAmIRequest
    from buf.validate.validate_pb import Violations
except ImportError as e:  # pragma: no cover - a setup problem, not a test failure mode
    raise ImportError(
        f"cannot import the generated code from gen/python ({e}). It must be "
        "generated with absolute imports (opt map_imports=**:. for protoc-gen-py "
        "and protoc-gen-connectrpc in buf.gen.yaml), then `buf generate`."
    ) from e


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def client(baton_url: str):
    with ConfigServiceClientSync(baton_url, timeout_ms=10_000) as c:
        yield c


def test_who_am_i_admin(client: ConfigServiceClientSync, admin_key: str) -> None:
    res = client.who_am_i(WhoAmIRequest(), headers=bearer(admin_key))
    assert res.key is not None, "WhoAmIResponse.key is missing"
    assert res.key.role == Role.ADMIN, f"expected ROLE_ADMIN, got {res.key.role!r}"


def test_who_am_i_admin_async(baton_url: str, admin_key: str) -> None:
    async def call():
        async with ConfigServiceClient(baton_url, timeout_ms=10_000) as c:
            return await c.who_am_i(WhoAmIRequest(), headers=bearer(admin_key))

    res = asyncio.run(call())
    assert res.key is not None, "WhoAmIResponse.key is missing"
    assert res.key.role == Role.ADMIN, f"expected ROLE_ADMIN, got {res.key.role!r}"


def test_create_publisher_empty_name_is_invalid_argument(
    client: ConfigServiceClientSync, admin_key: str
) -> None:
    req = CreatePublisherRequest(name="", kind=PublisherKind.MEDIA)
    with pytest.raises(ConnectError) as exc_info:
        client.create_publisher(req, headers=bearer(admin_key))
    err = exc_info.value
    assert err.code == Code.INVALID_ARGUMENT, f"expected invalid_argument, got {err.code}: {err.message}"

    violations = [
        d.value(Violations) for d in err.details if d.type_name == "buf.validate.Violations"
    ]
    assert violations, (
        f"no buf.validate.Violations detail in the error: {[d.type_name for d in err.details]}"
    )
    fields = [
        ".".join(e.field_name for e in v.field.elements) if v.field is not None else ""
        for vs in violations
        if vs is not None
        for v in vs.violations
    ]
    assert "name" in fields, f'violations do not name the field "name": {fields}'


def test_wrong_key_is_unauthenticated(client: ConfigServiceClientSync, admin_key: str) -> None:
    with pytest.raises(ConnectError) as exc_info:
        client.who_am_i(WhoAmIRequest(), headers=bearer(admin_key + "-wrong"))
    err = exc_info.value
    assert err.code == Code.UNAUTHENTICATED, f"expected unauthenticated, got {err.code}: {err.message}"
