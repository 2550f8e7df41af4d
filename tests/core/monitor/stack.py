"""The whole monitored runtime for end-to-end tests: a vendor on its mock, SMTP, a webhook receiver, the server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from portico.clock import Clock
from portico.monitor import IntegrationMonitor, RuntimeServer
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration

from .conftest import CANARY, SmtpSink, serve_app
from .test_channels import Receiver
from .vendor import plugin

WEBHOOK_SECRET = "whsec-e2e-abcdef0123456789"
DASHBOARD_TOKEN = "dash-e2e-token-0123456789abcdef"


@dataclass
class Stack:
    integration: AsyncIntegration
    monitor: IntegrationMonitor
    server: RuntimeServer
    smtp: SmtpSink
    receiver: Receiver
    mock_url: str

    async def fail(self) -> None:
        """Make the vendor's mock answer every status call with 503."""
        async with httpx.AsyncClient() as c:
            r = await c.post(f"{self.mock_url}/__mock__/faults", json={"route": "/v1/status", "kind": "error", "status": 503})
            r.raise_for_status()

    async def heal(self) -> None:
        """Remove the fault."""
        async with httpx.AsyncClient() as c:
            (await c.delete(f"{self.mock_url}/__mock__/faults")).raise_for_status()


@contextlib.asynccontextmanager
async def monitored_runtime(
    tmp_path: Path, clock: Clock, *, interval: float = 60, refresh_seconds: float = 2.0
) -> AsyncIterator[Stack]:
    """Start everything; the runtime has one system, ``pulse``, on the vendor's mock with the canary key."""
    pm = PluginManager(autoload=False)
    pm.register(plugin(), name="pulsefeed")
    receiver = Receiver()
    with SmtpSink(tmp_path) as smtp:
        async with serve_app(receiver.app) as hook_url:
            config: dict[str, Any] = {
                "systems": {
                    "pulse": {
                        "type": "market_data",
                        "connector": "pulsefeed",
                        "mock": True,
                        "authentication": {"type": "none", "credentials": {"api_key": CANARY}},
                    }
                },
                "monitoring": {
                    "health_check_interval": interval,
                    "alert_destinations": ["ops_mail", "pager"],
                    "http": {"token": DASHBOARD_TOKEN, "refresh_seconds": refresh_seconds},
                    "history": {"sample_interval": 1},
                    "channels": {
                        "ops_mail": {
                            "type": "email",
                            "host": "127.0.0.1",
                            "port": smtp.port,
                            "username": smtp.username,
                            "password": smtp.password,
                            "sender": "portico@example.test",
                            "recipients": ["ops@example.test"],
                            "ca_file": str(smtp.cert),
                        },
                        "pager": {"type": "webhook", "url": f"{hook_url}/alerts", "secret": WEBHOOK_SECRET},
                    },
                },
                "database_url": f"sqlite:///{tmp_path / 'portico.db'}",
            }
            integration = AsyncIntegration(config, plugins=pm, clock=clock)
            monitor = integration.monitor
            await integration.start()
            system = integration.systems["pulse"]
            assert system.state == "connected", system.last_error
            server = RuntimeServer(monitor, integration, port=0, token=DASHBOARD_TOKEN, refresh_seconds=refresh_seconds)
            await server.start()
            try:
                yield Stack(integration, monitor, server, smtp, receiver, system.mock.base_url)
            finally:
                await server.stop()
                await integration.stop()
                await monitor.drain()
