"""The conformance suite every connector runs, generated from its declared capabilities.

Use it with a few lines of pytest::

    from portico.testing.conformance import ConnectorConformance
    from my_plugin.connector import MyConnector

    class TestMyConnector(ConnectorConformance):
        connector_class = MyConnector
        credentials = {"api_key": "test-key"}

Every declared capability is exercised against the connector's own mock (started on an ephemeral port
for each test), its results are checked against the canonical models' invariants, and every capability
the manifest does not declare must raise :class:`~portico.errors.NotSupported`. Override
:meth:`ConnectorConformance.make_context` to point the connector elsewhere, or the ``connector`` fixture
entirely for connectors that need more set-up.

It is over 600 lines because it is one job, the suite itself: :class:`ConnectorConformance` is one
pytest class whose thirty-odd generated tests (one per capability, each gated by the capabilities it
exercises) share its fixtures and the canonical-model invariant checks above it. Spreading the tests
over mixins would make a connector's author read several files to see what their connector must pass.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from portico.errors import NotFound, NotSupported, VenueRejected
from portico.models import (
    Account,
    Bar,
    BarInterval,
    CashMovement,
    CorporateAction,
    Execution,
    Fundamentals,
    FxRate,
    Instrument,
    NewsItem,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Snapshot,
    TimeInForce,
    Trade,
)
from portico.sdk import (
    Capability,
    CheckResult,
    Connector,
    ConnectorContext,
    ConnectorSpec,
    resolve_url_templates,
)

__all__ = ["ConnectorConformance", "call_with_defaults"]

_STREAM_TIMEOUT = 15.0


def _aware(ts: datetime | None) -> None:
    assert ts is None or (ts.tzinfo is not None and ts.utcoffset() is not None), f"naive timestamp {ts!r}"


def _check_bar(bar: Bar, symbol: str | None = None) -> None:
    assert isinstance(bar, Bar)
    _aware(bar.timestamp)
    assert bar.low <= bar.high, f"low {bar.low} > high {bar.high}"
    assert bar.low <= bar.open <= bar.high, f"open {bar.open} outside [{bar.low}, {bar.high}]"
    assert bar.low <= bar.close <= bar.high, f"close {bar.close} outside [{bar.low}, {bar.high}]"
    assert bar.low > 0
    assert bar.volume >= 0
    if symbol is not None:
        assert bar.symbol.upper().replace(".", "/") in {symbol.upper(), symbol.upper().replace(".", "/")}


def _check_ascending(items: list[Any], attr: str = "timestamp") -> None:
    stamps = [getattr(i, attr) for i in items]
    assert stamps == sorted(stamps), f"{attr} values are not in ascending order"


def call_with_defaults(method: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Call ``method`` with only the keyword arguments its signature accepts."""
    params = inspect.signature(method).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return method(*args, **kwargs)


async def _first(iterator: AsyncIterator[Any], count: int = 1, timeout: float = _STREAM_TIMEOUT) -> list[Any]:
    items: list[Any] = []

    async def take() -> None:
        async for item in iterator:
            items.append(item)
            if len(items) >= count:
                return

    try:
        await asyncio.wait_for(take(), timeout)
    finally:
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()
    return items


_C = Capability
_REQUIRES: dict[str, tuple[Capability, ...]] = {
    "test_get_account": (_C.GET_ACCOUNT,),
    "test_get_positions": (_C.GET_POSITIONS,),
    "test_place_market_order_fills": (_C.PLACE_ORDER,),
    "test_place_order_rejects_unsupported_order_type": (_C.PLACE_ORDER,),
    "test_get_order_and_by_client_id": (_C.PLACE_ORDER, _C.GET_ORDER),
    "test_cancel_order": (_C.PLACE_ORDER, _C.CANCEL_ORDER),
    "test_replace_order": (_C.PLACE_ORDER, _C.REPLACE_ORDER),
    "test_list_orders": (_C.LIST_ORDERS,),
    "test_get_executions": (_C.GET_EXECUTIONS,),
    "test_get_bars": (_C.GET_BARS,),
    "test_get_quotes": (_C.GET_QUOTES,),
    "test_get_trades": (_C.GET_TRADES,),
    "test_get_latest_quotes": (_C.GET_LATEST_QUOTES,),
    "test_get_latest_trades": (_C.GET_LATEST_TRADES,),
    "test_get_snapshots": (_C.GET_SNAPSHOTS,),
    "test_search_instruments": (_C.SEARCH_INSTRUMENTS,),
    "test_get_fundamentals": (_C.GET_FUNDAMENTALS,),
    "test_get_fx_rate": (_C.GET_FX_RATE,),
    "test_get_fx_series": (_C.GET_FX_SERIES,),
    "test_get_corporate_actions": (_C.GET_CORPORATE_ACTIONS,),
    "test_get_news": (_C.GET_NEWS,),
    "test_get_cash_movements": (_C.GET_CASH_MOVEMENTS,),
    "test_subscribe_news": (_C.SUBSCRIBE_NEWS,),
    "test_subscribe_quotes": (_C.SUBSCRIBE_QUOTES,),
    "test_subscribe_trades": (_C.SUBSCRIBE_TRADES,),
    "test_subscribe_bars": (_C.SUBSCRIBE_BARS,),
    "test_subscribe_order_updates": (_C.SUBSCRIBE_ORDER_UPDATES, _C.PLACE_ORDER),
}
"""The capabilities each generated test exercises."""


class ConnectorConformance:
    """Base class of a connector's conformance tests. Set :attr:`connector_class` at least.

    Attributes:
        connector_class: the connector under test.
        credentials: credential values for the mock (any value the mock accepts).
        connection: the system's ``connection`` settings.
        environment: the environment to test (default: the manifest's default).
        symbol: an equity symbol the mock knows.
        fx_pair: a currency pair the mock knows.
        order_quantity: a small quantity for test orders.
        mock_seed: the mock's seed.
    """

    connector_class: ClassVar[type[Connector]]
    credentials: ClassVar[Mapping[str, str]] = {}
    connection: ClassVar[Mapping[str, Any]] = {}
    environment: ClassVar[str | None] = None
    symbol: ClassVar[str] = "AAPL"
    fx_pair: ClassVar[tuple[str, str]] = ("EUR", "USD")
    order_quantity: ClassVar[Decimal] = Decimal("1")
    mock_seed: ClassVar[int] = 7

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # generate the suite from the manifest: tests of undeclared capabilities are not collected
        # (their absence is covered by test_undeclared_capabilities_raise_not_supported)
        super().__init_subclass__(**kwargs)
        connector = cls.__dict__.get("connector_class")
        if connector is None:
            return
        caps = connector.spec.capabilities
        for name, required in _REQUIRES.items():
            if not all(caps.has(c) for c in required) and name not in cls.__dict__:
                setattr(cls, name, None)

    # -- set-up ----------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _skip_retired(self) -> None:
        """A retired connector (its manifest's ``retired``) has nothing left to exercise."""
        retired = self.spec.retired
        if retired is not None:
            pytest.skip(
                f"{self.spec.name} is retired ({retired.retired_on.isoformat()}): its API no longer answers; "
                f"replacements: {', '.join(retired.replacements) or 'none'}"
            )

    @property
    def spec(self) -> ConnectorSpec:
        return self.connector_class.spec

    def declared(self, capability: Capability) -> bool:
        """Whether the connector declares ``capability``."""
        return self.spec.capabilities.has(capability)

    def require(self, capability: Capability) -> None:
        """Skip the running test unless ``capability`` is declared."""
        if not self.declared(capability):
            pytest.skip(f"{self.spec.name} does not declare {capability.value}")

    async def make_context(self, urls: Mapping[str, str]) -> ConnectorContext:
        """The context the connector under test gets. Override to add auth or options."""
        from pydantic import SecretStr

        auth = None
        scheme_spec = self.spec.auth_scheme()
        credentials = {k: SecretStr(v) for k, v in self.credentials.items()}
        if scheme_spec is not None and scheme_spec.scheme not in {"none", "tws"}:
            try:
                from portico.auth import AuthenticationManager  # lazy: cold start
                from portico.plugins import PluginManager  # lazy: cold start
            except ImportError:
                auth = None
            else:
                options = resolve_url_templates(dict(scheme_spec.options), dict(urls))
                # with the installed plugins: a connector's first scheme may be its own (portico_auth_schemes)
                manager = AuthenticationManager(vault=None, audit=None, clock=None, plugins=PluginManager())
                auth = manager.build(self.spec.name, scheme_spec.scheme, credentials, options)
        return ConnectorContext.for_testing(
            self.connector_class,
            urls=urls,
            environment=self.environment,
            connection=dict(self.connection),
            credentials=credentials,
            auth_scheme=scheme_spec.scheme if scheme_spec else None,
            auth=auth,
        )

    @pytest.fixture
    async def mock_server(self) -> AsyncIterator[Any]:
        """The connector's mock, on an ephemeral port."""
        if self.spec.mock is None:
            pytest.skip(f"{self.spec.name} ships no mock; override the connector fixture")
        from portico.mocks import start_mock  # lazy: cold start

        running = await asyncio.to_thread(start_mock, self.spec.mock, seed=self.mock_seed)
        try:
            yield running
        finally:
            await running.stop()

    @pytest.fixture
    async def connector(self, mock_server: Any) -> AsyncIterator[Connector]:
        """An opened connector pointed at its mock."""
        context = await self.make_context(mock_server.urls)
        instance = self.connector_class(context)
        await instance.open()
        try:
            yield instance
        finally:
            await instance.close()

    # -- the manifest ----------------------------------------------------------------------------

    def test_spec_is_valid(self) -> None:
        spec = ConnectorSpec.model_validate(self.spec.model_dump())
        assert spec == self.spec
        assert spec.mock is not None, "every connector ships a mock server"

    def test_declared_capabilities_are_implemented(self) -> None:
        for capability in self.spec.capabilities.declared:
            if capability is Capability.GET_ORDER_BY_CLIENT_ID:
                continue
            own = getattr(self.connector_class, capability.value)
            base = getattr(Connector, capability.value)
            assert own is not base, f"{capability.value} is declared but not implemented"

    async def test_undeclared_capabilities_raise_not_supported(self, connector: Connector) -> None:
        for capability in Capability:
            if self.declared(capability):
                continue
            method = getattr(connector, capability.value)
            args = self._arguments_for(capability)
            with pytest.raises(NotSupported) as info:
                result = method(*args)
                if inspect.isawaitable(result):
                    await result
                elif hasattr(result, "__anext__"):
                    await result.__anext__()
            assert connector.system in str(info.value), "NotSupported must name the system"
            assert capability.value in str(info.value), "NotSupported must name the capability"

    def _arguments_for(self, capability: Capability) -> tuple[Any, ...]:
        symbol = self.symbol
        table: dict[Capability, tuple[Any, ...]] = {
            Capability.PLACE_ORDER: (OrderRequest(symbol=symbol, side=OrderSide.BUY, quantity=Decimal(1)),),
            Capability.CANCEL_ORDER: ("unknown-order",),
            Capability.REPLACE_ORDER: ("unknown-order",),
            Capability.GET_ORDER: ("unknown-order",),
            Capability.GET_ORDER_BY_CLIENT_ID: ("unknown-client-order",),
            Capability.GET_BARS: (symbol,),
            Capability.GET_QUOTES: (symbol,),
            Capability.GET_TRADES: (symbol,),
            Capability.GET_LATEST_QUOTES: ([symbol],),
            Capability.GET_LATEST_TRADES: ([symbol],),
            Capability.GET_SNAPSHOTS: ([symbol],),
            Capability.SEARCH_INSTRUMENTS: (symbol,),
            Capability.GET_FUNDAMENTALS: (symbol,),
            Capability.GET_FX_RATE: self.fx_pair,
            Capability.GET_FX_SERIES: self.fx_pair,
            Capability.GET_CORPORATE_ACTIONS: (symbol,),
            Capability.SUBSCRIBE_QUOTES: ([symbol],),
            Capability.SUBSCRIBE_TRADES: ([symbol],),
            Capability.SUBSCRIBE_BARS: ([symbol],),
            Capability.GET_NEWS: ([symbol],),
            Capability.SUBSCRIBE_NEWS: ([symbol],),
        }
        return table.get(capability, ())

    async def test_check(self, connector: Connector) -> None:
        result = await connector.check()
        assert isinstance(result, CheckResult)
        assert result.ok, result.detail
        assert result.system == connector.system

    # -- accounts --------------------------------------------------------------------------------

    async def test_get_account(self, connector: Connector) -> None:
        self.require(Capability.GET_ACCOUNT)
        account = await connector.get_account()
        assert isinstance(account, Account)
        assert account.account_id
        assert isinstance(account.cash, Decimal)

    async def test_get_positions(self, connector: Connector) -> None:
        self.require(Capability.GET_POSITIONS)
        positions = await connector.get_positions()
        assert isinstance(positions, list)
        for position in positions:
            assert isinstance(position, Position)
            assert isinstance(position.quantity, Decimal)
            assert position.quantity != 0

    # -- orders ----------------------------------------------------------------------------------

    async def _resting_limit_order(self, connector: Connector, client_order_id: str) -> Order:
        price = Decimal("1.00")
        request = OrderRequest(
            symbol=self.symbol,
            side=OrderSide.BUY,
            quantity=self.order_quantity,
            order_type=OrderType.LIMIT,
            limit_price=price,
            time_in_force=self._tif(),
            client_order_id=client_order_id,
        )
        return await connector.place_order(request)

    def _tif(self) -> TimeInForce:
        tifs = self.spec.capabilities.time_in_force
        return TimeInForce.DAY if TimeInForce.DAY in tifs or not tifs else tifs[0]

    async def test_place_market_order_fills(self, connector: Connector) -> None:
        self.require(Capability.PLACE_ORDER)
        if OrderType.MARKET not in self.spec.capabilities.order_types:
            pytest.skip("no market orders")
        request = OrderRequest(
            symbol=self.symbol,
            side=OrderSide.BUY,
            quantity=self.order_quantity,
            time_in_force=self._tif(),
            client_order_id="conformance-mkt-1",
        )
        order = await connector.place_order(request)
        assert isinstance(order, Order)
        assert order.order_id
        assert order.client_order_id == "conformance-mkt-1"
        assert order.symbol == self.symbol
        assert order.side is OrderSide.BUY
        assert order.status is not OrderStatus.REJECTED
        if self.declared(Capability.GET_ORDER):
            for _ in range(50):
                current = await connector.get_order(order.order_id)
                if current.status is OrderStatus.FILLED:
                    break
                await asyncio.sleep(0.05)
            assert current.status is OrderStatus.FILLED, f"market order ended {current.status}"
            assert current.filled_quantity == self.order_quantity
            assert current.average_fill_price is not None and current.average_fill_price > 0

    async def test_place_order_rejects_unsupported_order_type(self, connector: Connector) -> None:
        self.require(Capability.PLACE_ORDER)
        missing = [t for t in OrderType if t not in self.spec.capabilities.order_types]
        if not missing:
            pytest.skip("every order type is supported")
        kind = missing[0]
        extra: dict[str, Any] = {}
        if kind in {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_ON_CLOSE}:
            extra["limit_price"] = Decimal("1")
        if kind in {OrderType.STOP, OrderType.STOP_LIMIT}:
            extra["stop_price"] = Decimal("1")
        if kind is OrderType.TRAILING_STOP:
            extra["trail_percent"] = Decimal("1")
        request = OrderRequest(
            symbol=self.symbol, side=OrderSide.BUY, quantity=self.order_quantity, order_type=kind, **extra
        )
        with pytest.raises((NotSupported, VenueRejected)):
            await connector.place_order(request)

    async def test_get_order_and_by_client_id(self, connector: Connector) -> None:
        self.require(Capability.PLACE_ORDER)
        self.require(Capability.GET_ORDER)
        placed = await self._resting_limit_order(connector, "conformance-get-1")
        fetched = await connector.get_order(placed.order_id)
        assert fetched.order_id == placed.order_id
        assert fetched.client_order_id == "conformance-get-1"
        assert fetched.limit_price == Decimal("1.00")
        if self.declared(Capability.GET_ORDER_BY_CLIENT_ID):
            by_client = await connector.get_order_by_client_id("conformance-get-1")
            assert by_client.order_id == placed.order_id
            with pytest.raises(NotFound):
                await connector.get_order_by_client_id("conformance-never-sent")
        with pytest.raises(NotFound):
            await connector.get_order("00000000-0000-0000-0000-000000000000")

    async def test_cancel_order(self, connector: Connector) -> None:
        self.require(Capability.PLACE_ORDER)
        self.require(Capability.CANCEL_ORDER)
        placed = await self._resting_limit_order(connector, "conformance-cancel-1")
        await connector.cancel_order(placed.order_id)
        if self.declared(Capability.GET_ORDER):
            for _ in range(50):
                current = await connector.get_order(placed.order_id)
                if current.status is OrderStatus.CANCELED:
                    break
                await asyncio.sleep(0.05)
            assert current.status is OrderStatus.CANCELED

    async def test_replace_order(self, connector: Connector) -> None:
        self.require(Capability.PLACE_ORDER)
        self.require(Capability.REPLACE_ORDER)
        placed = await self._resting_limit_order(connector, "conformance-replace-1")
        replaced = await connector.replace_order(placed.order_id, limit_price=Decimal("1.10"))
        assert isinstance(replaced, Order)
        assert replaced.limit_price == Decimal("1.10")

    async def test_list_orders(self, connector: Connector) -> None:
        self.require(Capability.LIST_ORDERS)
        if self.declared(Capability.PLACE_ORDER):
            await self._resting_limit_order(connector, "conformance-list-1")
        orders = await connector.list_orders(status="all")
        assert all(isinstance(o, Order) for o in orders)
        if self.declared(Capability.PLACE_ORDER):
            assert any(o.client_order_id == "conformance-list-1" for o in orders)
            open_orders = await connector.list_orders(status="open")
            assert all(not o.is_terminal for o in open_orders)

    async def test_get_executions(self, connector: Connector) -> None:
        self.require(Capability.GET_EXECUTIONS)
        executions = await connector.get_executions()
        for execution in executions:
            assert isinstance(execution, Execution)
            _aware(execution.executed_at)
            assert execution.quantity > 0 and execution.price > 0

    # -- market data -----------------------------------------------------------------------------

    async def test_get_bars(self, connector: Connector) -> None:
        self.require(Capability.GET_BARS)
        intervals = self.spec.capabilities.bar_intervals or (BarInterval.DAY,)
        interval = BarInterval.DAY if BarInterval.DAY in intervals else intervals[0]
        bars = await call_with_defaults(connector.get_bars, self.symbol, interval, limit=20)
        assert bars, "no bars returned"
        for bar in bars:
            _check_bar(bar, self.symbol)
        _check_ascending(bars)

    async def test_get_quotes(self, connector: Connector) -> None:
        self.require(Capability.GET_QUOTES)
        end = datetime.now(UTC)
        quotes = await connector.get_quotes(self.symbol, start=end - timedelta(days=5), end=end, limit=20)
        assert all(isinstance(q, Quote) for q in quotes)
        _check_ascending(quotes)

    async def test_get_trades(self, connector: Connector) -> None:
        self.require(Capability.GET_TRADES)
        end = datetime.now(UTC)
        trades = await connector.get_trades(self.symbol, start=end - timedelta(days=5), end=end, limit=20)
        assert all(isinstance(t, Trade) and t.price > 0 for t in trades)
        _check_ascending(trades)

    async def test_get_latest_quotes(self, connector: Connector) -> None:
        self.require(Capability.GET_LATEST_QUOTES)
        quotes = await connector.get_latest_quotes([self.symbol])
        assert set(quotes) == {self.symbol}
        quote = quotes[self.symbol]
        assert isinstance(quote, Quote)
        _aware(quote.timestamp)
        if quote.bid_price is not None and quote.ask_price is not None:
            assert quote.bid_price <= quote.ask_price

    async def test_get_latest_trades(self, connector: Connector) -> None:
        self.require(Capability.GET_LATEST_TRADES)
        trades = await connector.get_latest_trades([self.symbol])
        assert isinstance(trades[self.symbol], Trade)

    async def test_get_snapshots(self, connector: Connector) -> None:
        self.require(Capability.GET_SNAPSHOTS)
        snapshots = await connector.get_snapshots([self.symbol])
        assert isinstance(snapshots[self.symbol], Snapshot)

    async def test_search_instruments(self, connector: Connector) -> None:
        self.require(Capability.SEARCH_INSTRUMENTS)
        found = await connector.search_instruments(self.symbol)
        assert found and all(isinstance(i, Instrument) for i in found)
        assert any(i.symbol == self.symbol for i in found)

    async def test_get_fundamentals(self, connector: Connector) -> None:
        self.require(Capability.GET_FUNDAMENTALS)
        fundamentals = await connector.get_fundamentals(self.symbol)
        assert isinstance(fundamentals, Fundamentals)
        assert fundamentals.symbol == self.symbol

    async def test_get_fx_rate(self, connector: Connector) -> None:
        self.require(Capability.GET_FX_RATE)
        rate = await connector.get_fx_rate(*self.fx_pair)
        assert isinstance(rate, FxRate)
        assert (rate.base, rate.quote) == self.fx_pair
        assert rate.rate > 0

    async def test_get_fx_series(self, connector: Connector) -> None:
        self.require(Capability.GET_FX_SERIES)
        bars = await call_with_defaults(connector.get_fx_series, *self.fx_pair, BarInterval.DAY, limit=10)
        assert bars
        for bar in bars:
            _check_bar(bar)
        _check_ascending(bars)

    async def test_get_corporate_actions(self, connector: Connector) -> None:
        self.require(Capability.GET_CORPORATE_ACTIONS)
        actions = await connector.get_corporate_actions(self.symbol)
        assert isinstance(actions, list)
        assert all(isinstance(a, CorporateAction) for a in actions)
        assert [a.ex_date for a in actions] == sorted(a.ex_date for a in actions), "oldest first"
        for action in actions:
            assert action.symbol.upper() == self.symbol.upper()
            if action.share_factor is not None:
                assert action.share_factor > 0
            if action.action_type.value == "cash_dividend":
                assert action.cash_amount is not None and action.cash_amount >= 0, "a dividend has its amount"
        # an action's identity is stable across calls (applying it twice must be recognised)
        again = await connector.get_corporate_actions(self.symbol)
        assert [a.key for a in again] == [a.key for a in actions]

    async def test_get_news(self, connector: Connector) -> None:
        self.require(Capability.GET_NEWS)
        items = await connector.get_news([self.symbol], limit=5)
        assert isinstance(items, list) and len(items) <= 5
        assert all(isinstance(i, NewsItem) for i in items)
        stamps = [i.published_at for i in items]
        assert stamps == sorted(stamps, reverse=True), "newest first"
        assert all(i.published_at.utcoffset() is not None and i.headline for i in items)
        assert len({i.key for i in items}) == len(items), "one article appears once"

    async def test_get_cash_movements(self, connector: Connector) -> None:
        self.require(Capability.GET_CASH_MOVEMENTS)
        movements = await connector.get_cash_movements()
        assert isinstance(movements, list)
        assert all(isinstance(m, CashMovement) for m in movements)
        assert [m.date for m in movements] == sorted(m.date for m in movements), "oldest first"
        assert len({m.movement_id for m in movements}) == len(movements), "each movement once"

    # -- streams ---------------------------------------------------------------------------------

    async def test_subscribe_quotes(self, connector: Connector) -> None:
        self.require(Capability.SUBSCRIBE_QUOTES)
        quotes = await _first(connector.subscribe_quotes([self.symbol]), count=3)
        assert len(quotes) == 3 and all(isinstance(q, Quote) and q.symbol == self.symbol for q in quotes)

    async def test_subscribe_trades(self, connector: Connector) -> None:
        self.require(Capability.SUBSCRIBE_TRADES)
        trades = await _first(connector.subscribe_trades([self.symbol]), count=2)
        assert all(isinstance(t, Trade) for t in trades)

    async def test_subscribe_bars(self, connector: Connector) -> None:
        self.require(Capability.SUBSCRIBE_BARS)
        bars = await _first(connector.subscribe_bars([self.symbol]), count=1, timeout=30)
        assert all(isinstance(b, Bar) for b in bars)

    async def test_subscribe_news(self, connector: Connector) -> None:
        self.require(Capability.SUBSCRIBE_NEWS)
        items = await _first(connector.subscribe_news([self.symbol]), count=1, timeout=30)
        assert all(isinstance(i, NewsItem) for i in items)

    async def test_subscribe_order_updates(self, connector: Connector) -> None:
        self.require(Capability.SUBSCRIBE_ORDER_UPDATES)
        self.require(Capability.PLACE_ORDER)
        subscribed = asyncio.Event()
        emit = connector.context.emit

        def watch(event: str, **data: Any) -> None:
            if event == "stream.subscribed" and data.get("stream") == "order_updates":
                subscribed.set()
            emit(event, **data)

        connector.context.emit = watch
        stream = connector.subscribe_order_updates()
        events: list[OrderEvent] = []

        async def collect() -> None:
            async for event in stream:
                events.append(event)
                if event.order.client_order_id == "conformance-stream-1" and event.order.is_terminal:
                    return

        task = asyncio.create_task(collect())
        try:
            # the order goes in once the venue has confirmed the subscription, never after a guessed pause
            waiting = asyncio.create_task(subscribed.wait())
            done, _ = await asyncio.wait(
                {waiting, task}, timeout=_STREAM_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            if task in done:
                task.result()  # the stream ended or failed before subscribing: show why
            waiting.cancel()
            assert subscribed.is_set(), (
                "the order-updates stream never reported stream.subscribed through context.emit "
                f"within {_STREAM_TIMEOUT} s (see sdk-docs: streams)"
            )
            request = OrderRequest(
                symbol=self.symbol,
                side=OrderSide.BUY,
                quantity=self.order_quantity,
                time_in_force=self._tif(),
                client_order_id="conformance-stream-1",
            )
            await connector.place_order(request)
            await asyncio.wait_for(task, _STREAM_TIMEOUT)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                await closer()
            connector.context.emit = emit
        mine = [e for e in events if e.order.client_order_id == "conformance-stream-1"]
        assert mine, "no order events for the placed order"
        assert all(isinstance(e, OrderEvent) for e in mine)
        assert mine[-1].order.status is OrderStatus.FILLED
