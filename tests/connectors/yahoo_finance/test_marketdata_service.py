"""Yahoo Finance through the market data service: its daily bars pass the quality checks, and it serves as the
fallback of a Polygon system that cannot answer (the example config's chain polygon -> yahoo_finance)."""

from __future__ import annotations

from portico.clock import FakeClock
from portico.marketdata import MarketDataService
from portico.models import Bar
from tests.connectors.polygon.conftest import PolygonHarness
from tests.connectors.yahoo_finance.conftest import PINNED, YahooHarness
from tests.core.marketdata.conftest import RecordingMonitor


async def test_daily_bars_pass_the_services_quality_checks(yahoo: YahooHarness) -> None:
    service = MarketDataService({"yahoo_finance": yahoo.connector()}, clock=yahoo.clock)
    try:
        result = await service.get_market_data(
            "yahoo_finance", ["AAPL", "MSFT"], "bars", {"interval": "1day", "limit": 30, "cache": False}
        )
    finally:
        await service.aclose()
    assert result.errors == {}
    assert result.quality.ok, result.quality.issues
    assert result.providers == {"AAPL": "yahoo_finance", "MSFT": "yahoo_finance"}
    assert all(len(bars) == 30 and all(isinstance(b, Bar) for b in bars) for bars in result.data.values())
    assert all(bars[-1].timestamp.date().isoformat() == "2026-11-20" for bars in result.data.values())


async def test_yahoo_finance_answers_when_polygon_cannot(yahoo: YahooHarness) -> None:
    polygon = PolygonHarness(FakeClock(PINNED))
    # the key's plan is not entitled to aggregates: 403 NOT_AUTHORIZED, as the vendor sends it
    polygon.app.faults.add({"route": "/v2/aggs/*", "kind": "error", "status": 403,
                            "body": {"status": "NOT_AUTHORIZED", "request_id": "r1",
                                     "message": "You are not entitled to this data."}})  # fmt: skip
    monitor = RecordingMonitor()
    service = MarketDataService(
        {"polygon": polygon.connector(), "yahoo_finance": yahoo.connector()},
        clock=yahoo.clock,
        monitor=monitor,
        config={"fallback": {"polygon": ["yahoo_finance"]}, "cache": {"enabled": False}},
    )
    try:
        result = await service.get_market_data(
            "polygon", ["AAPL", "MSFT"], "bars", {"interval": "1day", "limit": 5}
        )
    finally:
        await service.aclose()
        for connector in polygon.connectors:
            await connector.close()
    assert result.providers == {"AAPL": "yahoo_finance", "MSFT": "yahoo_finance"}
    assert result.served_by == "yahoo_finance"
    assert all(len(result[s]) == 5 for s in ("AAPL", "MSFT"))
    assert result.quality.ok, result.quality.issues
    assert polygon.calls("/v2/aggs"), "polygon was asked first"
    fallbacks = monitor.named("marketdata.fallback")
    assert [(f["from_system"], f["to_system"], f["reason"]) for f in fallbacks] == [
        ("polygon", "yahoo_finance", "unsupported")
    ]
