"""The E*TRADE connector against its mock: paging, batching, client order ids, changes, polling,
throttles, and bad input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from portico.clock import FakeClock
from portico.connectors.etrade import EtradeConnector
from portico.connectors.etrade.auth import EtradeOAuth1Scheme
from portico.errors import NotFound, PayloadRejected, VenueRejected
from portico.mocks import DEFAULT_START, RunningMock
from portico.models import OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce
from portico.sdk import ConnectorContext
from portico.store import Database
from portico.testing import wait_for_async
from tests.connectors.etrade.conftest import CREDENTIALS, FAST_LIMITS, make_connector

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def limit(symbol: str = "IBM", cid: str | None = None, price: str = "1.00", qty: int = 2) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=OrderSide.BUY, quantity=Decimal(qty), order_type=OrderType.LIMIT,
                        limit_price=Decimal(price), client_order_id=cid)  # fmt: skip


def journal(running: RunningMock, suffix: str) -> list[Any]:
    return [e for e in running.app.journal.entries() if e.path.endswith(suffix)]


async def test_positions_are_read_across_portfolio_pages(served: Callable[..., RunningMock]) -> None:
    running = served(starting_cash=10_000_000)
    venue = running.app.venue
    symbols = [f"Q{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(60)]
    for symbol in symbols:
        venue.place_order(symbol=symbol, side="buy", qty=Decimal(3))
    connector = make_connector(running)
    positions = await connector.get_positions()
    assert sorted(p.symbol for p in positions) == sorted(symbols)
    assert all(p.quantity == 3 for p in positions)
    pages = [e.query for e in journal(running, "/portfolio.json")]
    assert [("pageNumber=1" in q, "pageNumber=2" in q) for q in pages] == [(True, False), (False, True)]
    await connector.close()


async def test_no_positions_is_an_empty_list(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    assert await connector.get_positions() == []
    await connector.close()


async def test_a_fill_shows_in_positions_account_and_transactions(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    price = running.app.venue.price("KO")
    order = await connector.place_order(
        OrderRequest(symbol="KO", side=OrderSide.BUY, quantity=Decimal(4), client_order_id="fill-1")
    )
    filled = await connector.get_order(order.order_id)
    assert (filled.status, filled.filled_quantity, filled.average_fill_price) == (
        OrderStatus.FILLED,
        Decimal(4),
        price,
    )
    (position,) = await connector.get_positions()
    assert (position.symbol, position.quantity, position.average_cost) == ("KO", Decimal(4), price)
    account = await connector.get_account()
    assert account.cash == Decimal(100_000) - 4 * price
    (transaction,) = await connector.get_transactions()
    assert transaction.transaction_type == "Bought"
    assert transaction.amount == -4 * price
    assert transaction.brokerage is not None and transaction.brokerage.quantity == 4
    await connector.close()


async def test_a_long_client_order_id_travels_as_a_stable_digest(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    caller_id = "portico-" + "ab" * 16  # 40 characters: too long for E*TRADE's 20
    placed = await connector.place_order(limit(cid=caller_id))
    assert placed.client_order_id == caller_id
    (venue_order,) = running.app.venue.orders.values()
    assert len(venue_order.client_order_id) == 20 and venue_order.client_order_id != caller_id
    # a fresh connector (a restart) still finds it by the caller's id
    other = make_connector(running)
    found = await other.get_order_by_client_id(caller_id)
    assert (found.order_id, found.client_order_id) == (placed.order_id, caller_id)
    await connector.close()
    await other.close()


async def test_a_change_keeps_the_order_id(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    placed = await connector.place_order(limit(cid="chg-1"))
    changed = await connector.replace_order(placed.order_id, limit_price=Decimal("1.10"), quantity=Decimal(5))
    assert (changed.order_id, changed.client_order_id) == (placed.order_id, "chg-1")
    assert (changed.limit_price, changed.quantity, changed.status) == (
        Decimal("1.10"),
        Decimal(5),
        OrderStatus.NEW,
    )
    assert [e.status for e in journal(running, "/change/preview.json")] == [200]
    assert [e.status for e in journal(running, "/change/place.json")] == [200]
    assert len(await connector.list_orders(status="all")) == 1
    await connector.close()


async def test_a_finished_order_cannot_be_changed(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    placed = await connector.place_order(limit(cid="chg-2"))
    await connector.cancel_order(placed.order_id)
    with pytest.raises(VenueRejected, match="canceled: it cannot be changed"):
        await connector.replace_order(placed.order_id, limit_price=Decimal("1.20"))
    await connector.close()


async def test_list_orders_filters_by_status_and_symbol(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    resting = await connector.place_order(limit("IBM", "lst-1"))
    await connector.place_order(limit("KO", "lst-2"))
    filled = await connector.place_order(
        OrderRequest(symbol="IBM", side=OrderSide.BUY, quantity=Decimal(1), client_order_id="lst-3")
    )
    await connector.cancel_order((await connector.get_order_by_client_id("lst-2")).order_id)
    assert [o.client_order_id for o in await connector.list_orders(status="all")] == [
        "lst-3",
        "lst-2",
        "lst-1",
    ]
    assert [o.client_order_id for o in await connector.list_orders(status="open")] == ["lst-1"]
    assert [o.client_order_id for o in await connector.list_orders(status="closed")] == ["lst-3", "lst-2"]
    assert [o.order_id for o in await connector.list_orders(status="all", symbols=["ibm"])] == [
        filled.order_id,
        resting.order_id,
    ]
    assert [o.client_order_id for o in await connector.list_orders(status="all", limit=2)] == [
        "lst-3",
        "lst-2",
    ]
    await connector.close()


async def test_bad_input_gets_a_clear_error(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    with pytest.raises(PayloadRejected, match="status must be open, closed or all"):
        await connector.list_orders(status="pending")  # type: ignore[arg-type]
    with pytest.raises(PayloadRejected, match="at most 25 symbols"):
        await connector.list_orders(symbols=[f"S{i}" for i in range(26)])
    with pytest.raises(PayloadRejected, match="at least one field"):
        await connector.replace_order("1000")
    with pytest.raises(PayloadRejected, match="at least one symbol"):
        await connector.get_latest_quotes([" "])
    with pytest.raises(NotFound, match="no order 99999"):
        await connector.get_order("99999")
    with pytest.raises(NotFound, match="client order id 'never-sent'"):
        await connector.get_order_by_client_id("never-sent")
    with pytest.raises(PayloadRejected, match="whole shares"):
        await connector.place_order(limit(qty=1).model_copy(update={"quantity": Decimal("0.5")}))
    with pytest.raises(VenueRejected, match="10033"):
        await connector.place_order(limit(symbol="TOOLONGSYM", cid="bad-sym"))
    assert running.app.venue.orders == {}
    await connector.close()


async def test_quotes_in_batches_of_25_against_the_mock(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    symbols = [f"Z{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(30)]
    quotes = await connector.get_latest_quotes(symbols)
    assert sorted(quotes) == sorted(symbols)
    assert all(
        q.bid_price is not None and q.ask_price is not None and q.bid_price <= q.ask_price
        for q in quotes.values()
    )
    sizes = [
        len(e.path.removeprefix("/v1/market/quote/").removesuffix(".json").split(","))
        for e in journal(running, ".json")
        if "/quote/" in e.path
    ]
    assert sizes == [25, 5]
    await connector.close()


async def test_each_module_is_throttled_on_its_own(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    limits = {"accounts": {"per_second": 2, "per_hour": 7000}, "market": {"per_second": 4, "per_hour": 14000},
              "order": {"per_second": 2, "per_hour": 7000}}  # fmt: skip
    connector = make_connector(running, clock=clock, connection={"rate_limits": limits})
    await connector.get_account()  # list + balance: the two accounts calls of this second
    assert clock.sleeps == []
    for symbol in ("AAPL", "MSFT", "IBM", "KO"):
        await connector.get_latest_quotes([symbol])
    assert clock.sleeps == []  # four market calls fit the market module's second
    await connector.get_latest_quotes(["F"])
    assert len(clock.sleeps) == 1 and 0 < clock.sleeps[0] <= 1.0  # the fifth waits for the next second
    assert connector.client.limiters["order"].admitted == 0
    await connector.close()


async def test_the_rate_limit_page_from_the_venue_is_waited_out(served: Callable[..., RunningMock]) -> None:
    running = served(faults=[{"kind": "rate_limit", "route": "/v1/market/*", "times": 1}])
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock=clock)
    quotes = await connector.get_latest_quotes(["AAPL"])
    assert list(quotes) == ["AAPL"]
    assert len(clock.sleeps) == 1
    await connector.close()


async def test_polled_order_events_follow_the_order(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    seen: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, clock=clock, events=seen, connection={"poll_interval": 5})
    await connector.place_order(limit("IBM", "poll-0"))
    got: list[Any] = []

    async def collect() -> None:
        async for event in connector.subscribe_order_updates():
            got.append(event)

    task = asyncio.create_task(collect())
    try:
        await wait_for_async(lambda: any(e == "stream.subscribed" for e, _ in seen), message="the subscription")
        resting = await connector.place_order(limit("IBM", "poll-1"))
        await wait_for_async(lambda: len(got) >= 1, message="the new order")
        await connector.cancel_order(resting.order_id)
        await wait_for_async(lambda: len(got) >= 2, message="the cancel")
        await connector.place_order(
            OrderRequest(symbol="KO", side=OrderSide.BUY, quantity=Decimal(1), client_order_id="poll-2")
        )
        await wait_for_async(lambda: len(got) >= 4, message="the market order")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [(e.event, e.order.client_order_id, e.source) for e in got] == [
        ("new", "poll-1", "poll"), ("canceled", "poll-1", "poll"), ("new", "poll-2", "poll"), ("fill", "poll-2", "poll"),
    ]  # fmt: skip
    assert got[3].order.status is OrderStatus.FILLED and got[2].order.status is OrderStatus.NEW
    assert ("stream.subscribed", {"stream": "order_updates", "mode": "poll", "interval": 5.0}) in seen
    assert set(clock.sleeps) == {5.0}
    await connector.close()


async def test_time_in_force_reaches_the_venue(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    placed = await connector.place_order(
        limit(cid="tif-1").model_copy(update={"time_in_force": TimeInForce.GTC})
    )
    assert (await connector.get_order(placed.order_id)).time_in_force is TimeInForce.GTC
    (venue_order,) = running.app.venue.orders.values()
    assert venue_order.time_in_force == "gtc"
    await connector.close()


async def test_transactions_follow_the_marker(served: Callable[..., RunningMock]) -> None:
    running = served(starting_cash=10_000_000)
    for i in range(60):
        running.app.venue.place_order(symbol="F", side="buy", qty=Decimal(i + 1))
    connector = make_connector(running)
    transactions = await connector.get_transactions()
    assert sorted(t.brokerage.quantity for t in transactions if t.brokerage) == [
        Decimal(i + 1) for i in range(60)
    ]
    queries = [e.query for e in journal(running, "/transactions.json")]
    assert len(queries) == 2 and "marker=50" in queries[1]
    await connector.close()


async def test_with_a_store_the_caller_ids_survive_a_restart(
    served: Callable[..., RunningMock], tmp_path: Path
) -> None:
    running = served()
    store = Database(f"sqlite:///{tmp_path / 'portico.db'}")
    caller_id = "portico-" + "cd" * 16
    first = make_connector(running, store=store)
    placed = await first.place_order(limit(cid=caller_id))
    await first.close()
    restarted = make_connector(running, store=Database(f"sqlite:///{tmp_path / 'portico.db'}"))
    (listed,) = await restarted.list_orders(status="all")
    assert (listed.order_id, listed.client_order_id) == (placed.order_id, caller_id)
    await restarted.close()
    store.dispose()


async def test_a_bare_context_signs_with_its_own_scheme(served: Callable[..., RunningMock]) -> None:
    running = served()
    context = ConnectorContext.for_testing(
        EtradeConnector, urls=running.urls, credentials={k: SecretStr(v) for k, v in CREDENTIALS.items()},
        connection={"rate_limits": FAST_LIMITS}, clock=FakeClock(DEFAULT_START),
    )  # fmt: skip
    connector = EtradeConnector(context)
    assert isinstance(connector.auth, EtradeOAuth1Scheme)
    assert connector.auth.renew_url == running.urls["auth"].rstrip("/") + "/oauth/renew_access_token"
    assert (await connector.get_account()).cash == 100_000
    await connector.close()
