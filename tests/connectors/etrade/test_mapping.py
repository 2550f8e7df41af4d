"""E*TRADE wire payloads (in the shapes of its documented samples) onto portico's models, and orders
onto E*TRADE's request body."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portico.connectors.etrade.mapping import (
    account_from_wire,
    order_body,
    order_from_wire,
    parse,
    position_from_wire,
    quote_from_wire,
    wire_client_order_id,
)
from portico.connectors.etrade.wire import WireAccount, WireBalance, WireOrder, WirePosition, WireQuote
from portico.errors import NotSupported, PayloadRejected
from portico.models import OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce

DATA = Path(__file__).parent / "data"


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text(), parse_float=Decimal)


def test_accounts_list() -> None:
    accounts = [
        WireAccount.model_validate(a)
        for a in captured("accounts_list.json")["AccountListResponse"]["Accounts"]["Account"]
    ]
    assert [(a.account_id, a.account_id_key, a.institution_type) for a in accounts] == [
        ("82429024", "dBZOKt9xDrtRSAOl4MSiiA", "BROKERAGE"),
        ("83405188", "JIdOIAcSpwR1Jva7RQBraQ", "BROKERAGE"),
    ]


def test_balance_to_account() -> None:
    wire = WireBalance.model_validate(captured("balance.json")["BalanceResponse"])
    account = account_from_wire(wire, "JIdOIAcSpwR1Jva7RQBraQ", system="etrade")
    assert account.account_id == "JIdOIAcSpwR1Jva7RQBraQ"
    assert account.cash == Decimal("93921.44")
    assert account.buying_power == Decimal("187842.88")
    assert account.equity == Decimal("94001.44")
    assert account.long_market_value == Decimal("80")
    assert account.short_market_value == Decimal("0")
    assert account.pattern_day_trader is False
    assert account.currency == "USD"


def test_a_balance_without_cash_is_rejected() -> None:
    wire = WireBalance.model_validate({"accountId": "1", "Computed": {}})
    with pytest.raises(PayloadRejected, match="cashBalance"):
        account_from_wire(wire, "k", system="etrade")


def test_portfolio_positions_short_and_long() -> None:
    items = captured("portfolio.json")["PortfolioResponse"]["AccountPortfolio"][0]["Position"]
    short, long = (position_from_wire(WirePosition.model_validate(p), "K", system="etrade") for p in items)
    assert (short.symbol, short.quantity, short.market_value, short.market_price) == (
        "A",
        Decimal(-120),
        Decimal(-4728),
        Decimal("39.4"),
    )
    assert (long.symbol, long.quantity, long.average_cost, long.cost_basis) == (
        "TSLA",
        Decimal(10),
        Decimal("1.1"),
        Decimal(11),
    )
    assert long.unrealized_pnl == Decimal("3499.1")
    assert long.account_id == "K"


def test_orders_list() -> None:
    items = captured("orders_list.json")["OrdersResponse"]["Order"]
    open_order, executed = (
        order_from_wire(WireOrder.model_validate(o), system="etrade", account_id="K") for o in items
    )
    assert open_order.order_id == "480"
    assert (open_order.symbol, open_order.side, open_order.order_type, open_order.time_in_force) == (
        "ZNGA", OrderSide.BUY, OrderType.LIMIT, TimeInForce.DAY,
    )  # fmt: skip
    assert open_order.status is OrderStatus.NEW
    assert open_order.limit_price == Decimal("7.25")
    assert open_order.stop_price is None  # E*TRADE's 0 means "none"
    assert open_order.average_fill_price is None
    assert open_order.created_at == datetime(2018, 6, 25, 17, 13, 22, 251000, tzinfo=UTC)
    assert executed.status is OrderStatus.FILLED
    assert executed.side is OrderSide.SELL_SHORT
    assert executed.order_type is OrderType.MARKET
    assert (executed.quantity, executed.filled_quantity, executed.average_fill_price) == (
        Decimal(10),
        Decimal(10),
        Decimal("175.5"),
    )
    assert executed.limit_price is None


def test_an_open_order_with_fills_is_partially_filled() -> None:
    item = captured("orders_list.json")["OrdersResponse"]["Order"][0]
    item["OrderDetail"][0]["Instrument"][0]["filledQuantity"] = 1
    item["OrderDetail"][0]["Instrument"][0]["orderedQuantity"] = 3
    assert (
        order_from_wire(WireOrder.model_validate(item), system="etrade", account_id=None).status
        is OrderStatus.PARTIALLY_FILLED
    )


@pytest.mark.parametrize(
    ("wire", "status"),
    [("CANCELLED", OrderStatus.CANCELED), ("CANCEL_REQUESTED", OrderStatus.PENDING_CANCEL), ("EXPIRED", OrderStatus.EXPIRED),
     ("REJECTED", OrderStatus.REJECTED), ("PARTIAL", OrderStatus.PARTIALLY_FILLED)],
)  # fmt: skip
def test_order_statuses(wire: str, status: OrderStatus) -> None:
    item = captured("orders_list.json")["OrdersResponse"]["Order"][0]
    item["OrderDetail"][0]["status"] = wire
    assert order_from_wire(WireOrder.model_validate(item), system="etrade", account_id=None).status is status


def test_an_unknown_order_status_is_a_clear_error() -> None:
    item = captured("orders_list.json")["OrdersResponse"]["Order"][0]
    item["OrderDetail"][0]["status"] = "SOMETHING_NEW"
    with pytest.raises(PayloadRejected, match="unknown status 'SOMETHING_NEW'"):
        order_from_wire(WireOrder.model_validate(item), system="etrade", account_id=None)


def test_a_lone_element_is_read_as_a_list() -> None:
    item = captured("orders_list.json")["OrdersResponse"]["Order"][0]
    item["OrderDetail"] = item["OrderDetail"][0]
    item["OrderDetail"]["Instrument"] = item["OrderDetail"]["Instrument"][0]
    assert order_from_wire(WireOrder.model_validate(item), system="etrade", account_id=None).symbol == "ZNGA"


def test_quote() -> None:
    quote = quote_from_wire(WireQuote.model_validate(captured("quote.json")["QuoteResponse"]["QuoteData"][0]))
    assert quote.symbol == "GM"
    assert quote.timestamp == datetime(2018, 6, 20, 19, 17, tzinfo=UTC)
    assert (quote.bid_price, quote.ask_price, quote.last_price) == (
        Decimal("175.29"),
        Decimal("175.79"),
        Decimal("175.74"),
    )
    assert (quote.bid_size, quote.ask_size, quote.volume) == (Decimal(100), Decimal(100), Decimal(3059412))
    assert (quote.change, quote.change_percent, quote.previous_close) == (
        Decimal("1.67"),
        Decimal("0.96"),
        Decimal("174.07"),
    )


def test_parse_names_the_broken_field() -> None:
    with pytest.raises(PayloadRejected, match=r"unreadable quote: All: Field required"):
        parse(WireQuote, {"dateTimeUTC": 1, "Product": {"symbol": "X"}}, what="quote", system="etrade")


def test_limit_order_body() -> None:
    request = OrderRequest(symbol="f", side=OrderSide.BUY, quantity=Decimal(3), order_type=OrderType.LIMIT,
                           limit_price=Decimal("1.10"), time_in_force=TimeInForce.GTC)  # fmt: skip
    assert order_body(request, "abc-1", system="etrade") == {
        "orderType": "EQ",
        "clientOrderId": "abc-1",
        "Order": [{
            "allOrNone": False, "priceType": "LIMIT", "orderTerm": "GOOD_UNTIL_CANCEL", "marketSession": "REGULAR", "limitPrice": 1.1,
            "Instrument": [{"Product": {"securityType": "EQ", "symbol": "F"}, "orderAction": "BUY", "quantityType": "QUANTITY", "quantity": 3}],
        }],
    }  # fmt: skip


def test_stop_limit_short_sale_in_extended_hours() -> None:
    request = OrderRequest(symbol="GM", side=OrderSide.SELL_SHORT, quantity=Decimal(5), order_type=OrderType.STOP_LIMIT,
                           stop_price=Decimal("170"), limit_price=Decimal("169.5"), extended_hours=True)  # fmt: skip
    order = order_body(request, "x", system="etrade")["Order"][0]
    assert (order["priceType"], order["stopPrice"], order["limitPrice"], order["marketSession"]) == (
        "STOP_LIMIT",
        170,
        169.5,
        "EXTENDED",
    )
    assert order["Instrument"][0]["orderAction"] == "SELL_SHORT"


@pytest.mark.parametrize(
    ("changes", "error", "text"),
    [
        ({"quantity": Decimal("1.5")}, PayloadRejected, "whole shares"),
        ({"quantity": None, "notional": Decimal(100)}, PayloadRejected, "no notional"),
        (
            {"order_type": OrderType.MARKET, "time_in_force": TimeInForce.IOC},
            PayloadRejected,
            "limit orders only",
        ),
        ({"order_type": OrderType.TRAILING_STOP, "trail_percent": Decimal(1)}, NotSupported, "trailing_stop"),
        ({"time_in_force": TimeInForce.OPG}, NotSupported, "opg time in force"),
    ],
)
def test_bad_orders_are_refused_with_a_clear_message(
    changes: dict[str, Any], error: type[Exception], text: str
) -> None:
    fields: dict[str, Any] = {"symbol": "F", "side": OrderSide.BUY, "quantity": Decimal(1), **changes}
    with pytest.raises(error, match=text):
        order_body(OrderRequest(**fields), "x", system="etrade")


def test_wire_client_order_ids() -> None:
    assert wire_client_order_id("conformance-mkt-1") == "conformance-mkt-1"
    long_id = "portico-" + "0123456789abcdef" * 2  # what the trading service derives: 40 characters
    wire = wire_client_order_id(long_id)
    assert len(wire) == 20 and wire.startswith("p")
    assert wire == wire_client_order_id(long_id)  # stable: a lookup after a lost answer finds it
    assert wire != wire_client_order_id(long_id + "x")
    assert wire_client_order_id("has space") != "has space"
