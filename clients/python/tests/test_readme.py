"""The README's example is examples/readme_example.py verbatim, and it works
against the live server: records a conversion, lists the postbacks it
caused, and verifies the signature of the JSON postback that arrives."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from baton.v1.click_pb import Click, RecordClickRequest, TrackingLink

from baton_client import BatonClient, WebhookVerificationError

from conftest import BROWSER_UA, DEMO_ADVERTISER_KEY, JsonEndpoint, Receiver

if TYPE_CHECKING:
    from baton.v1.postback_pb import PostbackEndpoint

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "readme_example.py"
MARKER = "<!-- This block is examples/readme_example.py verbatim"


def readme_example_block() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.find(MARKER)
    assert start >= 0, f"{README} lacks the marker {MARKER!r} before the example"
    m = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert m is not None, f"no ```python block after the marker in {README}"
    return m.group(1)


def test_readme_example_is_the_example_file() -> None:
    assert readme_example_block() == EXAMPLE.read_text(encoding="utf-8")


def test_readme_example_is_ten_lines_or_so() -> None:
    code = [ln for ln in EXAMPLE.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(code) <= 12, f"the README example grew to {len(code)} lines"


@pytest.fixture
def example_click(publisher: BatonClient, link: TrackingLink) -> Click:
    res = publisher.clicks.record_click(
        RecordClickRequest(link_id=link.id, sub_ids=["readme-sub-1"], ip="203.0.113.8", user_agent=BROWSER_UA)
    )
    assert res.click is not None
    return res.click


def test_readme_example_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    baton_url: str,
    example_click: Click,
    get_endpoint: PostbackEndpoint,
    json_endpoint: JsonEndpoint,
    receiver: Receiver,
    run_id: str,
) -> None:
    order_id = f"py-{run_id}-readme"
    monkeypatch.setenv("BATON_URL", baton_url)
    monkeypatch.setenv("BATON_API_KEY", DEMO_ADVERTISER_KEY)
    monkeypatch.setenv("CLICK_ID", example_click.id)
    monkeypatch.setenv("ORDER_ID", order_id)
    monkeypatch.setenv("WEBHOOK_SECRET", json_endpoint.secret)

    example = runpy.run_path(str(EXAMPLE), run_name="__main__")

    # It printed the deliveries the conversion caused: one per endpoint of the offer.
    lines = capsys.readouterr().out.splitlines()
    printed = [ln.split() for ln in lines]
    assert len(printed) == 2, lines
    assert all(p[0].startswith("dlv_") and p[1] == "PENDING" for p in printed), lines

    # The signed JSON postback arrives; the example's handler verifies it.
    got = receiver.wait_for(lambda r: r.method == "POST" and order_id.encode() in r.body)
    assert got.path == "/webhook"
    payload = example["on_webhook"](got.headers, got.body)
    assert isinstance(payload, dict) and payload == json.loads(got.body)
    assert payload["type"] == "conversion.pending"
    assert order_id in json.dumps(payload["data"])
    assert got.headers["webhook-id"] in {p[0] for p in printed}  # the delivery ID

    # A forged or replayed one is refused.
    with pytest.raises(WebhookVerificationError):
        example["on_webhook"](got.headers, got.body.replace(order_id.encode(), b"forged-order"))
    stale = dict(got.headers, **{"webhook-timestamp": str(int(got.headers["webhook-timestamp"]) - 3600)})
    with pytest.raises(WebhookVerificationError):
        example["on_webhook"](stale, got.body)
