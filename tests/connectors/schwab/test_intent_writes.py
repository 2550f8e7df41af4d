"""The placement intent is written twice per order (stored with its first send counted before the
send, then linked to Schwab's order id), and a client order id stored by an earlier process is found
by that first write, never placed again."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.clock import FakeClock
from portico.connectors.schwab import SPEC, SchwabAuth, SchwabConnector
from portico.connectors.schwab.links import IntentRecord
from portico.connectors.schwab.spec import AUTH_SCHEME
from portico.models import OrderRequest, OrderSide
from portico.sdk import ConnectorContext, resolve_url_templates
from portico.store import Database
from tests.connectors.schwab.conftest import APP_KEY, APP_SECRET, CALLBACK


def _connector(running: Any, db: Database) -> SchwabConnector:
    clock = FakeClock()
    manager = AuthenticationManager(clock=clock)
    manager.register_scheme(AUTH_SCHEME, SchwabAuth)
    options = resolve_url_templates(
        {**SPEC.auth[0].options, "redirect_uri": CALLBACK, "auto_login": True}, dict(running.urls)
    )
    credentials = {"client_id": SecretStr(APP_KEY), "client_secret": SecretStr(APP_SECRET)}
    auth = manager.build("schwab", AUTH_SCHEME, credentials, options)
    context = ConnectorContext.for_testing(
        SchwabConnector, urls=running.urls, credentials=credentials, auth=auth, clock=clock, store=db
    )
    return SchwabConnector(context)


def _spy(connector: SchwabConnector, venue: Any) -> list[tuple[str, IntentRecord, int]]:
    """Every intent write: (kind, the record as written, orders at the venue at that moment)."""
    store = connector._store
    assert store is not None
    writes: list[tuple[str, IntentRecord, int]] = []
    create, save, link = store.create, store.save, store.link

    def spy_create(record: IntentRecord) -> bool:
        writes.append(("create", IntentRecord(**vars(record)), len(venue.orders)))
        return create(record)

    def spy_save(record: IntentRecord) -> None:
        writes.append(("save", IntentRecord(**vars(record)), len(venue.orders)))
        save(record)

    def spy_link(record: IntentRecord) -> None:
        writes.append(("link", IntentRecord(**vars(record)), len(venue.orders)))
        link(record)

    store.create, store.save, store.link = spy_create, spy_save, spy_link  # type: ignore[method-assign]
    return writes


def _request(cid: str) -> OrderRequest:
    return OrderRequest(symbol="F", side=OrderSide.BUY, quantity=Decimal(2), client_order_id=cid)


async def test_a_placement_writes_its_intent_twice_the_first_before_the_send(served) -> None:
    running = served()
    venue = running.app.venue
    db = Database()
    connector = _connector(running, db)
    try:
        writes = _spy(connector, venue)
        order = await connector.place_order(_request("two-writes"))
        assert [(kind, at) for kind, _, at in writes] == [("create", 0), ("link", 1)]
        first, second = writes[0][1], writes[1][1]
        assert (first.sends, first.order_id, first.first_sent is not None) == (1, None, True)
        assert (second.sends, second.order_id) == (1, order.order_id)
        stored = connector._store.get("two-writes") if connector._store else None
        assert stored is not None and (stored.order_id, stored.sends, stored.body) == (
            order.order_id,
            1,
            first.body,
        )
    finally:
        await connector.close()
        db.dispose()


async def test_an_intent_stored_by_an_earlier_process_is_found_not_placed_again(served) -> None:
    running = served()
    venue = running.app.venue
    db = Database()
    first = _connector(running, db)
    try:
        placed = await first.place_order(_request("restart-1"))
    finally:
        await first.close()
    again = _connector(running, db)  # a new process: nothing in memory, the store remembers
    try:
        writes = _spy(again, venue)
        order = await again.place_order(_request("restart-1"))
        assert order.order_id == placed.order_id and order.client_order_id == "restart-1"
        assert len(venue.orders) == 1
        assert [kind for kind, _, _ in writes] == ["create"]  # refused: the stored one is read instead
    finally:
        await again.close()
        db.dispose()


def test_the_plain_sqlite_writes_store_the_rows_core_would(tmp_path) -> None:
    import sqlalchemy as sa

    from portico.connectors.schwab.links import IntentStore

    db = Database(f"sqlite:///{tmp_path}/links.db")
    store = IntentStore(db, "schwab")
    try:
        assert store._plain  # SQLite: the fast path is the one under test
        sent = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        plain = IntentRecord("plain", {"b": [1, "x"]}, "HASH", "tag", sent, 1, None, False)
        assert store.create(plain) is True
        assert store.create(plain) is False  # the primary key holds: refused, nothing written
        plain.order_id, plain.sends, plain.acknowledged = "1000000001", 2, True
        store.save(plain)
        store.save(IntentRecord("plain-new", {}, "HASH", None, None, 0, "1000000002", False))  # insert
        store.link(IntentRecord("plain-new", {"ignored": 1}, "HASH", None, None, 0, "1000000002", False))
        store._plain = False
        store.create(IntentRecord("core", {"b": [1, "x"]}, "HASH", "tag", sent, 2, "1000000001", True))
        store._plain = True
        with db.begin() as conn:
            rows = {
                r[0]: r[1:]
                for r in conn.execute(
                    sa.text(
                        "SELECT client_order_id, body_json, first_sent, sends, order_id, acknowledged "
                        "FROM schwab_order_links"
                    )
                )
            }
        assert (
            rows["plain"]
            == rows["core"]
            == ('{"b": [1, "x"]}', "2026-01-02 03:04:05.678901", 2, "1000000001", 1)
        )
        assert rows["plain-new"] == ("{}", None, 0, "1000000002", 0)
        again = store.get("plain")
        assert again is not None
        assert (again.first_sent, again.sends, again.order_id, again.acknowledged) == (
            sent,
            2,
            "1000000001",
            True,
        )
        links = store.links()
        assert set(links) == {"1000000001", "1000000002"} and links["1000000002"] == "plain-new"
    finally:
        store.close()
        db.dispose()


async def test_the_accepted_order_is_the_one_validation_would_build(served) -> None:
    from portico.models import Order, OrderStatus, OrderType, TimeInForce

    running = served()
    db = Database()
    connector = _connector(running, db)
    try:
        order = await connector.place_order(
            OrderRequest(
                symbol="f",
                side=OrderSide.SELL,
                quantity=Decimal(3),
                order_type=OrderType.LIMIT,
                limit_price=Decimal("12.50"),
                time_in_force=TimeInForce.GTC,
                client_order_id="built-1",
            )
        )
        # built without a second validation: equal to the order validation makes of the same values
        assert order == Order.model_validate(order.model_dump())
        assert (order.symbol, order.side, order.quantity, order.limit_price, order.status) == (
            "F",
            OrderSide.SELL,
            Decimal(3),
            Decimal("12.50"),
            OrderStatus.ACCEPTED,
        )
        assert order.order_id.isdigit() and order.client_order_id == "built-1"
        assert order.created_at is not None and order.created_at.tzinfo is not None
        assert order.filled_quantity == Decimal(0) and order.remaining_quantity == Decimal(3)
    finally:
        await connector.close()
        db.dispose()
