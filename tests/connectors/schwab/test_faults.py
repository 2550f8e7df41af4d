"""Placement under faults, over TCP: lost answers are resolved by matching, never sent twice, never
reported as rejected."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.clock import FakeClock
from portico.connectors.schwab import SPEC, SchwabAuth, SchwabConnector
from portico.connectors.schwab.spec import AUTH_SCHEME
from portico.errors import OutcomeUnknown
from portico.mocks import DEFAULT_START, RunningMock
from portico.models import Order, OrderRequest, OrderSide, OrderStatus
from portico.sdk import ConnectorContext, resolve_url_templates
from tests.connectors.schwab.conftest import APP_KEY, APP_SECRET, CALLBACK

FAULTS = [
    # 20% of placements are committed, then the answer is lost
    {"route": "/trader/v1/accounts/*/orders", "method": "POST", "kind": "drop_after", "probability": 0.2},
    # 5% of placements get a 502 after nothing happened (the connector cannot tell that from a loss)
    {
        "route": "/trader/v1/accounts/*/orders",
        "method": "POST",
        "kind": "error",
        "status": 502,
        "probability": 0.05,
    },
    # 5% of Trader API requests (placements, lookups) have their connection dropped before processing
    {"route": "/trader/*", "kind": "drop_before", "probability": 0.05},
]


def make_connector(running: RunningMock, clock: FakeClock, **connection: Any) -> SchwabConnector:
    manager = AuthenticationManager(clock=clock)
    manager.register_scheme(AUTH_SCHEME, SchwabAuth)
    options = resolve_url_templates(
        {**SPEC.auth[0].options, "redirect_uri": CALLBACK, "auto_login": True}, dict(running.urls)
    )
    credentials = {"client_id": SecretStr(APP_KEY), "client_secret": SecretStr(APP_SECRET)}
    auth = manager.build("schwab", AUTH_SCHEME, credentials, options)
    context = ConnectorContext.for_testing(
        SchwabConnector,
        urls=running.urls,
        credentials=credentials,
        auth=auth,
        clock=clock,
        connection=connection,
    )
    return SchwabConnector(context)


async def place_all(connector: SchwabConnector, count: int, concurrency: int) -> tuple[dict[str, Order], int]:
    gate = asyncio.Semaphore(concurrency)
    placed: dict[str, Order] = {}
    unknown = 0

    async def place(i: int) -> None:
        nonlocal unknown
        request = OrderRequest(
            symbol="F", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=f"fault-{i:03d}"
        )
        async with gate:
            for _ in range(20):  # bounded: a connector that never settles fails the test, not the suite
                try:
                    placed[f"fault-{i:03d}"] = await connector.place_order(request)
                    return
                except OutcomeUnknown:
                    # what the trading service does: ask again; the connector matches before sending
                    unknown += 1
            raise AssertionError(f"fault-{i:03d} never settled in 20 attempts")

    await asyncio.gather(*(place(i) for i in range(count)))
    return placed, unknown


async def test_500_tagged_orders_arrive_exactly_once(served: Callable[..., RunningMock]) -> None:
    running = served(faults=FAULTS, starting_cash=10_000_000, order_limit=None)
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock, order_tag=True, order_match_window=3600)
    await connector.open()
    try:
        placed, _ = await place_all(connector, 500, concurrency=8)
    finally:
        await connector.close()

    app = running.app
    assert len(app.venue.orders) == 500
    assert sorted(app.tags.values()) == [f"portico:fault-{i:03d}" for i in range(500)]
    assert sorted(placed) == [f"fault-{i:03d}" for i in range(500)]
    assert len({o.order_id for o in placed.values()}) == 500
    assert all(o.client_order_id == cid and o.status is not OrderStatus.REJECTED for cid, o in placed.items())
    posts = [e for e in app.journal.entries("POST") if e.path.endswith("/orders")]
    lost = [e for e in posts if "drop_after" in e.faults and "drop_before" not in e.faults]
    assert len(lost) >= 60, len(lost)
    # the app's order limit held: 500 placements at 120 a minute took the fake clock past four minutes
    assert clock.monotonic() - 1000.0 >= 4 * 60


async def test_untagged_orders_are_matched_by_their_fields(served: Callable[..., RunningMock]) -> None:
    running = served(faults=FAULTS[:1], order_limit=None, seed=11)
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock, order_match_window=3600)
    await connector.open()
    try:
        placed, _ = await place_all(connector, 60, concurrency=1)
    finally:
        await connector.close()
    assert len(running.app.venue.orders) == 60
    assert len({o.order_id for o in placed.values()}) == 60
    posts = [e for e in running.app.journal.entries("POST") if e.path.endswith("/orders")]
    assert len(posts) == 60  # every lost answer was found by matching: nothing was sent twice
    assert any("drop_after" in e.faults for e in posts)
