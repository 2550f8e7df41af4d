# ruff: noqa: F405 - the names listed come from the kit, loaded on first use
"""Mock servers: the mock kit and one faithful mock per vendor.

Everything public of the kit is re-exported here: ``from portico.mocks import start_mock, MockApp``. The
kit (starlette, uvicorn, the market data generator) loads on first use, so importing a plugin module
under ``portico.mocks`` (``portico plugins`` does) loads no mock server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.mocks._kit import *  # noqa: F403

__all__ = [
    "ANCHOR",
    "DEFAULT_START",
    "NEW_YORK",
    "OPEN_STATUSES",
    "AccountState",
    "AssetInfo",
    "BarData",
    "CorporateActionData",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "FillState",
    "Journal",
    "JournalEntry",
    "MarketDataGenerator",
    "MockApp",
    "MockClock",
    "MockFaultSource",
    "MockServer",
    "OrderState",
    "PositionState",
    "QuoteData",
    "RunningMock",
    "SimulatedVenue",
    "Timeframe",
    "TradeData",
    "VenueError",
    "VenueEvent",
    "build_mock_app",
    "is_trading_day",
    "json_response",
    "load_faults",
    "mock_transport",
    "mock_urls",
    "resolve_mock",
    "session_bounds",
    "start_mock",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        if name == "MockServer":
            from portico.mocks._descriptor import MockServer

            value: Any = MockServer
        else:
            value = getattr(importlib.import_module("portico.mocks._kit"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'portico.mocks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
