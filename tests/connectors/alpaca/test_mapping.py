"""Mapping of Alpaca's documented payloads (tests/connectors/alpaca/data) onto canonical models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from portico.connectors.alpaca.client import alpaca_error_mapper
from portico.connectors.alpaca.mapping import (
    STATUS_MAP,
    account_from_wire,
    bar_from_wire,
    event_from_trade_update,
    order_from_wire,
    order_request_to_wire,
    parse,
    position_from_wire,
    snapshot_from_wire,
)
from portico.connectors.alpaca.wire import (
    WireAccount,
    WireBar,
    WireOrder,
    WirePosition,
    WireSnapshot,
    WireTradeUpdate,
)
from portico.errors import AuthError, NotFound, NotSupported, PayloadRejected, VenueRejected
from portico.models import (
    AssetClass,
    BarInterval,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

DATA = Path(__file__).parent / "data"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_notional_market_order() -> None:
    order = order_from_wire(parse(WireOrder, load("orders_post.json"), what="order"), system="alpaca")
    assert order.order_id == "61e69015-8549-4bfd-b9c3-01e75843f47d"
    assert order.client_order_id == "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4"
    assert (order.order_type, order.side, order.time_in_force) == (OrderType.MARKET, OrderSide.BUY, TimeInForce.DAY)
    assert order.status is OrderStatus.ACCEPTED
    assert (order.quantity, order.notional, order.filled_quantity) == (None, Decimal(500), Decimal(0))
    assert order.created_at == datetime(2021, 3, 16, 18, 38, 1, 942282, tzinfo=UTC)
    assert order.asset_class is AssetClass.EQUITY and order.system == "alpaca"


def test_numbers_where_strings_are_documented_still_parse_exactly() -> None:
    order = order_from_wire(parse(WireOrder, load("orders_get_by_id.json"), what="order"))
    assert (order.quantity, order.limit_price, order.order_type) == (Decimal(1), Decimal(300), OrderType.LIMIT)


def test_account() -> None:
    account = account_from_wire(parse(WireAccount, load("account_get.json"), what="account"), system="alpaca")
    assert account.account_id == "e6fe16f3-64a4-4921-8928-cadf02f92f98"
    assert account.cash == Decimal("-23140.2") and account.buying_power == Decimal("262113.632")
    assert account.equity == Decimal("103820.56") and account.maintenance_margin == Decimal("38088.228")
    assert account.status == "ACTIVE" and account.pattern_day_trader is False and account.currency == "USD"


def test_positions_long_and_short() -> None:
    wire = parse(WirePosition, load("positions_get.json")[0], what="position")
    position = position_from_wire(wire)
    assert position.symbol == "AAPL"
    assert (position.quantity, position.average_cost, position.market_value) == (Decimal(5), Decimal("100.0"), Decimal("600.0"))
    assert position.unrealized_pnl == Decimal("100.0") and position.venue_instrument_id == wire.asset_id
    short = position_from_wire(parse(WirePosition, {**load("positions_get.json")[0], "qty": "5", "side": "short"}, what="position"))
    assert short.quantity == Decimal(-5)


def test_snapshot_with_nanosecond_timestamps() -> None:
    snapshot = snapshot_from_wire(parse(WireSnapshot, load("stocks_snapshot_get.json"), what="snapshot"), "AAPL")
    assert snapshot.latest_trade is not None and snapshot.latest_trade.price == Decimal("125.91")
    assert snapshot.latest_trade.timestamp.microsecond == 435997
    assert snapshot.latest_trade.conditions == ["@", "M"] and snapshot.latest_trade.trade_id == "179430"
    assert snapshot.latest_quote is not None
    assert (snapshot.latest_quote.bid_price, snapshot.latest_quote.ask_price) == (Decimal("125.6"), Decimal("125.68"))
    assert snapshot.daily_bar is not None and snapshot.daily_bar.interval is BarInterval.DAY
    assert snapshot.previous_daily_bar is not None and snapshot.previous_daily_bar.close == Decimal("126.85")


def test_bars() -> None:
    payload = load("stocks_bars_get_single.json")
    bar = bar_from_wire(parse(WireBar, payload["bars"][0], what="bar"), "AAPL", BarInterval.MIN_1)
    assert (bar.open, bar.high, bar.low, bar.close) == (Decimal("109.58"), Decimal("109.87"), Decimal("109.58"), Decimal("109.69"))
    assert (bar.volume, bar.trade_count, bar.vwap) == (Decimal(4106), 75, Decimal("109.72"))
    assert payload["next_page_token"]


def test_trade_update_fill_carries_the_execution() -> None:
    message = load("stream_trade_updates_fill.json")
    event = event_from_trade_update(parse(WireTradeUpdate, message["data"], what="trade update"), system="alpaca")
    assert (event.event, event.order.status, event.source) == ("fill", OrderStatus.FILLED, "stream")
    assert event.execution is not None
    assert (event.execution.quantity, event.execution.price) == (Decimal(1), Decimal("125.91"))
    assert event.event_id == event.execution.execution_id == "2f63ea93-423d-4169-b3f6-3fdafc10c418"


def test_invalid_payloads_name_the_field() -> None:
    broken = {**load("orders_post.json"), "created_at": "yesterday"}
    with pytest.raises(PayloadRejected, match="created_at"):
        parse(WireOrder, broken, what="order")


def _response(status: int, name: str | None = None, body: Any = None) -> httpx.Response:
    content = (DATA / name).read_bytes() if name else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"content-type": "application/json"})


def test_error_mapping() -> None:
    refused = alpaca_error_mapper(_response(403, "error_insufficient_buying_power.json"))
    assert isinstance(refused, VenueRejected) and refused.venue_code == 40310000
    assert refused.detail == {"buying_power": "176531.28", "cost_basis": "48640000"}
    assert isinstance(alpaca_error_mapper(_response(404, "error_order_not_found.json")), NotFound)
    assert isinstance(alpaca_error_mapper(_response(401, body={"code": 40110000, "message": "request is not authorized"})), AuthError)
    assert isinstance(alpaca_error_mapper(_response(403, body={"message": "forbidden."})), AuthError)
    duplicate = alpaca_error_mapper(_response(422, body={"code": 40010001, "message": "client_order_id must be unique"}))
    assert isinstance(duplicate, VenueRejected) and duplicate.status_code == 422
    assert alpaca_error_mapper(_response(429, body={"code": 42910000, "message": "rate limit exceeded"})) is None


def test_order_requests_to_wire() -> None:
    request = OrderRequest(
        symbol="AAPL", side=OrderSide.SELL, quantity=Decimal("1.5"), order_type=OrderType.STOP_LIMIT,
        limit_price=Decimal("99.5"), stop_price=Decimal("100"), time_in_force=TimeInForce.GTC,
        params={"position_intent": "sell_to_close"},
    )
    assert order_request_to_wire(request, "cid-1") == {
        "symbol": "AAPL", "side": "sell", "type": "stop_limit", "time_in_force": "gtc", "client_order_id": "cid-1",
        "qty": "1.5", "limit_price": "99.5", "stop_price": "100", "position_intent": "sell_to_close",
    }
    with pytest.raises(NotSupported):
        order_request_to_wire(request.model_copy(update={"order_type": OrderType.MARKET_ON_CLOSE}), "x")
    with pytest.raises(NotSupported):
        order_request_to_wire(request.model_copy(update={"time_in_force": TimeInForce.GTD}), "x")
    with pytest.raises(NotSupported):
        order_request_to_wire(request.model_copy(update={"asset_class": AssetClass.FX}), "x")
    with pytest.raises(PayloadRejected, match="unknown Alpaca order params: colour"):
        order_request_to_wire(request.model_copy(update={"params": {"colour": "red"}}), "x")


# Every order status of Alpaca's documented enum (alpaca-py ``alpaca/trading/enums.py``: new,
# partially_filled, filled, done_for_day, canceled, expired, replaced, pending_cancel, pending_replace,
# pending_review, accepted, pending_new, accepted_for_bidding, stopped, rejected, suspended, calculated,
# held), with the canonical status it means, written out here rather than read from the mapping.
# Orders of 10 shares; ``filled`` is filled_qty.
ALPACA_STATUSES = [
    ("new", "0", OrderStatus.NEW),
    ("partially_filled", "4", OrderStatus.PARTIALLY_FILLED),
    ("filled", "10", OrderStatus.FILLED),
    # done for the day, may trade tomorrow: still standing
    ("done_for_day", "0", OrderStatus.NEW),
    ("done_for_day", "3", OrderStatus.PARTIALLY_FILLED),
    ("canceled", "0", OrderStatus.CANCELED),
    ("canceled", "3", OrderStatus.CANCELED),
    ("expired", "0", OrderStatus.EXPIRED),
    ("replaced", "0", OrderStatus.REPLACED),
    # a cancel or replace was asked for and is not confirmed yet: the order can still fill
    ("pending_cancel", "0", OrderStatus.PENDING_CANCEL),
    ("pending_replace", "0", OrderStatus.PENDING_REPLACE),
    # received, not yet live at the exchange
    ("pending_review", "0", OrderStatus.ACCEPTED),
    ("accepted", "0", OrderStatus.ACCEPTED),
    ("pending_new", "0", OrderStatus.ACCEPTED),
    ("accepted_for_bidding", "0", OrderStatus.ACCEPTED),
    ("held", "0", OrderStatus.ACCEPTED),
    ("suspended", "0", OrderStatus.ACCEPTED),
    # stopped: a fill is guaranteed but not done yet
    ("stopped", "0", OrderStatus.NEW),
    ("stopped", "2", OrderStatus.PARTIALLY_FILLED),
    ("rejected", "0", OrderStatus.REJECTED),
    # calculated: filled or done for the day, the fill being settled
    ("calculated", "10", OrderStatus.FILLED),
    ("calculated", "6", OrderStatus.PARTIALLY_FILLED),
    ("calculated", "0", OrderStatus.NEW),
]


@pytest.mark.parametrize(("status", "filled", "expected"), ALPACA_STATUSES)
def test_every_alpaca_status_maps(status: str, filled: str, expected: OrderStatus) -> None:
    wire = parse(WireOrder, {**load("orders_get_by_id.json"), "qty": "10", "status": status, "filled_qty": filled}, what="order")
    assert order_from_wire(wire).status is expected


def test_the_status_table_covers_every_documented_alpaca_status() -> None:
    documented = {
        "new", "partially_filled", "filled", "done_for_day", "canceled", "expired", "replaced",
        "pending_cancel", "pending_replace", "pending_review", "accepted", "pending_new",
        "accepted_for_bidding", "stopped", "rejected", "suspended", "calculated", "held",
    }  # fmt: skip
    assert {status for status, _, _ in ALPACA_STATUSES} == documented
    # the mapping's fixed table holds nothing undocumented (the fill-dependent ones are computed)
    assert set(STATUS_MAP) <= documented
