"""Positions by RequestForPositions (AN) / PositionReport (AP) against the FIX mock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portico.errors import ConfigurationError, NotSupported, VenueRejected
from portico.mocks.fix import FixMockServer
from portico.models import OrderRequest


async def test_positions_are_reported_one_per_symbol_after_an_ack(
    fix_mock: FixMockServer, fix_connector
) -> None:
    account = fix_mock.venue.default_account_id
    connector = await fix_connector(fix_mock, account=account)
    assert await connector.get_positions() == [], "PosReqResult 2: no positions found"
    for symbol, quantity in (("MSFT", 2), ("AAPL", 3), ("AAPL", 1)):
        await connector.place_order(
            OrderRequest(
                symbol=symbol,
                side="buy",
                quantity=Decimal(quantity),
                client_order_id=f"p-{symbol}-{quantity}",
            )
        )
    positions = await connector.get_positions()
    assert [(p.symbol, p.quantity, p.account_id) for p in positions] == [
        ("AAPL", Decimal(4), account),
        ("MSFT", Decimal(2), account),
    ]
    aapl = positions[0]
    assert aapl.market_price == fix_mock.venue.price("AAPL")
    assert aapl.market_value == Decimal(4) * fix_mock.venue.price("AAPL")
    assert [m.msg_type for m in fix_mock.received].count("AN") == 2
    # an account the counterparty does not hold: refused with its reason
    with pytest.raises(VenueRejected, match="account not found"):
        await connector.get_positions("NO-SUCH-ACCOUNT")


async def test_positions_need_an_account_and_a_counterparty_that_answers(fix_connector) -> None:
    mock = await FixMockServer(seed=21, position_requests=False).start()
    try:
        connector = await fix_connector(mock)
        with pytest.raises(ConfigurationError, match="connection.account"):
            await connector.get_positions()
        with pytest.raises(NotSupported, match="RequestForPositions"):
            await connector.get_positions("ANY")
    finally:
        await mock.stop()
