from __future__ import annotations

import email
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from portico.clock import FakeClock
from portico.monitor import (
    EmailChannel,
    IntegrationMonitor,
    Redactor,
    SlackChannel,
    WebhookChannel,
    sign_payload,
    verify_signature,
)
from portico.monitor._alerts import Alert, AlertNotification

from .conftest import CANARY, SmtpSink, serve_app

WEBHOOK_SECRET = "whsec-test-0123456789abcdef"


def notification(kind: str = "firing", summary: str = "circuit breaker open") -> AlertNotification:
    clock = FakeClock()
    alert = Alert(
        rule="circuit_open",
        system="alpaca_paper",
        severity="critical",
        summary=summary,
        started_at=clock.now(),
        last_seen_at=clock.now(),
        correlation_id="cid-42",
    )
    return AlertNotification(kind=kind, alert=alert, sent_at=clock.now(), source="prod-1")  # type: ignore[arg-type]


class Receiver:
    """A local HTTP endpoint recording what webhooks post."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = status
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> PlainTextResponse:
        self.requests.append({"path": request.url.path, "body": await request.body(), "headers": dict(request.headers)})
        return PlainTextResponse("ok", status_code=self.status)


async def test_email_over_starttls_with_auth_to_a_real_smtp_server(tmp_path: Path) -> None:
    redactor = Redactor([CANARY])
    with SmtpSink(tmp_path) as smtp:
        channel = EmailChannel.from_config(
            "ops_mail",
            {
                "type": "email",
                "host": "127.0.0.1",
                "port": smtp.port,
                "use_tls": True,
                "username": smtp.username,
                "password": smtp.password,
                "sender": "portico@example.test",
                "recipients": ["ops@example.test", "oncall@example.test"],
                "ca_file": str(smtp.cert),
            },
            redactor=redactor,
        )
        await channel.send(notification(summary=f"down: key {CANARY} rejected"))
    [received] = smtp.messages
    assert received["tls"] and received["authenticated"]
    assert received["from"] == "portico@example.test"
    assert received["to"] == ["ops@example.test", "oncall@example.test"]
    message = email.message_from_string(received["data"])
    assert message["Subject"].startswith("[prod-1 CRITICAL] alpaca_paper: down: key ***")
    assert message["X-Portico-Alert"] == "circuit_open/alpaca_paper/"
    body = message.get_payload(decode=True).decode()
    assert "correlation_id: cid-42" in body and "rule: circuit_open" in body
    assert CANARY not in received["data"] and smtp.password not in received["data"]


async def test_email_refuses_a_server_it_cannot_verify(tmp_path: Path) -> None:
    import ssl

    with SmtpSink(tmp_path) as smtp:
        channel = EmailChannel.from_config(
            "m",
            {"type": "email", "host": "127.0.0.1", "port": smtp.port, "recipients": ["a@b.test"]},
            redactor=Redactor(),
        )
        with pytest.raises(ssl.SSLError):
            await channel.send(notification())
    assert smtp.messages == []


async def test_signed_webhook_delivery_and_verification() -> None:
    receiver = Receiver()
    async with serve_app(receiver.app) as url:
        channel = WebhookChannel.from_config(
            "pager", {"type": "webhook", "url": f"{url}/hooks/portico", "secret": WEBHOOK_SECRET}, redactor=Redactor()
        )
        await channel.send(notification(summary=f"token={CANARY}"))
    [req] = receiver.requests
    assert req["path"] == "/hooks/portico"
    headers = req["headers"]
    assert headers["x-portico-signature"].startswith("sha256=")
    assert verify_signature(WEBHOOK_SECRET, req["body"], headers["x-portico-timestamp"], headers["x-portico-signature"])
    assert not verify_signature("wrong-secret", req["body"], headers["x-portico-timestamp"], headers["x-portico-signature"])
    tampered = req["body"].replace(b"critical", b"warning")
    assert not verify_signature(WEBHOOK_SECRET, tampered, headers["x-portico-timestamp"], headers["x-portico-signature"])
    old = str(int(headers["x-portico-timestamp"]) - 3600)
    assert not verify_signature(WEBHOOK_SECRET, req["body"], old, sign_payload(WEBHOOK_SECRET, old, req["body"]))
    payload = json.loads(req["body"])
    assert payload["kind"] == "firing" and payload["alert"]["rule"] == "circuit_open"
    assert payload["alert"]["key"] == "circuit_open/alpaca_paper/"
    assert CANARY not in req["body"].decode() and WEBHOOK_SECRET not in req["body"].decode()


async def test_slack_incoming_webhook() -> None:
    receiver = Receiver()
    async with serve_app(receiver.app) as url:
        hook = f"{url}/services/T000/B000/{CANARY}"
        channel = SlackChannel.from_config("slack", {"type": "slack", "webhook_url": hook}, redactor=Redactor())
        await channel.send(notification(kind="resolved"))
        assert CANARY not in repr(channel) and CANARY not in repr(channel.options)
        assert CANARY not in channel.redactor.redact_text(f"posting to {hook} failed")
    [req] = receiver.requests
    body = json.loads(req["body"])
    assert body["text"].startswith("[prod-1 RESOLVED] alpaca_paper")
    assert body["attachments"][0]["color"] == "#2e7d32"


async def test_a_failing_webhook_raises_and_the_monitor_records_it(fake_clock: FakeClock) -> None:
    receiver = Receiver(status=500)
    async with serve_app(receiver.app) as url:
        monitor = IntegrationMonitor(
            clock=fake_clock,
            redactor=Redactor(),
            config={"channels": {"hook": {"type": "webhook", "url": f"{url}/x", "secret": WEBHOOK_SECRET}}},
        )
        monitor.set_breaker_state("a", "open")
        await monitor.drain()
    assert len(receiver.requests) == 1
    [entry] = monitor.recent_notifications()
    assert entry["result"] == "failed" and "500" in entry["error"]
    assert monitor.pending_notifications == 1
    assert 'portico_alert_notifications_total{channel="hook",result="failed"} 1.0' in monitor.prometheus.exposition().decode()

