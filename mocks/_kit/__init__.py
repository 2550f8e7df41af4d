"""The mock kit: the base app, fault injection, request journal, simulated clock, seeded market data
and the simulated venue every vendor mock is built on.

A vendor mock is a :class:`MockApp` with the vendor's routes, built by a factory that takes ``seed``
and ``faults``::

    from starlette.routing import Route
    from portico.mocks import MockApp, MockClock, SimulatedVenue, json_response

    def create_app(seed: int = 0, faults=None) -> MockApp:
        clock = MockClock()
        venue = SimulatedVenue(seed, clock=clock)

        async def account(request):
            return json_response({"cash": str(venue.balances()["cash"])})

        app = MockApp([Route("/account", account)], name="myvenue", seed=seed, faults=faults,
                      clock=clock, url_keys={"base": ""})
        app.venue = venue
        return app

Declare it in the connector's manifest (``MockSpec(app="my_plugin.mock:create_app", url_keys=...)``);
``portico mock NAME`` and ``start_mock(NAME)`` then serve it over TCP, tests mount it in-process with
``httpx.ASGITransport`` (:func:`mock_transport`), and every request lands in ``app.journal``.
"""

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
