"""The Interactive Brokers connector: one class, the transport chosen by configuration."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from portico.connectors.interactive_brokers.spec import (
    SPEC,
    TRANSPORT_CAPABILITIES,
    TRANSPORTS,
    InteractiveBrokersConnection,
)
from portico.errors import NotSupported
from portico.models import (
    Account,
    Bar,
    BarInterval,
    CashMovement,
    CorporateAction,
    Execution,
    Fundamentals,
    Instrument,
    NewsItem,
    Order,
    OrderEvent,
    OrderRequest,
    Position,
    Quote,
    Snapshot,
    TimeInForce,
)
from portico.sdk import Capability, CheckResult, Connector, ConnectorContext, ConnectorSpec, OrderStatusFilter

__all__ = ["InteractiveBrokersConnector", "select_transport"]


def select_transport(context: ConnectorContext) -> str:
    """``connection.transport`` when given; else ``tws`` for the plan's TWS settings, else ``web``."""
    settings = context.settings_as(InteractiveBrokersConnection)
    if settings.transport is not None:
        return settings.transport
    if context.auth_scheme == "tws" or settings.client_id is not None:
        return "tws"
    return "web"


class InteractiveBrokersConnector(Connector):
    """Interactive Brokers over TWS (socket API via ib_async) or the Client Portal Web API.

    Every capability call goes to the transport chosen at construction (:func:`select_transport`); a
    capability the chosen transport lacks raises :class:`~portico.errors.NotSupported` naming it.
    """

    spec: ClassVar[ConnectorSpec] = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.transport_name = select_transport(context)
        self.transport: Any
        if self.transport_name == "tws":
            from portico.connectors.interactive_brokers.tws import TwsTransport

            self.transport = TwsTransport(context)
        else:
            from portico.connectors.interactive_brokers.client import WebTransport

            self.transport = WebTransport(context)
        from portico.connectors.interactive_brokers.flex import FlexStatements

        self.flex = FlexStatements(context)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} system={self.system!r} transport={self.transport_name!r}>"

    def _offered(self, capability: Capability) -> None:
        if capability not in TRANSPORT_CAPABILITIES[self.transport_name]:
            other = [t for t in TRANSPORTS if capability in TRANSPORT_CAPABILITIES[t]]
            hint = f"; transport {other[0]!r} offers it" if other else ""
            raise NotSupported(
                f"{self.system} ({self.spec.name} over {self.transport_name}) does not support {capability.value}{hint}",
                capability=capability.value,
                system=self.system,
            )

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        await self.transport.open()

    async def close(self) -> None:
        await self.flex.close()
        await self.transport.close()

    async def check(self) -> CheckResult:
        result: CheckResult = await self.transport.check()
        return result

    # -- accounts and positions ------------------------------------------------------------------

    async def get_account(self, account_id: str | None = None) -> Account:
        self._offered(Capability.GET_ACCOUNT)
        account: Account = await self.transport.get_account(account_id)
        return account

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        self._offered(Capability.GET_POSITIONS)
        positions: list[Position] = await self.transport.get_positions(account_id)
        return positions

    # -- orders ----------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        self._offered(Capability.PLACE_ORDER)
        if request.order_type not in self.spec.capabilities.order_types:
            raise NotSupported(
                f"{self.system} ({self.spec.name}) does not support {request.order_type.value} orders",
                capability=Capability.PLACE_ORDER.value,
                system=self.system,
            )
        if not request.client_order_id:
            # without a key a lost answer could never be looked up (OutcomeUnknown would carry nothing
            # to resolve it by), so every placement goes out with one, as cOID / orderRef
            request = request.model_copy(update={"client_order_id": uuid.uuid4().hex})
        order: Order = await self.transport.place_order(request)
        return order

    async def cancel_order(self, order_id: str) -> None:
        self._offered(Capability.CANCEL_ORDER)
        await self.transport.cancel_order(order_id)

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
        self._offered(Capability.REPLACE_ORDER)
        order: Order = await self.transport.replace_order(
            order_id,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            client_order_id=client_order_id,
        )
        return order

    async def get_order(self, order_id: str) -> Order:
        self._offered(Capability.GET_ORDER)
        order: Order = await self.transport.get_order(order_id)
        return order

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        self._offered(Capability.GET_ORDER_BY_CLIENT_ID)
        order: Order = await self.transport.get_order_by_client_id(client_order_id)
        return order

    async def list_orders(
        self,
        *,
        status: OrderStatusFilter = "open",
        symbols: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        self._offered(Capability.LIST_ORDERS)
        orders: list[Order] = await self.transport.list_orders(
            status=status, symbols=symbols, since=since, until=until, limit=limit
        )
        return orders

    async def get_executions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
    ) -> list[Execution]:
        self._offered(Capability.GET_EXECUTIONS)
        executions: list[Execution] = await self.transport.get_executions(
            since=since, until=until, symbol=symbol, order_id=order_id
        )
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
        self._offered(Capability.GET_BARS)
        if interval not in self.spec.capabilities.bar_intervals:
            raise NotSupported(
                f"{self.system} ({self.spec.name}) has no {interval.value} bars",
                capability=Capability.GET_BARS.value,
                system=self.system,
            )
        bars: list[Bar] = await self.transport.get_bars(
            symbol, interval, start=start, end=end, limit=limit, adjusted=adjusted
        )
        return bars

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        self._offered(Capability.GET_LATEST_QUOTES)
        quotes: dict[str, Quote] = await self.transport.get_latest_quotes(symbols)
        return quotes

    async def get_snapshots(self, symbols: list[str]) -> dict[str, Snapshot]:
        self._offered(Capability.GET_SNAPSHOTS)
        snapshots: dict[str, Snapshot] = await self.transport.get_snapshots(symbols)
        return snapshots

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        self._offered(Capability.SEARCH_INSTRUMENTS)
        found: list[Instrument] = await self.transport.search_instruments(query, limit=limit)
        return found

    async def get_cash_movements(
        self,
        account_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CashMovement]:
        """The account's cash transactions (deposits, withdrawals, dividends, interest, fees, taxes) from
        the configured Flex query, oldest first."""
        self._offered(Capability.GET_CASH_MOVEMENTS)
        return await self.flex.cash_movements(account_id, since=since, until=until)

    async def get_corporate_actions(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[CorporateAction]:
        """The splits IB applied to the account's positions in ``symbol`` (Flex query), oldest first."""
        self._offered(Capability.GET_CORPORATE_ACTIONS)
        return await self.flex.corporate_actions(symbol, start=start, end=end)

    async def get_news(
        self,
        symbols: list[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[NewsItem]:
        self._offered(Capability.GET_NEWS)
        items: list[NewsItem] = await self.transport.get_news(symbols, start=start, end=end, limit=limit)
        return items

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        self._offered(Capability.GET_FUNDAMENTALS)
        found: Fundamentals = await self.transport.get_fundamentals(symbol, statements=statements)
        return found

    # -- streams ---------------------------------------------------------------------------------

    def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        self._offered(Capability.SUBSCRIBE_QUOTES)
        stream: AsyncIterator[Quote] = self.transport.subscribe_quotes(symbols)
        return stream

    def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:
        self._offered(Capability.SUBSCRIBE_ORDER_UPDATES)
        stream: AsyncIterator[OrderEvent] = self.transport.subscribe_order_updates()
        return stream
