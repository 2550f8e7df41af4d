"""Cash movements and corporate actions from IB's Flex Web Service, against the IB mock.

Seed 2 splits AAPL 1:4 on 2025-02-26 and pays its quarterly dividends; the account holds 10 AAPL from
2025-02-03. By 2025-06-20 the venue has split the position to 40 and paid the dividends due, and the
Flex statement says so: the split as a corporate action with the key every provider gives it, the
funding deposit and each dividend (40 x the rate) as cash movements.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from pydantic import SecretStr

pytest.importorskip("ib_async")

from portico.clock import FakeClock
from portico.connectors.interactive_brokers import InteractiveBrokersConnector
from portico.connectors.interactive_brokers.flex import _TokenAuth
from portico.errors import AuthError, ConfigurationError, ReadTimeout
from portico.mocks._kit._data import MarketDataGenerator
from portico.models import CashMovementType, CorporateActionType
from portico.sdk import ConnectorContext
from tests.connectors.interactive_brokers.conftest import RunningIbMock

START = datetime(2025, 2, 3, 15, tzinfo=UTC)
LATER = datetime(2025, 6, 20, 15, tzinfo=UTC)
SPLIT_DAY = date(2025, 2, 26)


def _connector(
    mock: RunningIbMock, *, token: str = "flex-good", **connection: Any
) -> InteractiveBrokersConnector:
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls=mock.urls,
        connection={
            "transport": "tws",
            "client_id": 5,
            "ack_timeout": 2,
            "flex_query_id": "998877",
            **connection,
        },
        credentials={"flex_token": SecretStr(token)},
        auth_scheme="tws",
        clock=FakeClock(LATER),
    )
    return InteractiveBrokersConnector(context)


@pytest.fixture
async def mock(ib_mock_factory: Callable[..., Any]) -> AsyncIterator[RunningIbMock]:
    running: RunningIbMock = await ib_mock_factory(
        seed=2, start=START, positions={"AAPL": (Decimal(10), Decimal(200))}, flex_tokens=["flex-good"]
    )
    running.app.clock.set(LATER)
    yield running


def _expected_dividends() -> list[tuple[date, Decimal, Decimal, Decimal]]:
    """(pay date, quantity, per share, amount) of AAPL's dividends paid by LATER to a 10-share holder."""
    out = []
    for action in MarketDataGenerator(2).corporate_actions("AAPL", START.date(), LATER.date()):
        if action.kind != "cash_dividend" or action.pay_date > LATER.date() or action.ex_date <= START.date():
            continue
        qty = Decimal(40) if action.ex_date >= SPLIT_DAY else Decimal(10)
        rate = Decimal(str(action.cash_amount))
        out.append(
            (action.pay_date, qty, rate, (qty * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        )
    return out


async def test_the_split_and_the_dividends_come_from_the_flex_statement(mock: RunningIbMock) -> None:
    connector = _connector(mock)
    await connector.open()
    try:
        (split,) = await connector.get_corporate_actions("aapl")
        movements = await connector.get_cash_movements()
        (position,) = await connector.get_positions()
    finally:
        await connector.close()
    assert (split.key, split.action_type, split.ratio_from, split.ratio_to) == (
        "AAPL:split:2025-02-26", CorporateActionType.SPLIT, 1, 4
    )  # fmt: skip
    assert split.share_factor == 4
    assert (position.symbol, position.quantity) == ("AAPL", 40)  # the venue split it too
    deposit, *dividends = movements
    assert (deposit.movement_type, deposit.amount, deposit.date) == (
        CashMovementType.DEPOSIT, Decimal("1000000"), START.date()
    )  # fmt: skip
    expected = _expected_dividends()
    assert expected, "seed 2 pays AAPL dividends in the window"
    assert [(m.date, m.quantity, m.per_share, m.amount) for m in dividends] == expected
    assert all(m.movement_type is CashMovementType.DIVIDEND and m.symbol == "AAPL" for m in dividends)


async def test_windows_and_the_statement_fetched_once_per_cache_period(mock: RunningIbMock) -> None:
    connector = _connector(mock)
    await connector.open()
    try:
        assert await connector.get_corporate_actions("AAPL", start=datetime(2025, 3, 1, tzinfo=UTC)) == []
        assert await connector.get_corporate_actions("MSFT") == []
        recent = await connector.get_cash_movements(since=datetime(2025, 3, 1, tzinfo=UTC))
        assert [m.date for m in recent] == [d for d, *_ in _expected_dividends() if d >= date(2025, 3, 1)]
    finally:
        await connector.close()
    assert len(mock.app.journal.entries("GET", "/AccountManagement/FlexWebService/SendRequest")) == 1


async def test_a_statement_in_generation_is_polled_until_ready(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(seed=2, start=START, flex_pending=2)
    connector = _connector(mock, flex_poll_interval=5)
    try:
        (deposit,) = await connector.get_cash_movements()
    finally:
        await connector.close()
    assert deposit.amount == Decimal("1000000")
    assert len(mock.app.journal.entries("GET", "/AccountManagement/FlexWebService/GetStatement")) == 3
    slow = await ib_mock_factory(seed=2, start=START, flex_pending=5)
    connector = _connector(slow, flex_max_polls=3)
    try:
        with pytest.raises(ReadTimeout, match="after 3 polls"):
            await connector.get_cash_movements()
    finally:
        await connector.close()


async def test_a_refused_token_is_an_auth_error_that_never_shows_the_token(mock: RunningIbMock) -> None:
    connector = _connector(mock, token="flex-wrong-secret")
    try:
        with pytest.raises(AuthError) as refused:
            await connector.get_cash_movements()
    finally:
        await connector.close()
    assert refused.value.venue_code == "1015"
    assert "flex-wrong-secret" not in str(refused.value) and "flex-wrong-secret" not in repr(refused.value)
    assert repr(_TokenAuth("flex-wrong-secret")) == "FlexTokenAuth(t=***)"


async def test_without_a_flex_query_the_error_names_what_to_configure(mock: RunningIbMock) -> None:
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector, urls=mock.urls, connection={"transport": "tws"}, auth_scheme="tws"
    )
    connector = InteractiveBrokersConnector(context)
    with pytest.raises(ConfigurationError, match="flex_query_id and credentials.flex_token"):
        await connector.get_corporate_actions("AAPL")


async def test_ib_asyncs_flex_report_reads_the_mocks_statement(mock: RunningIbMock, monkeypatch: Any) -> None:
    from ib_async.flexreport import FlexReport

    monkeypatch.setenv("IB_FLEXREPORT_URL", mock.urls["flex"] + "/SendRequest?")
    report = await asyncio.to_thread(FlexReport, "flex-good", "998877")
    cash = report.extract("CashTransaction")
    assert [c.type for c in cash] == ["Deposits/Withdrawals"] + ["Dividends"] * len(_expected_dividends())
    (split,) = report.extract("CorporateAction")
    assert (split.type, split.symbol, split.quantity) == ("FS", "AAPL", 30)
