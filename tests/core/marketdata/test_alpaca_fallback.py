"""The plan's pattern with two real connectors: Alpha Vantage first, Alpaca when it cannot serve; and a
native Alpaca stream through subscribe_market_data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from portico.connectors.alpaca.connector import AlpacaConnector
from portico.marketdata import MarketDataService
from portico.mocks import start_mock
from portico.models import Quote
from portico.sdk import ConnectorContext
from portico.testing import wait_for_async
from tests.core.marketdata.conftest import RecordingMonitor, Systems


@pytest.fixture
async def alpaca() -> AsyncIterator[AlpacaConnector]:
    from portico.auth import AuthenticationManager

    running = await asyncio.to_thread(start_mock, "alpaca", seed=2)
    credentials = {"api_key_id": SecretStr("key"), "api_secret_key": SecretStr("secret")}
    scheme = AlpacaConnector.spec.auth_scheme()
    assert scheme is not None
    auth = AuthenticationManager(vault=None, audit=None, clock=None).build(
        "alpaca", scheme.scheme, credentials, dict(scheme.options)
    )
    context = ConnectorContext.for_testing(
        AlpacaConnector, urls=running.urls, system_id="alpaca", credentials=credentials, auth=auth
    )
    connector = AlpacaConnector(context)
    await connector.open()
    try:
        yield connector
    finally:
        await connector.close()
        await running.stop()


async def test_alpha_vantage_then_alpaca(
    systems: Systems, alpaca: AlpacaConnector, monitor: RecordingMonitor
) -> None:
    systems.primary.mock.faults.extend([{"kind": "information"}])  # the day's quota is spent
    service = MarketDataService(
        {"alpha_vantage": systems.connectors["av_primary"], "alpaca": alpaca},
        monitor=monitor,
        clock=systems.clock,
        config={"fallback": {"alpha_vantage": ["alpaca"]}},
    )
    result = await service.get_market_data(
        "alpha_vantage", ["AAPL", "MSFT"], "bars", {"interval": "1day", "limit": 5}
    )
    assert result.providers == {"AAPL": "alpaca", "MSFT": "alpaca"} and result.served_by == "alpaca"
    assert all(len(result[s]) == 5 for s in ("AAPL", "MSFT"))
    (event,) = monitor.named("marketdata.fallback")
    assert (event["from_system"], event["to_system"], event["reason"]) == (
        "alpha_vantage",
        "alpaca",
        "throttled",
    )
    # latest quotes too: Alpaca answers several symbols in one call
    quotes = await service.get_market_data("alpha_vantage", ["AAPL", "MSFT"], "latest_quote")
    assert quotes.providers == {"AAPL": "alpaca", "MSFT": "alpaca"} and quotes["AAPL"].bid_price


async def test_alpaca_quotes_arrive_through_its_native_stream(alpaca: AlpacaConnector) -> None:
    service = MarketDataService({"alpaca": alpaca}, config={"cache": {"enabled": False}})
    got: list[Any] = []
    sid = await service.subscribe_market_data("alpaca", ["AAPL", "MSFT"], "quotes", got.append)
    assert service.subscription(sid).mode == "stream"
    await wait_for_async(lambda: {q.symbol for q in got} >= {"AAPL", "MSFT"}, timeout=20)
    assert all(isinstance(q, Quote) for q in got)
    summary = await service.unsubscribe_market_data(sid)
    assert summary["delivered"] >= 2 and summary["dropped"] == 0
