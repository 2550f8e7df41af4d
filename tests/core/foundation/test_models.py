from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from portico.models import (
    TERMINAL_STATUSES,
    Account,
    Bar,
    FxRate,
    Instrument,
    OrderRequest,
    OrderStatus,
    OrderType,
    can_transition,
)


def test_money_is_decimal_and_floats_keep_their_short_form() -> None:
    account = Account(account_id="A1", cash=0.1, currency="usd")
    assert account.cash == Decimal("0.1")
    assert account.currency == "USD"
    assert account.model_dump(mode="json")["cash"] == "0.1"


def test_unknown_currency_and_naive_timestamp_are_rejected() -> None:
    with pytest.raises(ValidationError, match="ISO 4217"):
        Account(account_id="A1", cash=1, currency="XYZ")
    with pytest.raises(ValidationError, match="timezone-aware"):
        Bar(symbol="AAPL", timestamp=datetime(2026, 1, 2), open=1, high=1, low=1, close=1)


def test_isin_check_digit() -> None:
    assert Instrument(symbol="aapl", isin="US0378331005").isin == "US0378331005"
    with pytest.raises(ValidationError, match="check digit"):
        Instrument(symbol="AAPL", isin="US0378331006")


def test_order_request_consistency() -> None:
    with pytest.raises(ValidationError, match="limit_price"):
        OrderRequest(symbol="AAPL", side="buy", quantity=1, order_type=OrderType.LIMIT)
    with pytest.raises(ValidationError, match="exactly one of quantity or notional"):
        OrderRequest(symbol="AAPL", side="buy")
    with pytest.raises(ValidationError, match="positive"):
        OrderRequest(symbol="AAPL", side="buy", quantity=-1)
    ok = OrderRequest(symbol="aapl", side="buy", quantity="1.5", order_type="limit", limit_price="10.10")
    assert ok.quantity == Decimal("1.5") and ok.limit_price == Decimal("10.10")


def test_models_are_immutable_and_strict() -> None:
    account = Account(account_id="A1", cash=1)
    with pytest.raises(ValidationError):
        account.cash = Decimal(2)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        Account(account_id="A1", cash=1, unexpected=True)


def test_fx_rate_positive() -> None:
    with pytest.raises(ValidationError):
        FxRate(base="EUR", quote="USD", rate=0, timestamp=datetime.now(UTC))


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
def test_terminal_statuses_never_move(terminal: OrderStatus) -> None:
    for status in OrderStatus:
        if status != terminal:
            assert not can_transition(terminal, status)


def test_order_state_machine_paths() -> None:
    s = OrderStatus
    assert can_transition(s.PENDING_SUBMIT, s.UNKNOWN)
    assert can_transition(s.UNKNOWN, s.FILLED)  # resolved by lookup
    assert can_transition(s.NEW, s.PARTIALLY_FILLED) and can_transition(s.PARTIALLY_FILLED, s.FILLED)
    assert can_transition(s.PENDING_SUBMIT, s.FILLED)  # a fill may arrive before the acknowledgement
    assert not can_transition(s.PARTIALLY_FILLED, s.NEW)
    assert not can_transition(s.NEW, s.ACCEPTED)
