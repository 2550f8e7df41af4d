"""Polygon through the market data service: bars pass its quality checks, and the stream feeds its
subscriptions natively (no polling)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from portico.connectors.polygon import PolygonConnector
from portico.marketdata import MarketDataService
from portico.mocks import start_mock
from portico.mocks._kit import MockClock
from portico.mocks.polygon import create_app
from portico.models import Bar, Quote
from portico.sdk import ConnectorContext
from portico.testing import wait_for_async
from tests.connectors.polygon.conftest import PolygonHarness

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


async def test_daily_bars_pass_the_services_quality_checks(polygon: PolygonHarness) -> None:
    connector = polygon.connector(system_id="polygon")
    service = MarketDataService({"polygon": connector}, clock=polygon.clock)
    try:
        result = await service.get_market_data(
            "polygon", ["AAPL", "MSFT"], "bars", {"interval": "1day", "limit": 30, "cache": False}
        )
    finally:
        await service.aclose()
    assert result.errors == {}
    assert result.quality.ok, result.quality.issues
    assert set(result.data) == {"AAPL", "MSFT"} and result.providers == {"AAPL": "polygon", "MSFT": "polygon"}
    assert all(len(bars) == 30 and all(isinstance(b, Bar) for b in bars) for bars in result.data.values())


@pytest.fixture
async def streaming() -> AsyncIterator[tuple[MarketDataService, PolygonConnector]]:
    running = start_mock(create_app(seed=2, clock=MockClock(NOW), stream_interval=0.01))
    context = ConnectorContext.for_testing(
        PolygonConnector, urls=running.urls, credentials={"api_key": "k"}, connection={"plan": "advanced"}
    )
    connector = PolygonConnector(context)
    service = MarketDataService({"polygon": connector})
    try:
        yield service, connector
    finally:
        await service.aclose()
        await connector.close()
        await running.stop()


async def test_a_quotes_subscription_reads_the_stream(
    streaming: tuple[MarketDataService, PolygonConnector],
) -> None:
    service, _ = streaming
    got: list[Quote] = []
    sub_id = await service.subscribe_market_data("polygon", ["AAPL", "MSFT"], "quotes", got.append)
    assert service.subscription(sub_id).mode == "stream"
    await wait_for_async(lambda: {q.symbol for q in got} == {"AAPL", "MSFT"} and len(got) >= 6)
    await service.unsubscribe_market_data(sub_id)
    assert all(isinstance(q, Quote) and q.bid_price <= q.ask_price for q in got)
