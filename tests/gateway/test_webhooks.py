"""Inbound webhooks: HMAC signature, timestamp tolerance, and a replayed delivery acted on once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from portico.clock import FakeClock
from portico.gateway import WebhookConfig, WebhookRefused, WebhookVerifier, sign_webhook
from portico.store import Database
from tests.gateway.stack import WEBHOOK_SECRET, Stack


def _post(
    stack: Stack,
    body: bytes,
    *,
    delivery: str,
    ts: int | None = None,
    secret: str = WEBHOOK_SECRET,
    system: str = "alpaca_a",
) -> httpx.Response:
    stamp = str(int(time.time()) if ts is None else ts)
    headers = {
        "X-Portico-Timestamp": stamp,
        "X-Portico-Delivery": delivery,
        "X-Portico-Signature": sign_webhook(secret, stamp, delivery, body),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{stack.url}/v1/webhooks/{system}", content=body, headers=headers)


def _webhook_events(stack: Stack, delivery: str) -> list[int]:
    return [e.id for e in stack.gateway.events.since(0, ["webhooks"]) if e.data.get("delivery") == delivery]


def test_a_signed_order_update_refreshes_the_order_once_even_when_replayed(stack: Stack) -> None:
    with stack.client("bob") as http:
        placed = http.post(
            "/v1/systems/alpaca_a/orders", json={"symbol": "AAPL", "side": "buy", "quantity": "1"}
        ).json()
    body = json.dumps({"type": "order_update", "order_id": placed["client_order_id"]}).encode()
    first = _post(stack, body, delivery="dlv-1")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted"
    assert first.json()["order"]["id"] == placed["id"]
    replay = _post(stack, body, delivery="dlv-1")
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert len(_webhook_events(stack, "dlv-1")) == 1


def test_a_wrong_signature_is_refused(stack: Stack) -> None:
    body = b'{"type": "file_ready", "file": "positions.csv"}'
    answer = _post(stack, body, delivery="dlv-bad", secret="not-the-secret")
    assert answer.status_code == 401
    assert "signature" in answer.json()["detail"].lower()
    assert WEBHOOK_SECRET not in answer.text
    # a body changed after signing is refused too
    stamp = str(int(time.time()))
    signed = sign_webhook(WEBHOOK_SECRET, stamp, "dlv-tamper", body)
    tampered = httpx.post(
        f"{stack.url}/v1/webhooks/alpaca_a",
        content=body.replace(b"positions", b"evil"),
        headers={
            "X-Portico-Timestamp": stamp,
            "X-Portico-Delivery": "dlv-tamper",
            "X-Portico-Signature": signed,
        },
    )
    assert tampered.status_code == 401
    assert _webhook_events(stack, "dlv-bad") == [] and _webhook_events(stack, "dlv-tamper") == []


def test_a_stale_or_future_timestamp_is_refused(stack: Stack) -> None:
    body = b'{"type": "file_ready"}'
    old = _post(stack, body, delivery="dlv-old", ts=int(time.time()) - 400)
    future = _post(stack, body, delivery="dlv-future", ts=int(time.time()) + 400)
    assert old.status_code == 401 and "tolerance 300 s" in old.json()["detail"]
    assert future.status_code == 401
    fresh = _post(stack, body, delivery="dlv-fresh", ts=int(time.time()) - 10)
    assert fresh.status_code == 200


def test_missing_headers_and_unknown_systems(stack: Stack) -> None:
    answer = httpx.post(f"{stack.url}/v1/webhooks/alpaca_a", content=b"{}")
    assert answer.status_code == 401 and "X-Portico-Signature" in answer.json()["detail"]
    assert _post(stack, b"{}", delivery="dlv-x", system="alpaca_b").status_code == 404
    not_json = _post(stack, b"[1, 2]", delivery="dlv-array")
    assert not_json.status_code == 422 and not_json.json()["field"] == "body"
    # refused as not processed: the sender's corrected retry with that delivery id is processed
    assert _post(stack, b'{"type": "file_ready"}', delivery="dlv-array").json()["status"] == "accepted"


def test_the_tolerance_boundary_on_a_fake_clock(tmp_path: Path, fake_clock: FakeClock) -> None:
    verifier = WebhookVerifier(
        {"sys": WebhookConfig(secret=WEBHOOK_SECRET, tolerance_seconds=300)},
        Database(f"sqlite:///{tmp_path / 'w.db'}"),
        fake_clock,
    )
    now = int(fake_clock.now().timestamp())

    def deliver(delivery: str, stamp: int) -> bool:
        sig = sign_webhook(WEBHOOK_SECRET, str(stamp), delivery, b"{}")
        return verifier.verify("sys", str(stamp), delivery, sig, b"{}")

    assert deliver("edge-past", now - 300) is True
    assert deliver("edge-future", now + 300) is True
    for delivery, stamp in (("late", now - 301), ("early", now + 301)):
        with pytest.raises(WebhookRefused, match="tolerance 300 s"):
            deliver(delivery, stamp)
    assert deliver("edge-past", now - 300) is False  # the replay is recognised, not acted on again
    with pytest.raises(WebhookRefused, match="Unix seconds"):
        verifier.verify("sys", "yesterday", "d", "v1=00", b"{}")
