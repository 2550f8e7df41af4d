"""The TWS transport: TWS / IB Gateway over the socket API, through ib_async (extra ``portico[ib]``).

ib_async is imported when the transport opens, never at module import, so the connector loads without
it. Orders carry the client order id as ``orderRef``; IB's permanent id (``permId``) is the canonical
order id, because TWS order ids are only unique per API client id.

Idempotency: an order whose acknowledgement does not arrive within ``ack_timeout`` is looked up by its
``orderRef`` among open and completed orders; if the venue has it, that order is returned; if not,
:class:`~portico.errors.OutcomeUnknown` is raised. A second ``place_order`` with a client order id this
transport already sent resolves by lookup and is sent again only when the connection it went out on has
closed since and a fresh connection does not show it (TWS reads its socket in order and commits what it
reads, so such an order never arrived). When TWS drops the socket the transport reconnects (three tries)
on the next call; streams opened before a reconnect end with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from portico.connectors.interactive_brokers import mapping
from portico.connectors.interactive_brokers.spec import SPEC, TWS_PACING, InteractiveBrokersConnection
from portico.errors import (
    AuthError,
    ConfigurationError,
    ConnectionFailed,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    ReadTimeout,
    VenueRejected,
)
from portico.models import (
    Account,
    Bar,
    BarInterval,
    Execution,
    Fundamentals,
    Instrument,
    NewsItem,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderType,
    Position,
    Quote,
    TimeInForce,
)
from portico.sdk import CheckResult, filter_orders

if TYPE_CHECKING:
    from portico.sdk import ConnectorContext

__all__ = ["TwsTransport", "tws_address"]

T = TypeVar("T")

_PENDING = {"PendingSubmit", "ApiPending", ""}
_DONE = {"Filled", "Cancelled", "ApiCancelled", "Inactive"}


def tws_address(context: ConnectorContext) -> tuple[str, int]:
    """Where TWS listens: the environment's ``tws`` URL when it was routed elsewhere (a mock, a base_url),
    else ``connection.host``/``connection.port``, else the environment's default port."""
    env = context.environment
    routed = env.urls.get("tws")
    try:
        declared = SPEC.environment(env.name).urls.get("tws")
    except KeyError:
        declared = None
    settings = context.settings_as(InteractiveBrokersConnection)
    if routed and routed != declared:
        parts = urlsplit(routed)
    elif settings.host or settings.port:
        host = settings.host or "127.0.0.1"
        port = settings.port or urlsplit(routed or "tcp://127.0.0.1:7497").port or 7497
        return host, port
    else:
        parts = urlsplit(routed or "tcp://127.0.0.1:7497")
    if not parts.hostname or not parts.port:
        raise ConfigurationError(
            f"the tws URL {routed!r} needs a host and a port (tcp://host:port)", system=context.system_id
        )
    return parts.hostname, parts.port


class TwsTransport:
    """One API connection to TWS / IB Gateway.

    Args:
        context: the connector's context (connection: host, port, client_id, account, ack_timeout).
    """

    name = "tws"

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.system = context.system_id
        settings = context.settings_as(InteractiveBrokersConnection)
        self.host, self.port = tws_address(context)
        self.client_id = 1 if settings.client_id is None else settings.client_id
        self.ack_timeout = settings.ack_timeout
        self.connect_timeout = settings.connect_timeout
        self.account: str | None = settings.account
        self._ib: Any = None
        self._ib_module: Any = None
        self._contracts: dict[str, Any] = {}
        self._sent_refs: dict[str, int] = {}
        """client order id -> the connection generation it was sent on."""
        self._generation = 0
        self._history_limiter: Any = None
        self._news_providers: dict[str, str] | None = None
        """IB news provider code -> name, asked once per transport (reqNewsProviders)."""
        self._opened = False
        self._reconnect_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def _module(self) -> Any:
        if self._ib_module is None:
            try:
                import ib_async
            except ImportError:
                raise ConfigurationError(
                    "the tws transport needs ib_async: install portico[ib]", system=self.system
                ) from None
            self._ib_module = ib_async
        return self._ib_module

    async def open(self) -> None:
        """Connect and synchronise (positions, orders, executions) with TWS."""
        await self._connect()
        self._opened = True

    async def _live(self) -> Any:
        """The connected ``IB`` after waiting for rate budget (the system's limiter, so the configured
        ``throttling`` applies to the socket as it does to HTTP), reconnecting (three tries, backing off
        on the clock) when TWS dropped us."""
        await self.context.acquire("tws")
        if self._ib is not None and self._ib.isConnected():
            return self._ib
        if not self._opened:
            raise ConnectionFailed(f"not connected to TWS at {self.host}:{self.port}", system=self.system)
        async with self._reconnect_lock:
            if self._ib is not None and self._ib.isConnected():
                return self._ib
            self.context.emit("tws.disconnected", severity="warning", host=self.host, port=self.port)
            error: ConnectionFailed | None = None
            for attempt in range(3):
                try:
                    await self._connect()
                except ConnectionFailed as exc:
                    error = exc
                    await self.context.clock.sleep(0.5 * 2**attempt)
                    continue
                self.context.emit("tws.reconnected", attempt=attempt + 1)
                return self._ib
            assert error is not None
            raise error

    async def _connect(self) -> None:
        ib_async = self._module()
        quiet = logging.getLogger("ib_async")
        if quiet.level == logging.NOTSET:
            # ib_async logs every order, status and fill at INFO, which floods an application's logs;
            # an explicitly configured level is left alone
            quiet.setLevel(logging.WARNING)
        ib = ib_async.IB()
        try:
            await ib.connectAsync(
                self.host,
                self.port,
                clientId=self.client_id,
                timeout=self.connect_timeout,
                account=self.account or "",
            )
        except (OSError, TimeoutError, ConnectionError) as exc:
            ib.disconnect()
            raise ConnectionFailed(
                f"cannot connect to TWS at {self.host}:{self.port} with client id {self.client_id}: {exc!r}",
                system=self.system,
            ) from exc
        self._ib = ib
        self._generation += 1
        accounts = ib.managedAccounts()
        if self.account is None:
            self.account = accounts[0] if accounts else None
        elif self.account not in accounts:
            ib.disconnect()
            raise ConfigurationError(
                f"account {self.account!r} is not managed by this TWS login (it manages {accounts})",
                path=f"systems.{self.system}.connection.account",
                system=self.system,
            )
        from portico.http import RateLimiter
        from portico.sdk import RateLimitPolicy

        if self._history_limiter is None:
            self._history_limiter = RateLimiter(
                RateLimitPolicy(windows=(TWS_PACING["historical"],), max_wait=30.0), clock=self.context.clock
            )
        self.context.emit("tws.connected", host=self.host, port=self.port, client_id=self.client_id)

    async def close(self) -> None:
        """Disconnect from TWS."""
        self._opened = False
        if self._ib is not None:
            self._ib.disconnect()
            self._ib = None

    async def _request(self, endpoint: str, answer: Awaitable[T], timeout: float | None) -> T:
        """Wait for one socket request's answer, measured like an HTTP call (``endpoint`` is the API
        call's name, so the dashboard shows ``reqPositions`` where it shows ``GET /v2/positions``)."""
        async with self.context.measure(endpoint, method="TWS"):
            return await asyncio.wait_for(answer, timeout)

    @property
    def ib(self) -> Any:
        """The connected ib_async ``IB`` (reconnecting is the caller's decision: open again)."""
        if self._ib is None or not self._ib.isConnected():
            raise ConnectionFailed(f"not connected to TWS at {self.host}:{self.port}", system=self.system)
        return self._ib

    async def check(self) -> CheckResult:
        """Ask TWS for its time: proves the socket and the API session are alive."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self._live()
            await self._request("reqCurrentTime", self.ib.reqCurrentTimeAsync(), self.ack_timeout)
        except (ConnectionFailed, TimeoutError, ConnectionError) as exc:
            return CheckResult(
                ok=False,
                system=self.system,
                detail=f"TWS not answering: {exc!r}",
                checks={"reachable": False, "authenticated": False},
            )
        return CheckResult(
            ok=True,
            system=self.system,
            latency_ms=(loop.time() - started) * 1000,
            detail=f"TWS {self.host}:{self.port} server version {self.ib.client.serverVersion()}, account {self.account}",
            checks={"reachable": True, "authenticated": True},
        )

    # -- contracts -------------------------------------------------------------------------------

    async def contract(self, symbol: str) -> Any:
        """The qualified stock contract of ``symbol`` (cached: one contract-details request per symbol)."""
        await self._live()
        key = symbol.upper()
        found = self._contracts.get(key)
        if found is not None:
            return found
        ib_async = self._module()
        details = await self._request(
            "reqContractDetails",
            self.ib.reqContractDetailsAsync(ib_async.Stock(key, "SMART", "USD")),
            self.ack_timeout * 2,
        )
        if not details:
            raise NotFound(f"IB knows no US stock {key!r}", system=self.system, venue_code="200")
        contract = details[0].contract
        contract.exchange = "SMART"
        self._contracts[key] = contract
        return contract

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """Symbols matching ``query`` (reqMatchingSymbols)."""
        await self._live()
        found = await self._request("reqMatchingSymbols", self.ib.reqMatchingSymbolsAsync(query), None) or []
        return [mapping.instrument_from_description(d, system=self.system) for d in found[:limit]]

    # -- account ---------------------------------------------------------------------------------

    async def get_account(self, account_id: str | None = None) -> Account:
        """Account values from a fresh account-updates-multi request."""
        await self._live()
        account = account_id or self.account
        if not account:
            raise NotFound("TWS manages no account", system=self.system)
        await self._request(
            "reqAccountUpdatesMulti", self.ib.reqAccountUpdatesMultiAsync(account), self.ack_timeout * 2
        )
        rows = self.ib.accountValues(account)
        base = next((v.value for v in rows if v.tag == "Currency" and v.value), "USD")
        values: dict[str, Decimal] = {}
        for row in rows:
            if row.currency == base and row.tag not in values:
                number = mapping.decimal_or_none(row.value)
                if number is not None:
                    values[row.tag] = number
        if not values:
            raise NotFound(f"no account values for {account!r}", system=self.system)
        return mapping.account_from_values(account, values, system=self.system, currency=base)

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        """Positions (reqPositions), with market values where TWS streamed the portfolio."""
        await self._live()
        account = account_id or self.account
        positions = await self._request("reqPositions", self.ib.reqPositionsAsync(), self.ack_timeout * 2)
        portfolio = {(p.account, p.contract.conId): p for p in self.ib.portfolio()}
        return [
            mapping.position_from_ib(
                p, system=self.system, portfolio=portfolio.get((p.account, p.contract.conId))
            )
            for p in positions
            if p.position and (account is None or p.account == account)
        ]

    # -- orders ----------------------------------------------------------------------------------

    def _ib_order(self, request: OrderRequest) -> Any:
        ib_async = self._module()
        order_type = mapping.ib_order_type(request, self.system)
        tif = mapping.ib_tif(request.time_in_force, self.system)
        if request.quantity is None:
            from portico.errors import NotSupported

            raise NotSupported(
                f"{self.system} (interactive_brokers) does not take notional orders; give a quantity",
                capability="place_order",
                system=self.system,
            )
        order = ib_async.Order(
            action="BUY" if request.side is OrderSide.BUY else "SELL",
            totalQuantity=float(request.quantity),
            orderType=order_type,
            tif=tif,
            orderRef=request.client_order_id or "",
            account=request.account_id or self.account or "",
            outsideRth=request.extended_hours,
        )
        if request.order_type in {OrderType.LIMIT, OrderType.STOP_LIMIT}:
            assert request.limit_price is not None
            order.lmtPrice = float(request.limit_price)
        if request.order_type in {OrderType.STOP, OrderType.STOP_LIMIT}:
            assert request.stop_price is not None
            order.auxPrice = float(request.stop_price)
        return order

    async def _wait(self, trade: Any, done: Callable[[Any], bool], timeout: float) -> bool:
        """Wait until ``done(trade)`` holds (checked on every status event); False on timeout."""
        if done(trade):
            return True
        loop = asyncio.get_running_loop()
        reached: asyncio.Future[bool] = loop.create_future()

        def on_status(*_args: Any) -> None:
            if not reached.done() and done(trade):
                reached.set_result(True)

        trade.statusEvent += on_status
        trade.fillEvent += on_status
        try:
            return await asyncio.wait_for(asyncio.shield(reached), timeout)
        except TimeoutError:
            return done(trade)
        finally:
            trade.statusEvent -= on_status
            trade.fillEvent -= on_status

    def _rejection(self, trade: Any) -> VenueRejected | None:
        """The venue's refusal of a just-placed order, when TWS reported one (an error on the order id)."""
        if trade.orderStatus.status not in {"Cancelled", "Inactive", "ApiCancelled"} or trade.fills:
            return None
        errors = [e for e in trade.log if getattr(e, "errorCode", 0) and e.errorCode != 202]
        if not errors:
            return None
        last = errors[-1]
        return VenueRejected(
            f"IB rejected the order: {last.message}",
            system=self.system,
            venue_code=str(last.errorCode),
        )

    async def place_order(self, request: OrderRequest) -> Order:
        """Place an order; see the module docstring for what happens when the acknowledgement is lost."""
        ref = request.client_order_id
        if ref and ref in self._sent_refs:
            found = await self._lookup(ref)
            if found is not None:
                return found
            if self._generation == self._sent_refs[ref]:
                raise self._unknown(ref, "is not (yet) visible among open or completed orders")
            # Sent on a connection that has closed since, and a fresh connection does not see it: TWS reads
            # its socket in order and commits what it reads, so the order never arrived. Safe to send again.
            del self._sent_refs[ref]
        ib = await self._live()
        contract = await self.contract(request.symbol)
        order = self._ib_order(request)
        # measured from the send to the acknowledgement (or the refusal, or the ack timeout)
        async with self.context.measure("placeOrder", method="TWS"):
            try:
                trade = ib.placeOrder(contract, order)
            except ConnectionError as exc:
                # ib_async raises before writing anything when the socket is down: nothing reached TWS.
                raise ConnectionFailed(
                    f"TWS connection lost before the order was sent: {exc}", system=self.system
                ) from exc
            if ref:
                self._sent_refs[ref] = self._generation
            acknowledged = await self._wait(
                trade, lambda t: t.orderStatus.status not in _PENDING, self.ack_timeout
            )
            rejection = self._rejection(trade) if acknowledged else None
            if rejection is not None:
                raise rejection
        if acknowledged and trade.order.permId:
            return mapping.order_from_trade(trade, system=self.system)
        if not ref:
            raise OutcomeUnknown(
                f"TWS did not acknowledge order {trade.order.orderId} within {self.ack_timeout}s and it has no "
                "client order id to look it up by",
                system=self.system,
            )
        found = await self._lookup(ref)
        if found is None:
            raise self._unknown(ref, "is not (yet) visible among open or completed orders")
        return found

    def _unknown(self, ref: str, why: str) -> OutcomeUnknown:
        return OutcomeUnknown(
            f"order {ref!r} was sent to TWS and {why}; place it again with the same client order id to resolve it",
            system=self.system,
            idempotency_key=ref,
        )

    async def _lookup(self, ref: str) -> Order | None:
        """The order sent with ``orderRef`` ``ref``; None when TWS does not show it; OutcomeUnknown when
        TWS cannot be asked."""
        try:
            return await self.get_order_by_client_id(ref)
        except NotFound:
            return None
        except (ConnectionFailed, ConnectionError, TimeoutError) as exc:
            raise self._unknown(ref, f"the connection failed before its outcome was known ({exc!r})") from exc

    async def _all_trades(self) -> list[Any]:
        """Every order TWS knows: open (all clients) then completed, de-duplicated by permId."""
        for attempt in range(2):
            ib = await self._live()
            try:
                open_trades = await self._request(
                    "reqAllOpenOrders", ib.reqAllOpenOrdersAsync(), self.ack_timeout * 2
                )
                completed = await self._request(
                    "reqCompletedOrders", ib.reqCompletedOrdersAsync(False), self.ack_timeout * 2
                )
                break
            except (ConnectionError, TimeoutError):
                # the socket died under the request (often just after an order): reconnect and ask again once
                if attempt:
                    raise
                if ib.isConnected():
                    ib.disconnect()
        seen: dict[int, Any] = {}
        for trade in [*ib.trades(), *open_trades, *completed]:
            perm = trade.order.permId
            if not perm:
                continue
            current = seen.get(perm)
            # prefer the richest record: this session's trade (fills, average price) over a completed stub
            if (
                current is None
                or (not current.fills and trade.fills)
                or (current.orderStatus.status not in _DONE and trade.orderStatus.status in _DONE)
            ):
                seen[perm] = trade
        return list(seen.values())

    async def _trade(self, order_id: str) -> Any:
        try:
            perm = int(order_id)
        except ValueError:
            raise NotFound(
                f"no IB order {order_id!r} (IB order ids are numbers)", system=self.system
            ) from None
        await self._live()
        local = self.ib.wrapper.permId2Trade.get(perm)
        if local is not None and local.orderStatus.status in _DONE:
            return local
        for trade in await self._all_trades():
            if trade.order.permId == perm:
                return trade
        raise NotFound(f"IB has no order {order_id!r}", system=self.system)

    async def _order(self, trade: Any) -> Order:
        order = mapping.order_from_trade(trade, system=self.system)
        if order.filled_quantity and order.average_fill_price is None:
            fills = await self.get_executions(order_id=order.order_id)
            total = sum((f.quantity for f in fills), start=Decimal(0))
            if total:
                average = sum((f.quantity * f.price for f in fills), start=Decimal(0)) / total
                order = order.model_copy(update={"average_fill_price": average})
        return order

    async def get_order(self, order_id: str) -> Order:
        """One order by permId."""
        return await self._order(await self._trade(order_id))

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        """One order by the ``orderRef`` it was placed with."""
        for trade in await self._all_trades():
            if trade.order.orderRef == client_order_id:
                return await self._order(trade)
        raise NotFound(f"IB has no order with orderRef {client_order_id!r}", system=self.system)

    async def list_orders(
        self,
        *,
        status: str = "open",
        symbols: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        """Open, closed or all orders, newest first."""
        orders = [mapping.order_from_trade(t, system=self.system) for t in await self._all_trades()]
        # same-second orders keep IB's id order (the sort is stable, newest first)
        orders.sort(key=lambda o: int(o.order_id), reverse=True)
        return filter_orders(orders, status=status, symbols=symbols, since=since, until=until, limit=limit)  # type: ignore[arg-type]

    async def cancel_order(self, order_id: str) -> None:
        """Cancel by permId; waits for TWS to accept or refuse the cancel."""
        await self._live()
        trade = await self._trade(order_id)
        if trade.orderStatus.status in _DONE:
            raise VenueRejected(
                f"order {order_id} cannot be cancelled: it is {trade.orderStatus.status}",
                system=self.system,
                venue_code="10148",
            )
        if trade.order.clientId != self.client_id or not trade.order.orderId:
            raise VenueRejected(
                f"order {order_id} belongs to API client {trade.order.clientId}; only that client can cancel it",
                system=self.system,
            )
        errors_before = len(trade.log)
        async with self.context.measure("cancelOrder", method="TWS"):
            self.ib.cancelOrder(trade.order)
            await self._wait(
                trade,
                lambda t: (
                    t.orderStatus.status in {"Cancelled", "PendingCancel", "Filled"}
                    or any(getattr(e, "errorCode", 0) in {10147, 10148} for e in t.log[errors_before:])
                ),
                self.ack_timeout,
            )
            refused = [e for e in trade.log[errors_before:] if getattr(e, "errorCode", 0) in {10147, 10148}]
            if refused:
                raise VenueRejected(
                    refused[-1].message, system=self.system, venue_code=str(refused[-1].errorCode)
                )

    async def replace_order(
        self,
        order_id: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Modify an open order in place (IB keeps its ids); returns it as it now stands."""
        await self._live()
        trade = await self._trade(order_id)
        if trade.orderStatus.status in _DONE:
            raise VenueRejected(
                f"order {order_id} is {trade.orderStatus.status}; it cannot be modified",
                system=self.system,
                venue_code="10148",
            )
        order = trade.order
        if quantity is not None:
            order.totalQuantity = float(quantity)
        if limit_price is not None:
            order.lmtPrice = float(limit_price)
        if stop_price is not None:
            order.auxPrice = float(stop_price)
        if time_in_force is not None:
            order.tif = mapping.ib_tif(time_in_force, self.system)
        log_size = len(trade.log)
        async with self.context.measure("modifyOrder", method="TWS"):  # placeOrder on a live order id
            self.ib.placeOrder(trade.contract, order)
            await self._wait(trade, lambda t: len(t.log) > log_size, self.ack_timeout)
            errors = [e for e in trade.log[log_size:] if getattr(e, "errorCode", 0) and e.errorCode != 202]
            if errors:
                raise VenueRejected(errors[-1].message, system=self.system, venue_code=str(errors[-1].errorCode))
        return mapping.order_from_trade(trade, system=self.system)

    async def get_executions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
    ) -> list[Execution]:
        """Executions with their commission reports (reqExecutions), oldest first."""
        await self._live()
        ib_async = self._module()
        flt = ib_async.ExecutionFilter(
            time=since.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC") if since else "",
            symbol=symbol.upper() if symbol else "",
        )
        fills = await self._request("reqExecutions", self.ib.reqExecutionsAsync(flt), self.ack_timeout * 2)
        # ib_async answers with fresh Fill objects; the commission report lands on the one it keeps per execId
        known = self.ib.wrapper.fills
        executions = [
            mapping.execution_from_fill(known.get(f.execution.execId, f), system=self.system) for f in fills
        ]
        if order_id is not None:
            executions = [e for e in executions if e.order_id == order_id]
        if until is not None:
            executions = [e for e in executions if e.executed_at <= until]
        executions.sort(key=lambda e: e.executed_at)
        return executions

    # -- market data -----------------------------------------------------------------------------

    async def get_bars(
        self,
        symbol: str,
        interval: BarInterval = BarInterval.DAY,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        adjusted: bool = False,
    ) -> list[Bar]:
        """Historical bars (reqHistoricalData), paced at 60 requests per 10 minutes."""
        await self._live()
        bar_size, _web, seconds = mapping.BAR_SIZES[interval]
        end_at = end or datetime.now(UTC)
        if start is not None:
            count = max(1, int((end_at - start).total_seconds() // seconds) + 1)
        else:
            count = limit or 100
        if self._history_limiter is not None:
            # raises RateLimited when the 60-per-10-minutes budget cannot be had within max_wait
            await self._history_limiter.acquire(1)
        contract = await self.contract(symbol)
        bars = await self._request(
            "reqHistoricalData",
            self.ib.reqHistoricalDataAsync(
                contract,
                endDateTime=end or "",
                durationStr=mapping.duration_for(interval, count),
                barSizeSetting=bar_size,
                whatToShow="ADJUSTED_LAST" if adjusted else "TRADES",
                useRTH=True,
                formatDate=2,
            ),
            self.ack_timeout * 6,
        )
        out = [mapping.bar_from_ib(b, symbol=symbol.upper(), interval=interval) for b in bars]
        if start is not None:
            out = [b for b in out if b.timestamp >= start]
        if limit:
            out = out[-limit:]
        return out

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """One snapshot per symbol (reqMktData snapshot)."""
        await self._live()
        contracts = [await self.contract(s) for s in symbols]
        tickers = await self._request("reqTickers", self.ib.reqTickersAsync(*contracts), self.ack_timeout * 3)
        by_conid = {t.contract.conId: t for t in tickers}
        out: dict[str, Quote] = {}
        for symbol, contract in zip(symbols, contracts, strict=True):
            ticker = by_conid.get(contract.conId)
            if ticker is not None:
                out[symbol] = mapping.quote_from_ticker(ticker).model_copy(update={"symbol": symbol})
        return out

    # -- news and fundamentals -------------------------------------------------------------------

    async def _keyed(self, endpoint: str, send: Callable[[int], None], timeout: float) -> Any:
        """Send one request under a fresh request id and wait for its answer; an IB error for that id
        (which ib_async reports as an empty answer) raises: 200/430 NotFound, 10197/10276 AuthError (no
        subscription to the feed), others VenueRejected. No answer within ``timeout`` raises ReadTimeout."""
        ib = self.ib
        req_id = ib.client.getReqId()
        future = ib.wrapper.startReq(req_id)
        errors: list[tuple[int, str]] = []

        def on_error(rid: int, code: int, text: str, *_rest: Any) -> None:
            if rid == req_id:
                errors.append((code, text))

        ib.errorEvent += on_error
        try:
            send(req_id)
            try:
                result = await self._request(endpoint, future, timeout)
            except TimeoutError:
                raise ReadTimeout(
                    f"TWS did not answer {endpoint} within {timeout:g} s", system=self.system
                ) from None
        finally:
            ib.errorEvent -= on_error
            # a request that timed out leaves its future and results in ib_async's tables: drop them
            ib.wrapper._futures.pop(req_id, None)
            ib.wrapper._results.pop(req_id, None)
        if errors and not result:
            code, text = errors[0]
            kind = NotFound if code in {200, 430} else AuthError if code in {10197, 10276} else VenueRejected
            raise kind(f"TWS refused {endpoint}: {code} {text}", system=self.system, venue_code=str(code))
        return result

    async def news_providers(self) -> dict[str, str]:
        """The news providers this login subscribes to (code -> name), asked once."""
        if self._news_providers is None:
            await self._live()
            found = await self._request(
                "reqNewsProviders", self.ib.reqNewsProvidersAsync(), self.ack_timeout * 2
            )
            self._news_providers = {p.code: p.name for p in found or []}
        return self._news_providers

    async def get_news(
        self,
        symbols: list[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[NewsItem]:
        """Headlines of every subscribed provider (reqHistoricalNews, at most 300 a symbol), newest first.

        TWS asks news by contract, so ``symbols`` is required. Items are IB's headlines: no URL, no summary
        (the body is a further reqNewsArticle per item); the sentiment is IB's headline score.
        """
        if not symbols:
            raise NotSupported(
                f"{self.system}: TWS news is asked per contract; name the symbols",
                capability="get_news",
                system=self.system,
            )
        providers = await self.news_providers()
        if not providers:
            return []
        wanted = min(limit or 50, 300)
        codes = "+".join(sorted(providers))
        ib_async = self._module()
        begin = ib_async.util.formatIBDatetime(start) if start else ""
        stop = ib_async.util.formatIBDatetime(end) if end else ""
        found: dict[str, NewsItem] = {}
        for symbol in dict.fromkeys(s.strip().upper() for s in symbols if s.strip()):
            contract = await self.contract(symbol)
            await self._live()

            def send(rid: int, client: Any = self.ib.client, conid: int = contract.conId) -> None:
                client.reqHistoricalNews(rid, conid, codes, begin, stop, wanted, [])

            rows = await self._keyed("reqHistoricalNews", send, self.ack_timeout * 2)
            for row in rows or []:
                item = mapping.news_from_ib(row, symbol=symbol, providers=providers, system=self.system)
                held = found.get(item.id)
                if held is not None:
                    item = held.model_copy(update={"symbols": (*held.symbols, symbol)})
                found[item.id] = item
        items = [
            i
            for i in found.values()
            if (start is None or i.published_at >= start) and (end is None or i.published_at <= end)
        ]
        items.sort(key=lambda i: (i.published_at, i.id), reverse=True)
        return items[:wanted]

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """The company snapshot (reqFundamentalData ``ReportSnapshot``): profile, shares out and ratios.
        IB no longer serves its statement reports, so ``statements`` adds nothing."""
        contract = await self.contract(symbol)
        await self._live()
        client = self.ib.client
        xml = await self._keyed(
            "reqFundamentalData",
            lambda rid: client.reqFundamentalData(rid, contract, "ReportSnapshot", []),
            self.ack_timeout * 3,
        )
        if not isinstance(xml, str) or not xml.strip():
            raise NotFound(
                f"IB has no fundamentals for {symbol.upper()}", system=self.system, venue_code="430"
            )
        return mapping.fundamentals_from_snapshot(xml, symbol=symbol, system=self.system)

    async def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """Streaming quotes (reqMktData) until the iterator is closed."""
        await self._live()
        queue: asyncio.Queue[Quote] = asyncio.Queue()
        contracts = [await self.contract(s) for s in symbols]
        names = {c.conId: s for s, c in zip(symbols, contracts, strict=True)}
        tickers = [self.ib.reqMktData(c) for c in contracts]

        def on_update(ticker: Any) -> None:
            quote = mapping.quote_from_ticker(ticker)
            if quote.bid_price is not None or quote.last_price is not None:
                queue.put_nowait(
                    quote.model_copy(update={"symbol": names.get(ticker.contract.conId, quote.symbol)})
                )

        for ticker in tickers:
            ticker.updateEvent += on_update
        try:
            while True:
                yield await queue.get()
        finally:
            for ticker, contract in zip(tickers, contracts, strict=True):
                ticker.updateEvent -= on_update
                if self._ib is not None and self._ib.isConnected():
                    with contextlib.suppress(Exception):
                        self._ib.cancelMktData(contract)

    async def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:
        """Order status changes and fills of every order this connection sees, as they happen."""
        await self._live()
        queue: asyncio.Queue[OrderEvent] = asyncio.Queue()
        ib = self.ib
        last: dict[int, tuple[str, float]] = {}

        def on_status(trade: Any) -> None:
            if not trade.order.permId or trade.orderStatus.status in _PENDING:
                return
            key = (trade.orderStatus.status, trade.orderStatus.filled)
            if last.get(trade.order.permId) == key:
                return
            last[trade.order.permId] = key
            order = mapping.order_from_trade(trade, system=self.system)
            queue.put_nowait(
                OrderEvent(
                    event=mapping.event_name(order.status),
                    order=order,
                    timestamp=order.updated_at or datetime.now(UTC),
                    event_id=f"{order.order_id}:{trade.orderStatus.status}:{trade.orderStatus.filled}",
                    system=self.system,
                )
            )

        def on_fill(trade: Any, fill: Any) -> None:
            on_status(trade)

        ib.orderStatusEvent += on_status
        ib.execDetailsEvent += on_fill
        # TWS pushes every status of this client's orders on the open socket: listening is subscribing
        self.context.emit("stream.subscribed", stream="order_updates")
        try:
            while True:
                yield await queue.get()
        finally:
            ib.orderStatusEvent -= on_status
            ib.execDetailsEvent -= on_fill
