"""The E*TRADE connector: accounts, positions, equity orders (preview then place) and quotes on
portico's canonical models, with order events from polling (E*TRADE has no order stream)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from portico.auth import AuthContext
from portico.connectors.etrade.auth import SCHEME_NAME, EtradeOAuth1Scheme
from portico.connectors.etrade.client import EtradeClient, etrade_error_mapper, is_duplicate_client_order_id
from portico.connectors.etrade.client_ids import ClientOrderIds
from portico.connectors.etrade.lifecycle import EASTERN
from portico.connectors.etrade.mapping import (
    account_from_wire,
    epoch_ms,
    order_body,
    order_event,
    order_from_wire,
    parse,
    position_from_wire,
    quote_from_wire,
    wire_client_order_id,
)
from portico.connectors.etrade.spec import SPEC, EtradeConnection
from portico.connectors.etrade.wire import (
    WireAccount,
    WireBalance,
    WireOrder,
    WirePlaceResponse,
    WirePosition,
    WirePreviewResponse,
    WireQuote,
    WireTransaction,
    as_list,
)
from portico.errors import (
    CircuitOpen,
    NotFound,
    OutcomeUnknown,
    PayloadRejected,
    ServerError,
    TransportError,
    VenueRejected,
)
from portico.models import (
    Account,
    CashMovement,
    CashMovementType,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    Position,
    Quote,
    TimeInForce,
)
from portico.sdk import Connector, ConnectorContext, ConnectorSpec, OrderStatusFilter

__all__ = ["EtradeConnector"]

_MAX_SENDS = 3
"""How many times one placement may be sent when E*TRADE provably never received it."""
_ORDER_PAGE = 100
_QUOTE_BATCH = 25
_POLL_PAGES = 2


_CASH_TYPES: dict[str, CashMovementType] = {
    "dividend": CashMovementType.DIVIDEND,
    "qualified dividend": CashMovementType.DIVIDEND,
    "interest": CashMovementType.INTEREST,
    "interest income": CashMovementType.INTEREST,
    "fee": CashMovementType.FEE,
    "service fee": CashMovementType.FEE,
    "deposit": CashMovementType.DEPOSIT,
    "withdrawal": CashMovementType.WITHDRAWAL,
    "transfer": CashMovementType.TRANSFER,
}
"""E*TRADE transaction types (lower case) that move cash other than by trades."""


class EtradeConnector(Connector):
    """E*TRADE: brokerage (Accounts and Order APIs) and market data (quotes).

    Placement is preview then place with the preview's id, under a client order id the connector
    controls (the caller's, or a stable 20-character digest of it when it does not fit E*TRADE's
    limit). A lost answer is resolved by listing orders for that id; E*TRADE refusing the id as already
    used means an earlier send arrived: the order is looked up and returned, never reported rejected,
    never placed twice.

    Connection options: ``account_id_key``, ``rate_limits`` (per module), ``poll_interval``,
    ``order_lookup_pages``.
    """

    spec: ClassVar[ConnectorSpec] = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        settings = context.settings_as(EtradeConnection)
        self.settings = settings
        self._client: EtradeClient | None = None
        self._account_key: str | None = settings.account_id_key
        self._client_ids = ClientOrderIds(self.system, context.store)
        self._auth = context.auth if context.auth is not None else self._own_auth()

    def _own_auth(self) -> EtradeOAuth1Scheme | None:
        """Sign requests ourselves when no AuthenticationManager built the scheme (a bare test context)."""
        if "consumer_key" not in self.context.credentials:
            return None
        urls = self.context.environment.urls
        options = {
            "renew_url": urls.get("auth", "").rstrip("/") + "/oauth/renew_access_token",
            "revoke_url": urls.get("auth", "").rstrip("/") + "/oauth/revoke_access_token",
        }
        ctx = AuthContext(
            system_id=self.system, scheme=SCHEME_NAME, clock=self.context.clock, emit=self.context.emit
        )
        return EtradeOAuth1Scheme(ctx, self.context.credentials, options)

    @property
    def auth(self) -> Any:
        """The auth flow in use (an :class:`EtradeOAuth1Scheme` unless the runtime gave another)."""
        return self._auth

    # -- lifecycle -------------------------------------------------------------------------------

    def _make_client(self) -> EtradeClient:
        api = self.context.api_client(
            "api", error_mapper=etrade_error_mapper, idempotency_header=None, auth=self._auth
        )
        return EtradeClient(api, self.settings.rate_limits, clock=self.context.clock, name=self.system)

    async def open(self) -> None:
        """Create the API client."""
        if self._client is None:
            self._client = self._make_client()

    async def close(self) -> None:
        """Close the API client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> EtradeClient:
        """The REST client (opened on first use)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    async def keep_alive(self) -> bool:
        """Renew the access token if it is close to its two idle hours (for a scheduler); True if renewed."""
        if isinstance(self._auth, EtradeOAuth1Scheme):
            return await self._auth.renew_if_due()
        return False

    # -- accounts --------------------------------------------------------------------------------

    async def list_accounts(self) -> list[WireAccount]:
        """Every account of the user (``accountIdKey`` is what the other calls take)."""
        data = await self.client.list_accounts()
        try:
            items = as_list(data["AccountListResponse"]["Accounts"]["Account"])
        except (KeyError, TypeError):
            raise PayloadRejected(
                "E*TRADE account list has no AccountListResponse.Accounts.Account", system=self.system
            ) from None
        return [parse(WireAccount, item, what="account", system=self.system) for item in items]

    async def _key(self, account_id: str | None = None) -> str:
        if account_id:
            return account_id
        if self._account_key is None:
            accounts = await self.list_accounts()
            brokerage = [
                a
                for a in accounts
                if (a.institution_type or "BROKERAGE") == "BROKERAGE" and a.account_status != "CLOSED"
            ]
            if not brokerage:
                raise NotFound(
                    "E*TRADE lists no open brokerage account for these credentials", system=self.system
                )
            self._account_key = brokerage[0].account_id_key
        return self._account_key

    async def get_account(self, account_id: str | None = None) -> Account:
        key = await self._key(account_id)
        data = await self.client.balance(key)
        if not isinstance(data, dict) or "BalanceResponse" not in data:
            raise PayloadRejected("E*TRADE balance has no BalanceResponse", system=self.system)
        return account_from_wire(
            parse(WireBalance, data["BalanceResponse"], what="balance", system=self.system),
            key,
            system=self.system,
        )

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        key = await self._key(account_id)
        out: list[Position] = []
        page = 1
        while True:
            data = await self.client.portfolio(key, page)
            if data is None:
                return out  # no content: no positions
            try:
                portfolios = as_list(data["PortfolioResponse"]["AccountPortfolio"])
            except (KeyError, TypeError):
                raise PayloadRejected(
                    "E*TRADE portfolio has no PortfolioResponse.AccountPortfolio", system=self.system
                ) from None
            total_pages = 1
            for portfolio in portfolios:
                total_pages = max(total_pages, int(portfolio.get("totalPages") or 1))
                for item in as_list(portfolio.get("Position")):
                    wire = parse(WirePosition, item, what="position", system=self.system)
                    if wire.quantity != 0:
                        out.append(position_from_wire(wire, key, system=self.system))
            if page >= total_pages:
                return out
            page += 1

    async def get_transactions(
        self, account_id: str | None = None, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[WireTransaction]:
        """The account's transactions (every page), newest first, as E*TRADE describes them."""
        key = await self._key(account_id)
        params: dict[str, Any] = {"count": 50}
        if since is not None:
            params["startDate"] = since.astimezone(EASTERN).strftime("%m%d%Y")
        if until is not None:
            params["endDate"] = until.astimezone(EASTERN).strftime("%m%d%Y")
        out: list[WireTransaction] = []
        while True:
            data = await self.client.transactions(key, params)
            if data is None:
                return out
            body = data.get("TransactionListResponse") if isinstance(data, dict) else None
            if not isinstance(body, dict):
                raise PayloadRejected(
                    "E*TRADE transactions have no TransactionListResponse", system=self.system
                )
            out.extend(
                parse(WireTransaction, t, what="transaction", system=self.system)
                for t in as_list(body.get("Transaction"))
            )
            marker = body.get("marker")
            if not body.get("moreTransactions") or not marker:
                return out
            params["marker"] = marker

    async def get_cash_movements(
        self,
        account_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CashMovement]:
        """Dividends, interest, fees, deposits and withdrawals among the account's transactions, oldest first.

        E*TRADE names transaction types in words; those that move cash other than by trades map through
        ``_CASH_TYPES``. Which words the live API uses beyond ``Bought``/``Sold`` is not confirmed from its
        documentation; an unknown word is not a cash movement (so a new type is missed, never misread).
        """
        key = await self._key(account_id)
        out: list[CashMovement] = []
        for wire in await self.get_transactions(account_id, since=since, until=until):
            kind = _CASH_TYPES.get(wire.transaction_type.strip().lower())
            if kind is None:
                continue
            product = wire.brokerage.product if wire.brokerage else None
            stamp = datetime.fromtimestamp(wire.transaction_date / 1000, tz=UTC)
            out.append(
                CashMovement(
                    movement_id=str(wire.transaction_id),
                    account_id=key,
                    movement_type=kind,
                    amount=wire.amount,
                    currency="USD",
                    date=stamp.astimezone(EASTERN).date(),
                    symbol=(product.symbol or None) if product else None,
                    quantity=wire.brokerage.quantity
                    if wire.brokerage and kind is CashMovementType.DIVIDEND
                    else None,
                    per_share=wire.brokerage.price
                    if wire.brokerage and kind is CashMovementType.DIVIDEND
                    else None,
                    description=wire.description or None,
                    timestamp=stamp,
                    source=self.system,
                )
            )
        return sorted(out, key=lambda m: (m.date, m.movement_id))

    # -- orders ----------------------------------------------------------------------------------

    def _order(self, wire: WireOrder, key: str) -> Order:
        caller_id = self._client_ids.caller(wire.client_order_id)
        return order_from_wire(wire, system=self.system, account_id=key, client_order_id=caller_id)

    async def _pages(self, key: str, params: dict[str, Any], pages: int) -> AsyncIterator[list[WireOrder]]:
        """Order-list pages, newest first, following ``marker`` for at most ``pages`` pages."""
        query = {"count": _ORDER_PAGE, **params}
        for _ in range(pages):
            data = await self.client.list_orders(key, query)
            if data is None:
                return
            body = data.get("OrdersResponse") if isinstance(data, dict) else None
            if not isinstance(body, dict):
                raise PayloadRejected("E*TRADE order list has no OrdersResponse", system=self.system)
            yield [
                parse(WireOrder, item, what="order", system=self.system)
                for item in as_list(body.get("Order"))
            ]
            marker = body.get("marker")
            if not marker:
                return
            query["marker"] = marker

    async def _find(
        self, key: str, match: Callable[[WireOrder], bool], symbol: str | None = None
    ) -> WireOrder | None:
        params: dict[str, Any] = {"symbol": symbol.upper()} if symbol else {}
        async for page in self._pages(key, params, self.settings.order_lookup_pages):
            for wire in page:
                if match(wire):
                    return wire
        return None

    async def _resolve_placement(
        self, key: str, wire_id: str, symbol: str, cause: BaseException
    ) -> Order | None:
        """The order placed under ``wire_id``, or None when E*TRADE provably does not hold it.

        Raises:
            OutcomeUnknown: the lookup itself failed, so the outcome stays unknown.
        """
        try:
            found = await self._find(key, lambda w: w.client_order_id == wire_id, symbol)
        except (TransportError, CircuitOpen, OutcomeUnknown, PayloadRejected, ServerError) as exc:
            raise OutcomeUnknown(
                f"order {wire_id} was sent, its answer was lost and the lookup failed ({exc.message})",
                idempotency_key=wire_id,
                system=self.system,
            ) from cause
        return self._order(found, key) if found is not None else None

    async def place_order(self, request: OrderRequest) -> Order:
        key = await self._key(request.account_id)
        caller_id = request.client_order_id or self.context.clock.now().strftime("pt%Y%m%d%H%M%S%f")[:20]
        wire_id = wire_client_order_id(caller_id)
        self._client_ids.remember(wire_id, caller_id)
        body = order_body(request, wire_id, system=self.system)
        try:
            preview = await self.client.preview(key, {"PreviewOrderRequest": body})
        except VenueRejected as exc:
            if not is_duplicate_client_order_id(exc):
                raise
            # the id is taken: an earlier placement of this order arrived
            return await self._already_placed(key, wire_id, request.symbol, exc)
        preview_id = self._preview_id(preview)
        placing = {"PlaceOrderRequest": {**body, "PreviewIds": [{"previewId": preview_id}]}}
        for _ in range(_MAX_SENDS):
            try:
                placed = await self.client.place(key, placing, wire_id)
            except (OutcomeUnknown, ServerError, PayloadRejected) as exc:
                found = await self._resolve_placement(key, wire_id, request.symbol, exc)
            except VenueRejected as exc:
                if not is_duplicate_client_order_id(exc):
                    raise
                return await self._already_placed(key, wire_id, request.symbol, exc)
            else:
                return self._placed(placed, request, caller_id, key)
            if found is not None:
                return found
            self.context.emit("order.resent", client_order_id=caller_id)
        raise OutcomeUnknown(
            f"order {caller_id} could not be confirmed after {_MAX_SENDS} sends",
            idempotency_key=caller_id,
            system=self.system,
        )

    async def _already_placed(self, key: str, wire_id: str, symbol: str, cause: VenueRejected) -> Order:
        found = await self._resolve_placement(key, wire_id, symbol, cause)
        if found is None:
            # refused as a duplicate yet not listed: it exists somewhere we cannot see; never "rejected"
            raise OutcomeUnknown(
                f"E*TRADE says client order id {wire_id} is already used, but the order list does not show it",
                idempotency_key=wire_id,
                system=self.system,
            ) from cause
        return found

    def _preview_id(self, data: Any) -> int:
        body = data.get("PreviewOrderResponse") if isinstance(data, dict) else None
        wire = parse(WirePreviewResponse, body, what="preview", system=self.system)
        return wire.preview_ids[0].preview_id

    def _placed(self, data: Any, request: OrderRequest, caller_id: str, key: str) -> Order:
        body = data.get("PlaceOrderResponse") if isinstance(data, dict) else None
        wire = parse(WirePlaceResponse, body, what="placement", system=self.system)
        placed_at = epoch_ms(wire.placed_time) or self.context.clock.now()
        return Order(
            order_id=str(wire.order_ids[0].order_id),
            client_order_id=caller_id,
            system=self.system,
            account_id=key,
            symbol=request.symbol.upper(),
            side=request.side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            status=OrderStatus.NEW,
            quantity=request.quantity,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            created_at=placed_at,
            updated_at=placed_at,
        )

    def _order_number(self, order_id: str) -> int:
        try:
            return int(order_id)
        except ValueError:
            raise NotFound(
                f"E*TRADE order ids are numbers; {order_id!r} is not one", system=self.system
            ) from None

    async def get_order(self, order_id: str) -> Order:
        number = self._order_number(order_id)
        key = await self._key()
        found = await self._find(key, lambda w: w.order_id == number)
        if found is None:
            raise NotFound(f"E*TRADE has no order {order_id}", system=self.system)
        return self._order(found, key)

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        key = await self._key()
        wire_id = wire_client_order_id(client_order_id)
        found = await self._find(key, lambda w: w.client_order_id == wire_id)
        if found is None:
            raise NotFound(
                f"E*TRADE has no order with client order id {client_order_id!r}", system=self.system
            )
        self._client_ids.remember(wire_id, client_order_id)
        return self._order(found, key)

    async def list_orders(
        self,
        *,
        status: OrderStatusFilter = "open",
        symbols: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        if status not in ("open", "closed", "all"):
            raise PayloadRejected(f"status must be open, closed or all, not {status!r}", field="status")
        if symbols is not None and len(symbols) > 25:
            raise PayloadRejected("E*TRADE filters orders by at most 25 symbols", field="symbols")
        key = await self._key()
        params: dict[str, Any] = {}
        if symbols:
            params["symbol"] = ",".join(s.upper() for s in symbols)
        if since is not None:
            params["fromDate"] = since.astimezone(EASTERN).strftime("%m%d%Y")
        if until is not None:
            params["toDate"] = until.astimezone(EASTERN).strftime("%m%d%Y")
        wanted = limit if limit is not None else 10_000
        out: list[Order] = []
        pages = (
            max(1, -(-wanted // _ORDER_PAGE)) + 1 if limit is not None else self.settings.order_lookup_pages
        )
        async for page in self._pages(key, params, pages):
            for wire in page:
                order = self._order(wire, key)
                if (status == "open" and order.is_terminal) or (status == "closed" and not order.is_terminal):
                    continue
                stamp = order.created_at
                if stamp is not None and (
                    (since is not None and stamp < since) or (until is not None and stamp >= until)
                ):
                    continue
                out.append(order)
                if len(out) >= wanted:
                    return out
        return out

    async def cancel_order(self, order_id: str) -> None:
        key = await self._key()
        await self.client.cancel(key, self._order_number(order_id))

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
        if quantity is None and limit_price is None and stop_price is None and time_in_force is None:
            raise PayloadRejected("replace_order needs at least one field to change", system=self.system)
        number = self._order_number(order_id)
        current = await self.get_order(order_id)
        if current.is_terminal:
            raise VenueRejected(
                f"E*TRADE order {order_id} is {current.status.value}: it cannot be changed",
                system=self.system,
            )
        key = await self._key()
        caller_id = client_order_id or current.client_order_id or order_id
        wire_id = wire_client_order_id(caller_id)
        self._client_ids.remember(wire_id, caller_id)
        changed = OrderRequest(
            symbol=current.symbol,
            side=current.side,
            quantity=quantity if quantity is not None else current.quantity,
            order_type=current.order_type,
            time_in_force=time_in_force or current.time_in_force,
            limit_price=limit_price if limit_price is not None else current.limit_price,
            stop_price=stop_price if stop_price is not None else current.stop_price,
            client_order_id=caller_id,
        )
        body = order_body(changed, wire_id, system=self.system)
        preview_id = self._preview_id(
            await self.client.change_preview(key, number, {"PreviewOrderRequest": body})
        )
        placing = {"PlaceOrderRequest": {**body, "PreviewIds": [{"previewId": preview_id}]}}
        try:
            await self.client.change_place(key, number, placing)
        except (OutcomeUnknown, ServerError) as exc:
            # E*TRADE keeps the order id across a change: look at it before telling anyone it failed
            now = await self.get_order(order_id)
            if (
                now.limit_price == changed.limit_price
                and now.quantity == changed.quantity
                and now.stop_price == changed.stop_price
            ):
                return now
            raise OutcomeUnknown(
                f"the change of E*TRADE order {order_id} is not confirmed ({exc.message})",
                idempotency_key=caller_id,
                system=self.system,
            ) from exc
        return await self.get_order(order_id)

    # -- market data -----------------------------------------------------------------------------

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        unique = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
        if not unique:
            raise PayloadRejected("get_latest_quotes needs at least one symbol", field="symbols")
        out: dict[str, Quote] = {}
        for start in range(0, len(unique), _QUOTE_BATCH):
            data = await self.client.quotes(unique[start : start + _QUOTE_BATCH])
            body = data.get("QuoteResponse") if isinstance(data, dict) else None
            if not isinstance(body, dict):
                raise PayloadRejected("E*TRADE quotes have no QuoteResponse", system=self.system)
            for item in as_list(body.get("QuoteData")):
                quote = quote_from_wire(parse(WireQuote, item, what="quote", system=self.system))
                out[quote.symbol] = quote
        return out

    # -- order events by polling -----------------------------------------------------------------

    async def _snapshot(self, key: str) -> dict[str, Order]:
        orders: dict[str, Order] = {}
        async for page in self._pages(key, {}, _POLL_PAGES):
            for wire in page:
                order = self._order(wire, key)
                orders[order.order_id] = order
        return orders

    async def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:  # type: ignore[override]
        """Order events from polling the order list every ``poll_interval`` seconds.

        The first poll sets the baseline; afterwards every new order and every change of status or
        filled quantity yields the event a streaming broker would send (``new``, ``partial_fill``,
        ``fill``, ``canceled``...), with ``source="poll"``. A failed poll is reported and retried at
        the next interval (a token that needs a new login ends the stream with its AuthError).
        """
        key = await self._key()
        seen = {oid: (o.status, o.filled_quantity) for oid, o in (await self._snapshot(key)).items()}
        self.context.emit(
            "stream.subscribed", stream="order_updates", mode="poll", interval=self.settings.poll_interval
        )
        while True:
            await self.context.clock.sleep(self.settings.poll_interval)
            try:
                current = await self._snapshot(key)
            except (TransportError, CircuitOpen, ServerError) as exc:
                self.context.emit("stream.poll_failed", stream="order_updates", error=exc.message)
                continue
            now = self.context.clock.now()
            # oldest first, so events come in the order they happened
            for order_id, order in sorted(current.items(), key=lambda item: int(item[0])):
                state = (order.status, order.filled_quantity)
                before = seen.get(order_id)
                if before == state:
                    continue
                seen[order_id] = state
                if before is None and order.status is not OrderStatus.NEW:
                    yield order_event(
                        order.model_copy(
                            update={
                                "status": OrderStatus.NEW,
                                "filled_quantity": Decimal(0),
                                "average_fill_price": None,
                            }
                        ),
                        now,
                        system=self.system,
                    )
                yield order_event(order, now, system=self.system)
            await asyncio.sleep(0)
