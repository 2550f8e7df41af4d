"""Both declared auth schemes, built by the AuthenticationManager as the runtime builds them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest
from pydantic import SecretStr

from portico.auth import AuthenticationManager
from portico.clock import system_clock
from portico.connectors.alpaca import AlpacaConnector
from portico.errors import AuthError
from portico.mocks import RunningMock
from portico.models import OrderRequest, OrderSide
from portico.sdk import ConnectorContext
from portico.testing import wait_for_async


def _connector(running: RunningMock, scheme: str, credentials: dict[str, str]) -> AlpacaConnector:
    spec = AlpacaConnector.spec.auth_scheme(scheme)
    assert spec is not None
    secrets = {k: SecretStr(v) for k, v in credentials.items()}
    auth = AuthenticationManager(vault=None, audit=None, clock=None).build("alpaca", scheme, secrets, dict(spec.options))
    context = ConnectorContext.for_testing(
        AlpacaConnector, urls=running.urls, credentials=secrets, auth_scheme=scheme, auth=auth, clock=system_clock
    )
    return AlpacaConnector(context)


async def test_key_pair_scheme(served: Callable[..., RunningMock]) -> None:
    running = served(keys={"PKLIVE": "s3cret"})
    connector = _connector(running, "api_key_pair", {"api_key_id": "PKLIVE", "api_secret_key": "s3cret"})
    assert (await connector.check()).ok
    headers = running.app.journal.entries("GET", "/v2/account")[0].headers
    assert headers["apca-api-key-id"] == "PKLIVE" and headers["apca-api-secret-key"] == "***"
    await connector.close()
    wrong = _connector(running, "api_key_pair", {"api_key_id": "PKLIVE", "api_secret_key": "nope"})
    with pytest.raises(AuthError):
        await wrong.get_account()
    await wrong.close()


async def test_oauth_bearer_scheme_for_rest_and_trade_updates(served: Callable[..., RunningMock]) -> None:
    running = served(tokens={"oauth-token-1"})
    connector = _connector(running, "api_key", {"token": "oauth-token-1"})
    assert (await connector.get_account()).status == "ACTIVE"
    assert running.app.journal.entries("GET", "/v2/account")[0].headers["authorization"] == "***"
    events = []
    stream = connector.subscribe_order_updates()

    async def collect() -> None:
        async for event in stream:
            events.append(event)

    task = asyncio.create_task(collect())
    try:
        await wait_for_async(lambda: running.app.journal.count("WS", "/stream") == 1)
        await wait_for_async(lambda: len(running.app.journal.entries("WS", "/stream")[0].messages) >= 2)
        await connector.place_order(OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), client_order_id="oa"))
        await wait_for_async(lambda: any(e.event == "fill" for e in events), timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
        await connector.close()
    first = running.app.journal.entries("WS", "/stream")[0].messages[0]
    assert first == {"action": "authenticate", "data": {"oauth_token": "***"}}  # the journal keeps no secret
    expired = _connector(running, "api_key", {"token": "expired"})
    with pytest.raises(AuthError):
        await expired.get_account()
    await expired.close()
