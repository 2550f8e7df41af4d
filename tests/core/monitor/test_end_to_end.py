"""The issue's "done means": an injected fault shows within one health-check interval in logs (with a
correlation id), metrics, /health, the dashboard, an email and a signed webhook, then resolves; and the
canary key configured for the system appears nowhere."""

from __future__ import annotations

import email
import json
from pathlib import Path

import httpx

from portico.clock import FakeClock
from portico.monitor import verify_signature

from .conftest import CANARY, LogCapture
from .stack import DASHBOARD_TOKEN, WEBHOOK_SECRET, monitored_runtime


async def test_injected_fault_shows_everywhere_then_resolves(tmp_path: Path, logs: LogCapture, fake_clock: FakeClock) -> None:
    async with monitored_runtime(tmp_path, fake_clock, interval=60) as stack:
        monitor, server = stack.monitor, stack.server
        await monitor.tick()
        assert monitor.health("pulse").status == "healthy"

        await stack.fail()
        fake_clock.advance(60)  # one health-check interval
        await monitor.tick()
        await monitor.drain()

        # health and /health
        report = monitor.health("pulse")
        assert report.status == "down" and "ServerError" in report.reason
        async with httpx.AsyncClient() as c:
            health = await c.get(f"{server.url}/health")
            page = await c.get(f"{server.url}/dashboard", headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"})
            metrics_text = (await c.get(f"{server.url}/metrics")).text
        assert health.status_code == 503 and health.json()["systems"]["pulse"]["status"] == "down"
        assert 'data-system="pulse" data-status="down"' in page.text

        # logs: every attempt once, with the health check's correlation id
        failed = [line for line in logs.events("external_call") if line["status"] == 503]
        assert len(failed) == 2  # the retry policy allows two attempts
        assert failed[0]["endpoint"] == "GET /v1/status" and failed[0]["correlation_id"]
        assert failed[0]["correlation_id"] == failed[1]["correlation_id"]
        assert [line["attempt"] for line in failed] == [1, 2]
        change = [line for line in logs.events("health.changed") if line["status"] == "down"]
        assert change and change[0]["correlation_id"] == failed[0]["correlation_id"]

        # metrics
        m = monitor.metrics("pulse")
        assert m["errors"] == 2 and m["retries"] == 1 and m["health"]["status"] == "down"
        assert 'portico_system_health{system="pulse"} 0.0' in metrics_text
        assert 'portico_request_errors_total{endpoint="GET /v1/status",error_class="ServerError",system="pulse"} 2.0' in metrics_text

        # alerts: email and signed webhook
        [mail] = stack.smtp.messages
        subject = email.message_from_string(mail["data"])["Subject"]
        assert "EMERGENCY] pulse: system down" in subject and mail["tls"]
        [hook] = stack.receiver.requests
        h = hook["headers"]
        assert verify_signature(WEBHOOK_SECRET, hook["body"], h["x-portico-timestamp"], h["x-portico-signature"])
        assert json.loads(hook["body"])["alert"]["rule"] == "system_down"

        # heal: the next interval resolves everything and says so
        await stack.heal()
        fake_clock.advance(60)
        await monitor.tick()
        await monitor.drain()
        assert monitor.health("pulse").status == "healthy"
        assert monitor.alerts.active() == []
        assert len(stack.smtp.messages) == 2
        resolved = email.message_from_string(stack.smtp.messages[1]["data"])["Subject"]
        assert "RESOLVED] pulse: system down" in resolved
        assert json.loads(stack.receiver.requests[1]["body"])["kind"] == "resolved"
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{server.url}/health")).status_code == 200
            state = (await c.get(f"{server.url}/dashboard/state", headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"})).text

        # the canary: configured as the system's key, sent in every call's query string
        assert CANARY in stack.integration.systems["pulse"].mock.app.state.keys_seen, "the canary was really sent"
        for where, text in {
            "logs": logs.text,
            "metrics": metrics_text,
            "health": health.text,
            "page": page.text,
            "state": state,
            "emails": "".join(m["data"] for m in stack.smtp.messages),
            "webhooks": "".join(r["body"].decode() for r in stack.receiver.requests),
            "events": str(monitor.recent_events(200)),
        }.items():
            assert CANARY not in text, f"canary leaked into {where}"
