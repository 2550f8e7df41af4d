"""Schwab payloads -> canonical models, and order requests -> Schwab's order JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portico.connectors.schwab.mapping import (
    account_from_wire,
    bar_from_wire,
    execution_from_transaction,
    order_from_wire,
    order_request_to_wire,
    parse,
    position_from_wire,
    quote_from_wire,
)
from portico.connectors.schwab.wire import (
    WireOrder,
    WirePriceHistory,
    WireQuoteBlock,
    WireSecuritiesAccount,
    WireTransaction,
)
from portico.errors import NotSupported, PayloadRejected
from portico.models import BarInterval, OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce

DATA = Path(__file__).parent / "data"


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_account_balances() -> None:
    wire = parse(
        WireSecuritiesAccount, captured("accounts_get_positions.json")["securitiesAccount"], what="account"
    )
    account = account_from_wire(wire, system="schwab")
    assert account.account_id == "12345678"
    assert account.cash == Decimal("98765.43")
    assert account.buying_power == Decimal("196000.0")
    assert account.equity == Decimal("99237.93")
    assert account.status == "ACTIVE"


def test_long_and_short_positions() -> None:
    wire = parse(
        WireSecuritiesAccount, captured("accounts_get_positions.json")["securitiesAccount"], what="account"
    )
    aapl, tsla = (position_from_wire(p, system="schwab", account_id="12345678") for p in wire.positions)
    assert (aapl.symbol, aapl.quantity, aapl.average_cost) == ("AAPL", Decimal("10.0"), Decimal("170.1"))
    assert aapl.market_value == Decimal("1725.5")
    assert aapl.market_price == Decimal("172.55")
    assert aapl.unrealized_pnl == Decimal("24.5")
    assert (tsla.symbol, tsla.quantity) == ("TSLA", Decimal("-5.0"))
    assert tsla.unrealized_pnl == Decimal("-3.0")


def test_filled_order_with_two_executions() -> None:
    wire = parse(WireOrder, captured("orders_get_filled.json"), what="order")
    order = order_from_wire(wire, system="schwab", account_id="12345678", client_order_id="mine-1")
    assert order.order_id == "1000000123"
    assert order.client_order_id == "mine-1"
    assert order.status is OrderStatus.FILLED
    assert order.side is OrderSide.BUY
    assert order.order_type is OrderType.LIMIT
    assert order.limit_price == Decimal("170.5")
    assert order.filled_quantity == Decimal("10.0")
    assert order.average_fill_price == Decimal("170.46")  # (4 x 170.4 + 6 x 170.5) / 10
    assert order.created_at == datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 1, 5, 15, 0, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("WORKING", 0.0, OrderStatus.NEW),
        ("WORKING", 4.0, OrderStatus.PARTIALLY_FILLED),
        ("QUEUED", 0.0, OrderStatus.ACCEPTED),
        ("AWAITING_MANUAL_REVIEW", 0.0, OrderStatus.ACCEPTED),
        ("PENDING_CANCEL", 0.0, OrderStatus.PENDING_CANCEL),
        ("CANCELED", 0.0, OrderStatus.CANCELED),
        ("REPLACED", 0.0, OrderStatus.REPLACED),
        ("REJECTED", 0.0, OrderStatus.REJECTED),
        ("EXPIRED", 0.0, OrderStatus.EXPIRED),
        ("SOMETHING_NEW", 0.0, OrderStatus.UNKNOWN),
    ],
)
def test_order_statuses(status: str, filled: float, expected: OrderStatus) -> None:
    body = {
        **captured("orders_get_filled.json"),
        "status": status,
        "filledQuantity": filled,
        "orderActivityCollection": [],
    }
    order = order_from_wire(parse(WireOrder, body, what="order"), system="schwab", account_id=None)
    assert order.status is expected


def test_portico_tag_gives_back_the_client_order_id() -> None:
    body = {**captured("orders_get_filled.json"), "tag": "portico:abc-123"}
    order = order_from_wire(parse(WireOrder, body, what="order"), system="schwab", account_id=None)
    assert order.client_order_id == "abc-123"


def test_trade_transaction_with_fees() -> None:
    sale, dividend = (
        parse(WireTransaction, t, what="transaction") for t in captured("transactions_get.json")
    )
    execution = execution_from_transaction(sale, system="schwab", account_id="12345678")
    assert execution is not None
    assert execution.execution_id == "87654321001"
    assert execution.order_id == "1000000124"
    assert execution.side is OrderSide.SELL
    assert execution.quantity == Decimal("10.0")
    assert execution.price == Decimal("170.5")
    assert execution.fees == Decimal("0.07")  # SEC 0.05 + TAF 0.02
    assert execution.commission == Decimal("0.0")
    assert execution.executed_at == datetime(2026, 1, 5, 15, 0, 2, tzinfo=UTC)
    assert execution_from_transaction(dividend, system="schwab", account_id="12345678") is None


def test_quote() -> None:
    quote = quote_from_wire(parse(WireQuoteBlock, captured("quotes_get.json")["AAPL"], what="quote"))
    assert (quote.bid_price, quote.ask_price, quote.last_price) == (
        Decimal("172.5"),
        Decimal("172.55"),
        Decimal("172.53"),
    )
    assert quote.previous_close == Decimal("171.2")
    assert quote.timestamp == datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def test_candles() -> None:
    history = parse(WirePriceHistory, captured("pricehistory_get.json"), what="price history")
    bars = [bar_from_wire(c, "AAPL", BarInterval.MIN_5) for c in history.candles]
    assert [b.timestamp for b in bars] == [
        datetime(2026, 1, 5, 15, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 15, 5, tzinfo=UTC),
    ]
    assert bars[1].close == Decimal("172.53")
    assert bars[0].volume == Decimal(1200345)


def test_limit_order_json_as_schwab_py_builds_it() -> None:
    request = OrderRequest(
        symbol="aapl",
        side=OrderSide.BUY,
        quantity=Decimal(2),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("1.50"),
    )
    assert order_request_to_wire(request) == {
        "session": "NORMAL",
        "duration": "DAY",
        "orderType": "LIMIT",
        "orderStrategyType": "SINGLE",
        "orderLegCollection": [
            {"instruction": "BUY", "quantity": 2, "instrument": {"symbol": "AAPL", "assetType": "EQUITY"}}
        ],
        "price": "1.5",
    }


def test_stop_limit_short_sale_gtc_extended_hours_with_tag() -> None:
    request = OrderRequest(
        symbol="TSLA",
        side=OrderSide.SELL_SHORT,
        quantity=Decimal(3),
        order_type=OrderType.STOP_LIMIT,
        limit_price=Decimal("240"),
        stop_price=Decimal("241.25"),
        time_in_force=TimeInForce.GTC,
        extended_hours=True,
    )
    body = order_request_to_wire(request, tag="portico:x")
    assert body["session"] == "SEAMLESS"
    assert body["duration"] == "GOOD_TILL_CANCEL"
    assert body["orderLegCollection"][0]["instruction"] == "SELL_SHORT"
    assert (body["price"], body["stopPrice"], body["tag"]) == ("240", "241.25", "portico:x")


@pytest.mark.parametrize(
    ("request_fields", "error", "words"),
    [
        ({"quantity": Decimal("1.5")}, PayloadRejected, "whole shares"),
        ({"quantity": None, "notional": Decimal(100)}, NotSupported, "notional"),
        ({"order_type": OrderType.TRAILING_STOP, "trail_percent": Decimal(1)}, NotSupported, "trailing_stop"),
        ({"time_in_force": TimeInForce.OPG}, NotSupported, "opg"),
        ({"params": {"session": "NIGHT"}}, PayloadRejected, "session must be one of"),
        (
            {"params": {"instruction": "BUY_TO_COVER"}, "side": OrderSide.SELL},
            PayloadRejected,
            "does not match side",
        ),
    ],
)
def test_bad_orders_are_refused_before_sending(
    request_fields: dict[str, Any], error: type[Exception], words: str
) -> None:
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "side": OrderSide.BUY,
        "quantity": Decimal(1),
        **request_fields,
    }
    with pytest.raises(error) as caught:
        order_request_to_wire(OrderRequest(**fields))
    assert words in str(caught.value)


def test_unreadable_payload_names_what_and_where() -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse(WireOrder, {"orderId": "x", "status": "FILLED", "orderType": "LIMIT"}, what="order")
    assert "unreadable order: orderId" in str(caught.value)
