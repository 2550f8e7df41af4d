"""The public surface of portico.mocks is pinned: removing a name is a breaking change."""

from __future__ import annotations

import portico.mocks
import portico.mocks.alpaca


def test_public_names() -> None:
    assert sorted(portico.mocks.__all__) == sorted(
        [
            "ANCHOR", "DEFAULT_START", "NEW_YORK", "OPEN_STATUSES", "AccountState", "AssetInfo", "BarData",
            "CorporateActionData", "FaultKind", "FaultPlan", "FaultRule", "FillState", "Journal", "JournalEntry",
            "MarketDataGenerator", "MockApp", "MockClock", "MockFaultSource", "MockServer", "OrderState",
            "PositionState", "QuoteData", "RunningMock", "SimulatedVenue", "Timeframe", "TradeData", "VenueError",
            "VenueEvent", "build_mock_app", "is_trading_day", "json_response", "load_faults", "mock_transport",
            "mock_urls", "resolve_mock", "session_bounds", "start_mock",
        ]
    )
    for name in portico.mocks.__all__:
        assert getattr(portico.mocks, name) is not None
    assert portico.mocks.alpaca.__all__ == ["RATE_LIMIT_PER_MINUTE", "AlpacaMockApp", "create_app"]
