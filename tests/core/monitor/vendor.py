"""A tiny market-data vendor for the monitor's end-to-end tests: a connector and its mock server.

The mock is built on the mock kit (so faults are injected at run time through ``/__mock__/faults``); the
connector's health check makes one cheap call that carries its API key in the query string, the way
Alpha Vantage does, so the tests can prove the key never surfaces anywhere.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from portico.hookspecs import hookimpl
from portico.mocks import MockApp
from portico.sdk import (
    CheckResult,
    Connector,
    ConnectorKind,
    ConnectorSpec,
    Environment,
    MockSpec,
    RateLimitPolicy,
    RateWindow,
    RetryPolicy,
)

SPEC = ConnectorSpec(
    name="pulsefeed",
    display_name="Pulse Feed",
    kinds=(ConnectorKind.MARKET_DATA,),
    environments=(Environment(name="live", urls={"base": "https://api.pulsefeed.test"}),),
    throttling=RateLimitPolicy(
        windows=(RateWindow(limit=50, period=1),), retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
    ),
    mock=MockSpec(app="tests.core.monitor.vendor:create_app", url_keys={"base": ""}),
)


def create_app(seed: int = 0, faults: Any = None) -> MockApp:
    """The vendor's mock: ``GET /v1/status?apikey=...`` answers ``{"status": "ok"}``."""

    keys_seen: set[str] = set()

    async def status(request: Request) -> JSONResponse:
        key = request.query_params.get("apikey")
        if not key:
            return JSONResponse({"error": "missing apikey"}, status_code=401)
        keys_seen.add(key)  # the journal masks keys; the tests check the real one was sent
        return JSONResponse({"status": "ok", "server_time": 1})

    app = MockApp([Route("/v1/status", status)], name="pulsefeed", seed=seed, faults=faults)
    app.state.keys_seen = keys_seen
    return app


class PulseFeed(Connector):
    """Checks the feed with one status call."""

    spec = SPEC

    async def open(self) -> None:
        self.client = self.context.api_client("base")

    async def close(self) -> None:
        await self.client.aclose()

    async def check(self) -> CheckResult:
        started = time.perf_counter()
        try:
            body = await self.client.get_json(
                "/v1/status", params={"apikey": self.context.secret("api_key")}, endpoint="GET /v1/status"
            )
        except Exception as exc:
            return CheckResult(ok=False, system=self.system, detail=f"{type(exc).__name__}: {exc}", checks={"reachable": False})
        return CheckResult(
            ok=body.get("status") == "ok",
            system=self.system,
            latency_ms=(time.perf_counter() - started) * 1000,
            checks={"reachable": True, "authenticated": True},
        )


def plugin() -> SimpleNamespace:
    """A plugin object providing :class:`PulseFeed`."""

    @hookimpl
    def portico_connectors() -> list[type[Connector]]:
        return [PulseFeed]

    return SimpleNamespace(__name__="pulsefeed_plugin", portico_connectors=portico_connectors)
