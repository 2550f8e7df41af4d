"""TWS transport specifics: transport choice, address resolution, venue rejections, NotSupported."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

pytest.importorskip("ib_async")

from portico.connectors.interactive_brokers import InteractiveBrokersConnector, select_transport
from portico.connectors.interactive_brokers.tws import tws_address
from portico.errors import ConfigurationError, ConnectionFailed, NotSupported, VenueRejected
from portico.mocks.interactive_brokers.tws import TwsMockServer
from portico.models import OrderRequest, OrderSide
from portico.sdk import ConnectorContext


def _context(**kwargs: object) -> ConnectorContext:
    return ConnectorContext.for_testing(InteractiveBrokersConnector, **kwargs)  # type: ignore[arg-type]


def test_the_plans_settings_select_tws() -> None:
    plan = _context(connection={"host": "127.0.0.1", "port": 7496, "client_id": 1}, auth_scheme="tws")
    assert select_transport(plan) == "tws"
    assert tws_address(plan) == ("127.0.0.1", 7496)
    assert select_transport(_context(auth_scheme="none")) == "web"
    assert select_transport(_context(connection={"transport": "WEB", "client_id": 3})) == "web"
    with pytest.raises(ConfigurationError, match=r"connection\.transport"):
        select_transport(_context(connection={"transport": "fix"}))


def test_a_routed_tws_url_wins_over_connection() -> None:
    routed = _context(urls={"tws": "tcp://127.0.0.1:41234"}, connection={"host": "10.0.0.9", "port": 7496})
    assert tws_address(routed) == ("127.0.0.1", 41234)
    live = _context(environment="live")
    assert tws_address(live) == ("127.0.0.1", 7496)
    with pytest.raises(ConfigurationError, match="port"):
        tws_address(_context(connection={"host": "h", "port": "seven"}))


@pytest.fixture
async def server() -> AsyncIterator[TwsMockServer]:
    server = await TwsMockServer(seed=3, tick_interval=0).start()
    yield server
    await server.stop()


@pytest.fixture
async def connector(server: TwsMockServer) -> AsyncIterator[InteractiveBrokersConnector]:
    connector = InteractiveBrokersConnector(
        _context(urls={"tws": server.url}, connection={"client_id": 9, "ack_timeout": 2}, auth_scheme="tws")
    )
    await connector.open()
    yield connector
    await connector.close()


async def test_snapshots_are_web_only(connector: InteractiveBrokersConnector) -> None:
    with pytest.raises(NotSupported) as info:
        await connector.get_snapshots(["AAPL"])
    assert "over tws" in str(info.value) and "transport 'web' offers it" in str(info.value)


async def test_a_venue_refusal_is_a_rejection_with_ibs_code(connector: InteractiveBrokersConnector) -> None:
    too_big = OrderRequest(
        symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1_000_000), client_order_id="big-1"
    )
    with pytest.raises(VenueRejected) as info:
        await connector.place_order(too_big)
    assert info.value.venue_code == "201"


async def test_a_taken_client_id_fails_to_connect(
    server: TwsMockServer, connector: InteractiveBrokersConnector
) -> None:
    second = InteractiveBrokersConnector(
        _context(
            urls={"tws": server.url}, connection={"client_id": 9, "connect_timeout": 2}, auth_scheme="tws"
        )
    )
    with pytest.raises(ConnectionFailed, match="client id 9"):
        await second.open()


async def test_without_ib_async_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ib_async", None)
    connector = InteractiveBrokersConnector(_context(urls={"tws": "tcp://127.0.0.1:9"}, auth_scheme="tws"))
    with pytest.raises(ConfigurationError, match=r"portico\[ib\]"):
        await connector.open()


async def test_executions_carry_commissions(connector: InteractiveBrokersConnector) -> None:
    order = await connector.place_order(
        OrderRequest(symbol="IBM", side=OrderSide.BUY, quantity=Decimal(300), client_order_id="exec-1")
    )
    (execution,) = await connector.get_executions(order_id=order.order_id)
    assert execution.client_order_id == "exec-1"
    assert execution.quantity == 300 and execution.commission == Decimal("1.5")
    positions = {p.symbol: p.quantity for p in await connector.get_positions()}
    assert positions["IBM"] == 300
