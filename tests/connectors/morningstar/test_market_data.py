"""Morningstar in the market data service: fundamentals and search through it, and as a fallback."""

from __future__ import annotations

from portico.clock import FakeClock
from portico.marketdata import MarketDataService
from portico.models import Fundamentals
from tests.connectors.morningstar.conftest import MsHarness


async def test_fundamentals_and_search_through_the_service(ms: MsHarness, fake_clock: FakeClock) -> None:
    service = MarketDataService(
        {"morningstar": ms.connector()}, clock=fake_clock, config={"cache": {"enabled": False}}
    )
    try:
        result = await service.get_market_data("morningstar", ["SPY", "F00000YOOK"], "fundamentals")
        assert result.errors == {}
        assert {s: type(v) for s, v in result.data.items()} == {
            "SPY": Fundamentals,
            "F00000YOOK": Fundamentals,
        }
        assert result.data["F00000YOOK"].name == "Morningstar US Equity"
        assert result.providers == {"SPY": "morningstar", "F00000YOOK": "morningstar"}
        found = await service.get_market_data("morningstar", "US0378331005", "search")
        assert [i.symbol for i in found.data["US0378331005"]] == ["AAPL"]
    finally:
        await service.aclose()


async def test_an_outage_falls_back_to_the_next_system(ms: MsHarness, fake_clock: FakeClock) -> None:
    down = MsHarness(fake_clock, faults=[{"route": "/md-api/*", "kind": "error", "status": 503}])
    systems = {"ms_primary": down.connector(), "ms_backup": ms.connector()}
    config = {"fallback": {"ms_primary": ["ms_backup"]}, "cache": {"enabled": False}}
    service = MarketDataService(systems, clock=fake_clock, config=config)
    try:
        result = await service.get_market_data("ms_primary", "FEUSA04AER", "fundamentals")
        assert result.providers == {"FEUSA04AER": "ms_backup"}
        assert result.data["FEUSA04AER"].name == "SPDR S&P 500 ETF Trust"
        assert [a.system for a in result.attempts] == ["ms_primary"]
    finally:
        await service.aclose()
        for connector in down.connectors:
            await connector.close()
