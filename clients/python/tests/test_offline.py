"""Helpers, test vectors and packaging checks that need no server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import site
import sys
import sysconfig
from pathlib import Path
from typing import Literal

import pytest
from buf.validate.validate_pb import FieldPath, FieldPathElement, Violations
from buf.validate.validate_pb import Violation as PbViolation
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from protobuf import Oneof

import baton_client
from baton_client import (
    BatonClient,
    BatonError,
    Violation,
    WebhookVerificationError,
    fc2_sh,
    sign_webhook,
    tracking_link,
    verify_webhook,
)

# Standard Webhooks specification example.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = "1614265330"
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def spec_headers(signature: str = SPEC_SIG, ts: str = SPEC_TS) -> dict[str, str]:
    return {"webhook-id": SPEC_ID, "webhook-timestamp": ts, "webhook-signature": signature}


# --------------------------------------------------------------- packaging


def test_installed_from_the_wheel_not_the_source_tree() -> None:
    site_dirs = {Path(p).resolve() for p in [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]}
    for name in ("baton_client", "baton", "baton.v1.config_pb", "buf", "buf.validate.validate_pb"):
        module = importlib.import_module(name)
        path = Path(module.__file__ or "").resolve()
        assert any(d in path.parents for d in site_dirs), f"{name} imported from {path}, not site-packages"
        assert "clients/python/src" not in path.as_posix()
        assert "gen/python" not in path.as_posix()
    assert Path(sys.prefix).resolve() != Path(sys.base_prefix).resolve(), "not running in a venv"


def test_typed_markers_shipped() -> None:
    for name in ("baton_client", "baton", "buf"):
        pkg = importlib.import_module(name)
        assert (Path(pkg.__file__ or "").parent / "py.typed").is_file(), f"{name} has no py.typed"


def test_version() -> None:
    from importlib.metadata import requires, version

    assert version("baton-client") == baton_client.__version__
    reqs = requires("baton-client") or []
    assert "connectrpc==0.13.0" in reqs and "protobuf-py==0.7.0" in reqs, reqs


# --------------------------------------------------------------- webhooks


def test_webhook_spec_vector() -> None:
    payload = verify_webhook(SPEC_SECRET, spec_headers(), SPEC_BODY, now=1614265330)
    assert payload == {"test": 2432232314}
    assert sign_webhook(SPEC_SECRET, SPEC_ID, int(SPEC_TS), SPEC_BODY) == SPEC_SIG


def test_webhook_spec_vector_by_hand() -> None:
    # The same signature computed from the spec's definition, independently of the helper.
    key = base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{SPEC_ID}.{SPEC_TS}.".encode() + SPEC_BODY, hashlib.sha256).digest()
    assert "v1," + base64.b64encode(mac).decode() == SPEC_SIG


def test_webhook_header_forms() -> None:
    # Any case, str or bytes pairs (ASGI), str body, several entries and secrets.
    upper = {k.upper(): v for k, v in spec_headers().items()}
    assert verify_webhook(SPEC_SECRET, upper, SPEC_BODY, now=1614265330) == {"test": 2432232314}
    pairs = [(k.encode(), v.encode()) for k, v in spec_headers().items()]
    assert verify_webhook([SPEC_SECRET], pairs, SPEC_BODY.decode(), now=1614265330)
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    rotated = spec_headers(f"v1a,abc v1,{base64.b64encode(b'nope').decode()} {SPEC_SIG}")
    assert verify_webhook([other, SPEC_SECRET], rotated, SPEC_BODY, 300, 1614265330)


@pytest.mark.parametrize(
    ("headers", "body", "now", "match"),
    [
        (spec_headers(), b'{"test": 2432232315}', 1614265330, "no webhook signature matches"),
        (spec_headers("v1,AAAA"), SPEC_BODY, 1614265330, "no webhook signature matches"),
        (spec_headers("v2," + SPEC_SIG[3:]), SPEC_BODY, 1614265330, "no webhook signature matches"),
        (spec_headers(), SPEC_BODY, 1614265330 + 301, "old"),
        (spec_headers(), SPEC_BODY, 1614265330 - 301, "future"),
        (spec_headers(ts="1614265330.0"), SPEC_BODY, 1614265330, "malformed"),
        ({"webhook-id": SPEC_ID, "webhook-timestamp": SPEC_TS}, SPEC_BODY, 1614265330, "webhook-signature"),
    ],
    ids=["tampered-body", "wrong-sig", "other-version", "stale", "future", "bad-ts", "missing-header"],
)
def test_webhook_rejected(headers: dict[str, str], body: bytes, now: int, match: str) -> None:
    with pytest.raises(WebhookVerificationError, match=match):
        verify_webhook(SPEC_SECRET, headers, body, now=now)


def test_webhook_within_tolerance_and_other_secret() -> None:
    assert verify_webhook(SPEC_SECRET, spec_headers(), SPEC_BODY, tolerance=300, now=1614265330 + 300)
    other = "whsec_" + base64.b64encode(b"y" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(other, spec_headers(), SPEC_BODY, now=1614265330)
    with pytest.raises(ValueError, match="base64"):
        verify_webhook("whsec_not base64!", spec_headers(), SPEC_BODY, now=1614265330)


# --------------------------------------------------------------- FC2 sh


def test_fc2_sh_vector() -> None:
    sh = fc2_sh(
        "secretpw",
        shopid="26",
        unique_id="100",
        uname="tarou",
        email="tarou@hogehoge.com",
        amount_y="1980",
        ts="20060228185000",
        recurring="0",
        item_code="sample1",
        unit_num="1",
    )
    assert sh == "cdfa85a2c27f3bc879b5d9b7a61bac4550a51f98"
    assert (
        fc2_sh(
            "secretpw",
            shopid=26,
            unique_id=100,
            uname="tarou",
            email="tarou@hogehoge.com",
            amount_y=1980,
            ts="20060228185000",
            recurring=0,
            item_code="sample1",
            unit_num=1,
            short=True,
        )
        == "cdfa85a2c27f3bc8"
    )


def test_fc2_sh_order_and_empty_fields() -> None:
    want = hashlib.sha1(b"pw" + b"1" + b"u1" + b"" * 7 + b"3").hexdigest()
    assert fc2_sh("pw", shopid="1", unique_id="u1", unit_num="3") == want


# --------------------------------------------------------------- tracking links


def test_tracking_link() -> None:
    assert tracking_link("https://t.example.com/", "abc") == "https://t.example.com/c/abc"
    assert (
        tracking_link("https://t.example.com", "abc", subs=("media-1", "x y&z"), deep_link="/sale/spring.html")
        == "https://t.example.com/c/abc?param1=media-1&param2=x+y%26z&jump=%2Fsale%2Fspring.html"
    )
    assert tracking_link("http://h", "L", subs=(None, "b")) == "http://h/c/L?param2=b"
    with pytest.raises(ValueError, match="at most 5"):
        tracking_link("http://h", "L", subs=("1", "2", "3", "4", "5", "6"))


# --------------------------------------------------------------- errors


def test_baton_error_from_connect_error() -> None:
    third: Oneof[Literal["index"], int] = Oneof("index", 2)
    violations = Violations(
        violations=[
            PbViolation(
                field=FieldPath(
                    elements=[
                        FieldPathElement(field_name="items", subscript=third),
                        FieldPathElement(field_name="code"),
                    ]
                ),
                rule_id="string.min_len",
                message="must be at least 1 characters",
            ),
            PbViolation(rule_id="record_conversion.one_amount", message="exactly one amount"),
        ]
    )
    err = BatonError.from_connect_error(ConnectError(Code.INVALID_ARGUMENT, "validation errors", [violations]))
    assert err.code == "invalid_argument"
    assert err.message == "validation errors"
    assert err.violations == [
        Violation("items[2].code", "must be at least 1 characters", "string.min_len"),
        Violation("", "exactly one amount", "record_conversion.one_amount"),
    ]
    assert str(err) == "invalid_argument: validation errors"
    assert err.connect_error is not None and len(err.details) == 1

    plain = BatonError.from_connect_error(ConnectError(Code.UNAUTHENTICATED, "no key"))
    assert (plain.code, plain.violations) == ("unauthenticated", [])


def test_client_arguments_checked() -> None:
    with pytest.raises(ValueError, match="protocol"):
        BatonClient("http://127.0.0.1:1", "k", protocol="http3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_key"):
        BatonClient("http://127.0.0.1:1", "")
    with pytest.raises(ValueError, match="base_url"):
        BatonClient("127.0.0.1:1", "k")


def test_unreachable_server_is_a_baton_error() -> None:
    with BatonClient("http://127.0.0.1:9", "k", timeout_ms=2000) as c:
        from baton.v1.config_pb import WhoAmIRequest

        with pytest.raises(BatonError) as exc_info:
            c.config.who_am_i(WhoAmIRequest())
    assert exc_info.value.code in {"unavailable", "deadline_exceeded"}
