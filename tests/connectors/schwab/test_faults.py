"""Placement under faults, over TCP: lost answers are resolved by matching, never sent twice, never
reported as rejected; the order stream, cut again and again meanwhile, still reports every order."""

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
from portico.errors import OutcomeUnknown, PorticoError
from portico.mocks import DEFAULT_START, RunningMock
from portico.models import Order, OrderEvent, OrderRequest, OrderSide, OrderStatus
from portico.sdk import ConnectorContext, resolve_url_templates
from portico.store import Database
from portico.testing import wait_for_async
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


STREAM_CUTS = {"route": "/ws", "kind": "ws_disconnect", "after_messages": 30}
"""Every streamer connection is cut after its 30th message (heartbeats, order activity)."""


def make_connector(
    running: RunningMock,
    clock: FakeClock,
    *,
    emitted: list[str] | None = None,
    store: Database | None = None,
    **connection: Any,
) -> SchwabConnector:
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
        store=store,
        **({"emit": lambda event, **data: emitted.append(event)} if emitted is not None else {}),
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


async def follow(connector: SchwabConnector, events: list[OrderEvent]) -> None:
    """The order stream as the trading service follows it: started again whenever it ends or fails."""
    while True:
        try:
            async for event in connector.subscribe_order_updates():
                events.append(event)
        except PorticoError:
            pass  # a REST read behind an activity failed past its retries: the runtime restarts too
        await asyncio.sleep(0)


async def test_500_tagged_orders_arrive_exactly_once(served: Callable[..., RunningMock]) -> None:
    running = served(faults=[*FAULTS, STREAM_CUTS], starting_cash=10_000_000, order_limit=None)
    clock = FakeClock(DEFAULT_START)
    emitted: list[str] = []
    db = Database()  # the intents are stored before they are sent, as under the runtime
    connector = make_connector(
        running, clock, emitted=emitted, store=db, order_tag=True, order_match_window=3600
    )
    await connector.open()
    events: list[OrderEvent] = []
    stream = asyncio.create_task(follow(connector, events))
    try:
        await wait_for_async(lambda: "stream.subscribed" in emitted, timeout=20)
        placed, _ = await place_all(connector, 500, concurrency=8)
        wanted = {f"fault-{i:03d}" for i in range(500)}
        # every order reached the stream's reader, live or back-filled after a cut
        await wait_for_async(lambda: wanted <= {e.order.client_order_id for e in events}, timeout=60)
    finally:
        stream.cancel()
        await asyncio.gather(stream, return_exceptions=True)
        await connector.close()
        db.dispose()

    app = running.app
    assert len(app.venue.orders) == 500
    assert sorted(app.tags.values()) == [f"portico:fault-{i:03d}" for i in range(500)]
    assert sorted(placed) == [f"fault-{i:03d}" for i in range(500)]
    assert len({o.order_id for o in placed.values()}) == 500
    assert all(o.client_order_id == cid and o.status is not OrderStatus.REJECTED for cid, o in placed.items())
    assert not [
        e for e in events if e.order.status is OrderStatus.REJECTED
    ]  # no false rejection there either
    assert {e.order.order_id for e in events} == {o.order_id for o in placed.values()}
    posts = [e for e in app.journal.entries("POST") if e.path.endswith("/orders")]
    lost = [e for e in posts if "drop_after" in e.faults and "drop_before" not in e.faults]
    assert len(lost) >= 60, len(lost)
    # the stream was cut over and over, and each time came back subscribed
    assert emitted.count("stream.reconnected") >= 5, emitted.count("stream.reconnected")
    assert any(e.source == "backfill" for e in events)
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
