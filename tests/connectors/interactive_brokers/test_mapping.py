"""Wire -> canonical mapping on captured Client Portal payloads (tests/connectors/interactive_brokers/data)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portico.connectors.interactive_brokers import mapping, wire
from portico.errors import NotSupported, PayloadRejected
from portico.models import BarInterval, OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce

DATA = Path(__file__).parent / "data"


def load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


def test_auth_status_and_tickle() -> None:
    status = wire.AuthStatus.model_validate(load("iserver_auth_status"))
    assert status.authenticated and status.connected and not status.competing
    tickle = wire.Tickle.model_validate(load("tickle"))
    assert tickle.session == "ce109cbeb462a76dc3f6f4182c830cc1"
    assert tickle.iserver.auth_status.authenticated
    assert not tickle.collission


def test_live_order() -> None:
    orders = wire.WebOrders.model_validate(load("iserver_account_orders"))
    order = mapping.order_from_web(orders.orders[0], system="ib")
    assert order.order_id == "1210386759"
    assert order.client_order_id == "240103-SPY-1-BUY-L@457-bxv8"
    assert order.symbol == "SPY"
    assert order.side is OrderSide.BUY
    assert order.order_type is OrderType.LIMIT
    assert order.time_in_force is TimeInForce.GTC
    assert order.status is OrderStatus.ACCEPTED
    assert order.quantity == Decimal("1.0") and order.filled_quantity == 0
    assert order.limit_price == Decimal("457.00") and order.stop_price is None
    assert order.updated_at == datetime(2024, 1, 3, 20, 10, 41, tzinfo=UTC)


def test_order_status_payload() -> None:
    item = wire.WebOrder.model_validate(load("iserver_account_order_status"))
    order = mapping.order_from_web(item, system="ib")
    assert order.order_id == "1210386714"
    assert order.status is OrderStatus.NEW
    assert order.side is OrderSide.BUY  # "B"
    assert order.order_type is OrderType.LIMIT
    assert order.limit_price == Decimal("457.00")
    assert order.quantity == Decimal("1.0")
    assert order.account_id == "DUMMY_ACCOUNT_ID123"


def test_position_and_history() -> None:
    (item,) = [wire.WebPosition.model_validate(p) for p in load("portfolio_positions")]
    position = mapping.position_from_web(item, system="ib")
    assert position.symbol == "SPY" and position.quantity == Decimal("100.0")
    assert position.average_cost == Decimal("437.43")
    assert position.market_value == Decimal("45444.0")
    assert position.unrealized_pnl == Decimal("1701.0")
    assert position.venue_instrument_id == "756733"
    history = wire.WebHistory.model_validate(load("iserver_marketdata_history"))
    (bar,) = [mapping.bar_from_web("AAPL", b, interval=BarInterval.MONTH) for b in history.data]
    assert bar.timestamp == datetime(2023, 11, 1, tzinfo=UTC)
    assert (bar.open, bar.high, bar.low, bar.close) == (
        Decimal("171.05"),
        Decimal("192.93"),
        Decimal("170.12"),
        Decimal("189.37"),
    )


def test_accounts() -> None:
    (account,) = [wire.WebAccount.model_validate(a) for a in load("portfolio_accounts")]
    assert account.account_id == "DUMMY_ACCOUNT_ID123" and account.type == "DEMO"


def test_order_question_and_submission() -> None:
    question = wire.OrderQuestion.model_validate(
        {
            "id": "07a13a5a-4a48-44a5-bb25-5ab37b79186c",
            "message": ["price exceeds the Percentage constraint of 3%"],
            "isSuppressed": False,
            "messageIds": ["o163"],
        }
    )
    assert question.message_ids == ["o163"]
    submitted = wire.OrderSubmitted.model_validate(
        {"order_id": 1234, "order_status": "Submitted", "encrypt_message": "1"}
    )
    assert submitted.order_id == "1234"


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [
        ("PreSubmitted", None, OrderStatus.ACCEPTED),
        ("Submitted", Decimal(0), OrderStatus.NEW),
        ("Submitted", Decimal(3), OrderStatus.PARTIALLY_FILLED),
        ("Filled", Decimal(5), OrderStatus.FILLED),
        ("Cancelled", None, OrderStatus.CANCELED),
        ("ApiCancelled", None, OrderStatus.CANCELED),
        ("PendingCancel", None, OrderStatus.PENDING_CANCEL),
        ("Inactive", None, OrderStatus.REJECTED),
        ("PendingSubmit", None, OrderStatus.PENDING_SUBMIT),
    ],
)
def test_status_table(status: str, filled: Decimal | None, expected: OrderStatus) -> None:
    assert mapping.canonical_status(status, filled) is expected


def test_unknown_status_is_a_payload_error() -> None:
    with pytest.raises(PayloadRejected, match="unknown IB order status"):
        mapping.canonical_status("Teleported")


def test_tws_bars_daily_date_and_missing_date() -> None:
    from ib_async import BarData

    daily = BarData(
        date=date(2024, 3, 8),
        open=511.1,
        high=512.5,
        low=509.9,
        close=511.7,
        volume=1200,
        average=511.2,
        barCount=40,
    )
    bar = mapping.bar_from_ib(daily, symbol="SPY", interval=BarInterval.DAY)
    assert bar.timestamp == datetime(2024, 3, 8, tzinfo=UTC)
    assert (bar.open, bar.close, bar.volume, bar.trade_count) == (
        Decimal("511.1"),
        Decimal("511.7"),
        Decimal(1200),
        40,
    )
    # a bar whose date is neither a date nor a time (text here) is refused with the field named
    undated = BarData(date="20240308 10:30:00", open=511.1, high=512.5, low=509.9, close=511.7)
    with pytest.raises(PayloadRejected, match="IB bar of SPY has no date") as caught:
        mapping.bar_from_ib(undated, symbol="SPY", interval=BarInterval.DAY)
    assert caught.value.field == "date"


def test_snapshot_fields_and_preflight_row() -> None:
    now = datetime(2026, 1, 5, 15, tzinfo=UTC)
    preflight = {
        "conid": 265598,
        "conidEx": "265598",
        "_updated": 1767625200000,
        "server_id": "q0",
        "6119": "q0",
    }
    quote = mapping.quote_from_snapshot("AAPL", preflight, now=now)
    assert quote.bid_price is None and quote.last_price is None
    row = {**preflight, "31": "C189.50", "84": "189.48", "86": "189.52", "88": "300", "85": "1,200", "7762": "1234567",
           "7295": "188.00", "70": "190.10", "71": "187.90", "7741": "187.25"}  # fmt: skip
    quote = mapping.quote_from_snapshot("AAPL", row, now=now)
    assert quote.last_price == Decimal("189.50")  # "C" marks a prior-close price
    assert quote.ask_size == Decimal(1200)
    snapshot = mapping.snapshot_from_web("AAPL", row, now=now)
    assert snapshot.daily_bar is not None and snapshot.daily_bar.open == Decimal("188.00")
    assert snapshot.latest_trade is not None and snapshot.latest_trade.price == Decimal("189.50")


def test_order_body_carries_coid_and_prices() -> None:
    request = OrderRequest(
        symbol="AAPL", side=OrderSide.SELL, quantity=Decimal(3), order_type=OrderType.STOP_LIMIT,
        limit_price=Decimal("180"), stop_price=Decimal("181"), client_order_id="c-1",
    )  # fmt: skip
    body = mapping.web_order_body(request, conid=265598, account="DU1", system="ib")
    assert body == {
        "acctId": "DU1", "conid": 265598, "orderType": "STP LMT", "side": "SELL", "quantity": 3.0, "tif": "DAY",
        "cOID": "c-1", "outsideRTH": False, "price": 180.0, "auxPrice": 181.0,
    }  # fmt: skip
    with pytest.raises(NotSupported, match="notional"):
        mapping.web_order_body(
            OrderRequest(symbol="AAPL", side=OrderSide.BUY, notional=Decimal(100)),
            conid=1,
            account="DU1",
            system="ib",
        )
    with pytest.raises(NotSupported, match="trailing_stop"):
        mapping.web_order_body(
            OrderRequest(
                symbol="AAPL",
                side=OrderSide.BUY,
                quantity=Decimal(1),
                order_type=OrderType.TRAILING_STOP,
                trail_percent=Decimal(1),
            ),
            conid=1,
            account="DU1",
            system="ib",
        )


def test_durations_cover_sessions() -> None:
    from portico.connectors.interactive_brokers.client import web_period

    assert mapping.duration_for(BarInterval.MIN_5, 12) == "4 D"
    assert mapping.duration_for(BarInterval.DAY, 20) == "32 D"
    assert web_period(BarInterval.DAY, 20) == "32d"
    assert web_period(BarInterval.MIN_1, 390) == "4d"
