"""The Client Portal session, order questions, pre-flight snapshots, pacing and paging."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from portico.clock import FakeClock
from portico.connectors.interactive_brokers import InteractiveBrokersConnector
from portico.errors import AuthError, VenueRejected
from portico.models import OrderRequest, OrderSide, OrderType
from portico.sdk import ConnectorContext
from portico.testing import wait_for_async


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, **data: Any) -> None:
        self.items.append((event, data))

    def names(self) -> list[str]:
        return [name for name, _ in self.items]


def _connector(
    mock: Any, *, clock: Any = None, events: Events | None = None, **connection: Any
) -> InteractiveBrokersConnector:
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls=mock.urls,
        connection={"transport": "web", **connection},
        clock=clock or FakeClock(),
        emit=events or Events(),
    )
    return InteractiveBrokersConnector(context)


def _admin(mock: Any, **state: Any) -> dict[str, Any]:
    response = httpx.post(mock.running.base_url + "/__mock__/ib/session", json=state)
    response.raise_for_status()
    return dict(response.json())


async def test_keepalive_tickles_on_the_clock(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(pacing=False)
    clock = FakeClock(auto_advance=False)
    connector = _connector(mock, clock=clock, tickle_interval=60)
    await connector.open()
    try:
        journal = mock.app.journal
        before = journal.count("POST", "/v1/api/tickle")
        for round_ in (1, 2):
            await wait_for_async(lambda: clock.pending_sleepers > 0, timeout=5)
            clock.advance(60)
            await wait_for_async(
                lambda r=round_: journal.count("POST", "/v1/api/tickle") >= before + r, timeout=5
            )
    finally:
        await connector.close()


async def test_lapsed_session_is_reauthenticated(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(pacing=False)
    events = Events()
    connector = _connector(mock, events=events)
    await connector.open()
    try:
        _admin(mock, authenticated=False)
        found = await connector.search_instruments("IBM")
        assert [i.symbol for i in found] == ["IBM"]
        assert mock.app.journal.count("POST", "/v1/api/iserver/reauthenticate") == 1
        assert "session.reauthenticated" in events.names()
        # an idle gateway session lapses by itself after session_timeout without requests
        httpx.post(mock.running.base_url + "/__mock__/clock", json={"advance": 400}).raise_for_status()
        assert (await connector.get_latest_quotes(["IBM"]))["IBM"].bid_price is not None
        assert mock.app.journal.count("POST", "/v1/api/iserver/reauthenticate") == 2
    finally:
        await connector.close()


async def test_competing_session_is_reported_not_stolen(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(pacing=False)
    events = Events()
    connector = _connector(mock, events=events)
    await connector.open()
    try:
        _admin(mock, competing=True)
        result = await connector.check()
        assert not result.ok and "competing" in result.detail
        assert result.checks["no_competing_session"] is False
        with pytest.raises(AuthError, match="another session"):
            await connector.search_instruments("MSFT")
        assert "session.competing" in events.names()
        assert mock.app.journal.count("POST", "/v1/api/iserver/auth/ssodh/init") == 0
    finally:
        await connector.close()
    taking_over = _connector(mock, take_over_competing=True)
    await taking_over.open()
    try:
        assert (await taking_over.check()).ok
        assert mock.app.journal.count("POST", "/v1/api/iserver/auth/ssodh/init") == 1
    finally:
        await taking_over.close()


async def test_logged_out_gateway_asks_for_a_login(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(pacing=False)
    _admin(mock, logged_out=True)
    connector = _connector(mock)
    with pytest.raises(AuthError, match="log in"):
        await connector.open()
    await connector.close()


def _market(ref: str) -> OrderRequest:
    return OrderRequest(symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), client_order_id=ref)


def _far_limit(ref: str) -> OrderRequest:
    return OrderRequest(
        symbol="AAPL", side=OrderSide.BUY, quantity=Decimal(1), order_type=OrderType.LIMIT,
        limit_price=Decimal("1.00"), client_order_id=ref,
    )  # fmt: skip


async def test_order_questions_are_answered_by_policy(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(pacing=False)
    refuse_all = _connector(mock, confirm_warnings=False)
    await refuse_all.open()
    try:
        with pytest.raises(VenueRejected, match="o354"):
            await refuse_all.place_order(_market("q-1"))
    finally:
        await refuse_all.close()
    only_price = _connector(mock, confirm_warnings=["o163"])
    await only_price.open()
    try:
        with pytest.raises(VenueRejected, match="declined"):
            await only_price.place_order(_market("q-2"))
        placed = await only_price.place_order(_far_limit("q-3"))
        assert placed.client_order_id == "q-3"
    finally:
        await only_price.close()
    confirm = _connector(mock)
    await confirm.open()
    try:
        assert (await confirm.place_order(_market("q-4"))).client_order_id == "q-4"
    finally:
        await confirm.close()
    refs = sorted(o.order_ref for o in mock.app.venue.orders.values())
    assert refs == ["q-3", "q-4"], "declined orders must never reach the venue"
    assert mock.app.journal.count("POST", None) >= 4


async def test_snapshot_preflight_is_asked_again(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory(pacing=False)
    connector = _connector(mock)
    await connector.open()
    try:
        quotes = await connector.get_latest_quotes(["MSFT", "SPY"])
        assert set(quotes) == {"MSFT", "SPY"}
        assert all(q.bid_price is not None and q.ask_price is not None for q in quotes.values())
        snapshots = [e for e in mock.app.journal.entries("GET") if e.path.endswith("/marketdata/snapshot")]
        assert len(snapshots) == 2, (
            "the first (pre-flight) answer carries no prices, so a second call is needed"
        )
    finally:
        await connector.close()


async def test_pacing_429_and_the_connector_paces_itself(ib_mock_factory: Callable[..., Any]) -> None:
    mock = await ib_mock_factory()
    url = mock.urls["web"] + "/iserver/account/orders"
    with httpx.Client() as raw:
        assert raw.get(url).status_code == 200
        second = raw.get(url)
        assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
    clock = FakeClock(auto_advance=False)
    mock_unpaced = await ib_mock_factory(pacing=False)
    connector = _connector(mock_unpaced, clock=clock)
    await connector.open()
    try:
        await connector.list_orders(status="all")
        second = asyncio.create_task(connector.list_orders(status="all"))
        await wait_for_async(lambda: any(4.9 <= s <= 5.5 for s in clock.sleeps), timeout=5)
        assert not second.done(), "the second live-orders call must wait for IB's 1-per-5-seconds pacing"
        clock.advance(5.5)
        await asyncio.wait_for(second, 5)
        assert mock_unpaced.app.journal.count("GET", "/v1/api/iserver/account/orders") == 2
    finally:
        await connector.close()


async def test_positions_are_read_page_by_page() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        calls.append(path)
        if path.endswith("/iserver/auth/status"):
            return httpx.Response(200, json={"authenticated": True, "connected": True, "competing": False})
        if path.endswith("/tickle"):
            return httpx.Response(
                200, json={"session": "abc", "iserver": {"authStatus": {"authenticated": True}}}
            )
        if path.endswith("/iserver/accounts"):
            return httpx.Response(200, json={"accounts": ["DU9"], "selectedAccount": "DU9"})
        page = int(path.rsplit("/", 1)[1])
        size = 100 if page == 0 else 3
        rows = [{"acctId": "DU9", "conid": page * 1000 + i, "ticker": f"S{page}{i}", "position": 1, "avgCost": 1.5}
                for i in range(size)]  # fmt: skip
        return httpx.Response(200, json=rows)

    from portico.http import ApiClient

    def factory(base_url: str, **overrides: Any) -> ApiClient:
        return ApiClient(
            base_url, system="ib", transport=httpx.MockTransport(handler), clock=FakeClock(), **overrides
        )

    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls={"web": "https://gateway.test/v1/api"},
        connection={"transport": "web"},
        client_factory=factory,
        clock=FakeClock(),
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    try:
        positions = await connector.get_positions()
    finally:
        await connector.close()
    assert len(positions) == 103
    assert [c for c in calls if "/positions/" in c] == [
        "/v1/api/portfolio/DU9/positions/0",
        "/v1/api/portfolio/DU9/positions/1",
    ]


async def test_the_authentication_managers_session_scheme_keeps_the_session(
    ib_mock_factory: Callable[..., Any],
) -> None:
    from portico.auth import AuthenticationManager
    from portico.connectors.interactive_brokers import SPEC
    from portico.sdk import resolve_url_templates

    mock = await ib_mock_factory(pacing=False)
    clock = FakeClock(auto_advance=False)
    scheme = SPEC.auth_scheme("session")
    assert scheme is not None
    options = resolve_url_templates({**scheme.options, "poll_delay": 0.01}, mock.urls)
    auth = AuthenticationManager(clock=clock).build("ib_web", "session", {}, options)
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls=mock.urls,
        auth_scheme="session",
        auth=auth,
        clock=clock,
        system_id="ib_web",
    )
    connector = InteractiveBrokersConnector(context)
    assert connector.transport_name == "web"
    await connector.open()
    try:
        journal = mock.app.journal
        tickles = journal.count("POST", "/v1/api/tickle")
        await wait_for_async(lambda: clock.pending_sleepers > 0, timeout=5)
        clock.advance(60)
        await wait_for_async(lambda: journal.count("POST", "/v1/api/tickle") > tickles, timeout=5)
        _admin(mock, authenticated=False)
        assert [i.symbol for i in await connector.search_instruments("NVDA")] == ["NVDA"]
        assert auth.reauth_count == 1  # type: ignore[attr-defined]
        assert journal.count("POST", "/v1/api/iserver/reauthenticate") == 1
    finally:
        await connector.close()
