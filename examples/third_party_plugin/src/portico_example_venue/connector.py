"""The Example Venue connector."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from portico.http import Timeouts
from portico.models import Bar, BarInterval, Instrument, Quote
from portico.sdk import CheckResult, Connector, ConnectorContext
from portico_example_venue.spec import SPEC, ExampleVenueConnection


class ExampleVenueConnector(Connector):
    """Market data from the Example Venue."""

    spec = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._client: Any = None

    async def open(self) -> None:
        headers = {}
        if self.context.auth is None:
            # without an AuthenticationManager (a bare test context) send the key header ourselves
            headers["X-API-Key"] = self.context.secret("api_key")
        settings = self.context.settings_as(ExampleVenueConnection)
        self._client = self.context.api_client("base", headers=headers, timeouts=Timeouts(total=settings.timeout))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def check(self) -> CheckResult:
        started = time.perf_counter()
        await self._client.get_json("/v1/status", endpoint="GET /v1/status")
        return CheckResult(
            ok=True,
            system=self.system,
            latency_ms=(time.perf_counter() - started) * 1000,
            detail="status ok",
            checks={"reachable": True, "authenticated": True},
        )

    async def get_bars(
        self,
        symbol: str,
        interval: BarInterval = BarInterval.DAY,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        adjusted: bool = False,
    ) -> list[Bar]:
        params = {"limit": str(limit or 100)}
        body = await self._client.get_json(f"/v1/bars/{symbol}", params=params, endpoint="GET /v1/bars/{symbol}")
        bars = [
            Bar(
                symbol=body["symbol"],
                timestamp=datetime.fromisoformat(row["date"]).replace(tzinfo=UTC),
                interval=BarInterval.DAY,
                open=Decimal(str(row["o"])),
                high=Decimal(str(row["h"])),
                low=Decimal(str(row["l"])),
                close=Decimal(str(row["c"])),
                volume=Decimal(row["v"]),
                source=self.system,
            )
            for row in body["bars"]
        ]
        if start is not None:
            bars = [b for b in bars if b.timestamp >= start]
        if end is not None:
            bars = [b for b in bars if b.timestamp <= end]
        return bars

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        body = await self._client.get_json("/v1/quotes", params={"symbols": ",".join(symbols)}, endpoint="GET /v1/quotes")
        return {
            symbol: Quote(
                symbol=symbol,
                timestamp=datetime.fromisoformat(q["time"]),
                bid_price=Decimal(str(q["bid"])),
                ask_price=Decimal(str(q["ask"])),
                last_price=Decimal(str(q["last"])),
                source=self.system,
            )
            for symbol, q in body["quotes"].items()
        }

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        body = await self._client.get_json("/v1/search", params={"q": query}, endpoint="GET /v1/search")
        return [Instrument(symbol=r["symbol"], name=r["name"]) for r in body["results"][:limit]]
