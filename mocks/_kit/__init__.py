"""The mock kit: the base app, fault injection, request journal, simulated clock, seeded market data
and the simulated venue every vendor mock is built on."""

from __future__ import annotations

from portico.mocks._kit._app import MockApp, MockFaultSource, json_response
from portico.mocks._kit._clock import DEFAULT_START, MockClock
from portico.mocks._kit._data import (
    ANCHOR,
    NEW_YORK,
    BarData,
    CorporateActionData,
    MarketDataGenerator,
    QuoteData,
    Timeframe,
    TradeData,
    is_trading_day,
    session_bounds,
)
from portico.mocks._kit._faults import FaultKind, FaultPlan, FaultRule, load_faults
from portico.mocks._kit._journal import Journal, JournalEntry
from portico.mocks._kit._server import (
    MockServer,
    RunningMock,
    build_mock_app,
    mock_transport,
    mock_urls,
    resolve_mock,
    start_mock,
)
from portico.mocks._kit._venue import (
    OPEN_STATUSES,
    AccountState,
    AssetInfo,
    FillState,
    OrderState,
    PositionState,
    SimulatedVenue,
    VenueError,
    VenueEvent,
)

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
