"""The Schwab connector: every declared capability on portico's canonical models."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from portico.auth import TokenAuth
from portico.connectors.schwab.auth import SchwabAuth
from portico.connectors.schwab.client import (
    SchwabClient,
    iso_millis,
    order_id_from_location,
    schwab_error_mapper,
)
from portico.connectors.schwab.links import IntentRecord, IntentStore
from portico.connectors.schwab.mapping import (
    BAR_FREQUENCIES,
    TAG_PREFIX,
    account_from_wire,
    bar_from_wire,
    client_id_from_tag,
    execution_from_transaction,
    instrument_from_wire,
    order_from_wire,
    order_request_to_wire,
    parse,
    position_from_wire,
    quote_from_wire,
)
from portico.connectors.schwab.spec import SPEC, SchwabConnection
from portico.connectors.schwab.stream import (
    ACTIVITY_FIELDS,
    CHART_FIELDS,
    LEVELONE_FIELDS,
    RECONNECTED,
    QuoteBook,
    StreamerSession,
    Subscription,
    bar_from_chart,
    order_id_from_activity,
)
from portico.connectors.schwab.wire import (
    WireAccountNumber,
    WireOrder,
    WirePriceHistory,
    WireQuoteBlock,
    WireSearchResult,
    WireSecuritiesAccount,
    WireTransaction,
)
from portico.errors import (
    AuthError,
    CircuitOpen,
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    PayloadRejected,
    ServerError,
    TransportError,
)
from portico.http import RateLimiter
from portico.models import (
    TERMINAL_STATUSES,
    Account,
    Bar,
    BarInterval,
    CashMovement,
    CashMovementType,
    Execution,
    Instrument,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    Position,
    Quote,
    TimeInForce,
)
from portico.sdk import (
    Capability,
    CheckResult,
    Connector,
    ConnectorContext,
    ConnectorSpec,
    OrderStatusFilter,
    RateLimitPolicy,
    RateWindow,
)

__all__ = ["SchwabConnector"]

_MAX_SENDS = 3
"""How many times one call may send a placement when no order matching it is found at Schwab."""
_SYMBOLS_PER_CALL = 500
_SETTLE_WAIT = 5.0
"""Seconds an order event waits for an in-flight placement to learn its order id (and so its client id)."""
_EVENT_NAMES = {
    OrderStatus.ACCEPTED: "accepted",
    OrderStatus.NEW: "new",
    OrderStatus.PARTIALLY_FILLED: "partial_fill",
    OrderStatus.FILLED: "fill",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.REPLACED: "replaced",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.PENDING_CANCEL: "pending_cancel",
    OrderStatus.PENDING_REPLACE: "pending_replace",
}
_INTRADAY = (BarInterval.MIN_1, BarInterval.MIN_5, BarInterval.MIN_15, BarInterval.MIN_30)
_INTERVAL_SPAN = {
    BarInterval.MIN_1: timedelta(minutes=1),
    BarInterval.MIN_5: timedelta(minutes=5),
    BarInterval.MIN_15: timedelta(minutes=15),
    BarInterval.MIN_30: timedelta(minutes=30),
    BarInterval.DAY: timedelta(days=1),
    BarInterval.WEEK: timedelta(weeks=1),
    BarInterval.MONTH: timedelta(days=31),
}


def _mask(number: str) -> str:
    """An account number as it may appear in messages: its last three digits."""
    return f"...{number[-3:]}"


@dataclass
class _Intent:
    """An order placement as portico stored it before sending (Schwab has no client order id)."""

    client_order_id: str
    body: dict[str, Any]
    account_hash: str
    tag: str | None
    first_sent: datetime | None = None
    sends: int = 0
    order_id: str | None = None
    acknowledged: bool = False
    """Schwab answered 201 without naming the order: it exists, so it is never sent again."""
    request: OrderRequest | None = field(default=None, repr=False)


_NEW_YORK = ZoneInfo("America/New_York")
_CASH_TYPES: dict[str, CashMovementType] = {
    "DIVIDEND_OR_INTEREST": CashMovementType.DIVIDEND,
    "ACH_RECEIPT": CashMovementType.DEPOSIT,
    "ACH_DISBURSEMENT": CashMovementType.WITHDRAWAL,
    "CASH_RECEIPT": CashMovementType.DEPOSIT,
    "CASH_DISBURSEMENT": CashMovementType.WITHDRAWAL,
    "ELECTRONIC_FUND": CashMovementType.TRANSFER,
    "WIRE_IN": CashMovementType.DEPOSIT,
    "WIRE_OUT": CashMovementType.WITHDRAWAL,
}
"""The transaction types that move cash other than by trades, as canonical movement types."""


class SchwabConnector(Connector):
    """Charles Schwab: brokerage (Trader API v1) and market data (Market Data v1).

    Accounts are addressed by the hash ``/trader/v1/accounts/accountNumbers`` gives; the plain number
    is never put in a path. Schwab has no client order id, so a placement is stored as an intent
    before it is sent; when its answer is lost the connector looks for the order among the account's
    recent orders (same symbol, instruction, quantity, type and prices, entered inside
    ``order_match_window``, not already linked to another intent, and carrying portico's tag when
    ``order_tag`` is on) before anything is sent again. While that cannot be told the order is
    :class:`~portico.errors.OutcomeUnknown`, never rejected and never duplicated.

    Order requests (place, replace, cancel) also pass the app's own ``order_limit_per_minute``
    window, on top of the system's general throttle.
    """

    spec: ClassVar[ConnectorSpec] = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(SchwabConnection)
        self._client: SchwabClient | None = None
        self._accounts: dict[str, str] | None = None
        self._intents: dict[str, _Intent] = {}
        self._client_ids: dict[str, str] = {}
        self._in_flight = 0
        self._store = IntentStore(context.store, context.system_id) if context.store is not None else None
        self._links_loaded = self._store is None
        self._settled = asyncio.Condition()
        self.order_limiter = RateLimiter(
            RateLimitPolicy(
                windows=(RateWindow(limit=self.settings.order_limit_per_minute, period=60),), max_wait=60.0
            ),
            clock=context.clock,
            name=f"{context.system_id}:orders",
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def _overrides(self) -> dict[str, Any]:
        overrides: dict[str, Any] = {"error_mapper": schwab_error_mapper, "idempotency_header": None}
        if self.context.auth is None and "access_token" in self.context.credentials:
            # a bare context (no AuthenticationManager flow): send a given access token ourselves
            overrides["headers"] = {"Authorization": f"Bearer {self.context.secret('access_token')}"}
        return overrides

    async def open(self) -> None:
        """Create the API client."""
        if self._client is None:
            self._client = SchwabClient(self.context.api_client("api", **self._overrides()))

    async def close(self) -> None:
        """Close the API client (and give back the store's connection)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._store is not None:
            self._store.close()

    @property
    def client(self) -> SchwabClient:
        """The REST client (opened on first use)."""
        if self._client is None:
            self._client = SchwabClient(self.context.api_client("api", **self._overrides()))
        return self._client

    async def check(self) -> CheckResult:
        """The account is reachable, and the refresh token's term: ``refresh_token`` fails once it
        has expired or was refused, and the detail says how many hours are left."""
        result = await super().check()
        auth = self.context.auth
        if not isinstance(auth, SchwabAuth):
            return result
        status = auth.refresh_status()
        if status.grade in ("ok", "expiring") and status.hours_left is not None:
            detail = f"{result.detail}; refresh token expires in {status.hours_left:.1f} h"
        else:
            detail = f"{result.detail}; refresh token {status.grade}"
        usable = status.grade in ("ok", "expiring")
        return result.model_copy(
            update={"detail": detail, "checks": {**result.checks, "refresh_token": usable}}
        )

    # -- accounts --------------------------------------------------------------------------------

    async def _save(self, intent: _Intent) -> None:
        """Persist an intent (when the runtime gave the connector a store)."""
        if self._store is None:
            return
        record = IntentRecord(
            intent.client_order_id,
            intent.body,
            intent.account_hash,
            intent.tag,
            intent.first_sent,
            intent.sends,
            intent.order_id,
            intent.acknowledged,
        )
        self._store.save(record)

    async def _save_link(self, intent: _Intent) -> None:
        """Persist the order id Schwab named for an intent (the body stays as stored)."""
        if self._store is None:
            return
        self._store.link(
            IntentRecord(
                intent.client_order_id,
                intent.body,
                intent.account_hash,
                intent.tag,
                intent.first_sent,
                intent.sends,
                intent.order_id,
                intent.acknowledged,
            )
        )

    async def _create(self, intent: _Intent) -> bool:
        """Store a new intent; False when one is stored under its client order id already (an
        earlier process placed it: the caller reads that one)."""
        if self._store is None:
            return True
        record = IntentRecord(
            intent.client_order_id,
            intent.body,
            intent.account_hash,
            intent.tag,
            intent.first_sent,
            intent.sends,
            intent.order_id,
            intent.acknowledged,
        )
        return self._store.create(record)

    async def _stored_intent(self, client_order_id: str) -> _Intent | None:
        intent = self._intents.get(client_order_id)
        if intent is None and self._store is not None:
            record = await asyncio.to_thread(self._store.get, client_order_id)
            if record is not None:
                intent = _Intent(
                    record.client_order_id,
                    record.body,
                    record.account_hash,
                    record.tag,
                    record.first_sent,
                    record.sends,
                    record.order_id,
                    record.acknowledged,
                )
                self._intents[client_order_id] = intent
        return intent

    async def _load_links(self) -> None:
        """Read the stored order links once, so orders placed before a restart keep their client ids."""
        if not self._links_loaded and self._store is not None:
            self._links_loaded = True
            stored = await asyncio.to_thread(self._store.links)
            self._client_ids = {**stored, **self._client_ids}

    async def _linked(self) -> dict[str, str]:
        """Plain account number -> hash, read once from ``/trader/v1/accounts/accountNumbers``."""
        if self._accounts is None:
            data = await self.client.account_numbers()
            if not isinstance(data, list):
                raise PayloadRejected(
                    "GET /trader/v1/accounts/accountNumbers did not answer a list", system=self.system
                )
            entries = [
                parse(WireAccountNumber, item, what="account number", system=self.system) for item in data
            ]
            self._accounts = {e.account_number: e.hash_value for e in entries}
        return self._accounts

    async def _account_ref(self, account_id: str | None = None) -> tuple[str, str]:
        """``(plain number, hash)`` of ``account_id`` (a plain number), the configured account, or the first."""
        await self._load_links()
        linked = await self._linked()
        wanted = account_id or self.settings.account_number
        if wanted is None:
            if not linked:
                raise ConfigurationError("no account is linked to this Schwab app", system=self.system)
            number = next(iter(linked))
            return number, linked[number]
        if wanted in linked:
            return wanted, linked[wanted]
        if wanted in linked.values():
            # a hash given where the number was expected: accept it, answer with the number
            number = next(n for n, h in linked.items() if h == wanted)
            return number, wanted
        known = ", ".join(_mask(n) for n in linked) or "none"
        raise ConfigurationError(
            f"account {_mask(wanted)} is not linked to this Schwab app (linked: {known})",
            path=f"systems.{self.system}.connection.account_number",
            system=self.system,
        )

    async def _securities_account(
        self, account_id: str | None, *, positions: bool
    ) -> tuple[str, WireSecuritiesAccount]:
        number, account_hash = await self._account_ref(account_id)
        data = await self.client.account(account_hash, positions=positions)
        block = data.get("securitiesAccount") if isinstance(data, dict) else None
        return number, parse(WireSecuritiesAccount, block, what="account", system=self.system)

    async def get_account(self, account_id: str | None = None) -> Account:
        _, wire = await self._securities_account(account_id, positions=False)
        return account_from_wire(wire, system=self.system)

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        number, wire = await self._securities_account(account_id, positions=True)
        positions = [position_from_wire(p, system=self.system, account_id=number) for p in wire.positions]
        return [p for p in positions if p.quantity != 0]

    # -- orders ----------------------------------------------------------------------------------

    def _order(self, data: Any, account_id: str | None) -> Order:
        wire = parse(WireOrder, data, what="order", system=self.system)
        order_id = str(wire.order_id)
        client_order_id = self._client_ids.get(order_id) or client_id_from_tag(wire.tag)
        return order_from_wire(
            wire, system=self.system, account_id=account_id, client_order_id=client_order_id
        )

    async def _order_slot(self) -> None:
        """Wait for room in the app's order limit (``RateLimited`` past the bounded wait)."""
        await self.order_limiter.acquire(1.0)

    def _link(self, intent: _Intent, order_id: str) -> None:
        intent.order_id = order_id
        self._client_ids[order_id] = intent.client_order_id

    async def place_order(self, request: OrderRequest) -> Order:
        self._in_flight += 1
        try:
            return await self._place(request)
        finally:
            self._in_flight -= 1
            async with self._settled:
                self._settled.notify_all()

    async def _place(self, request: OrderRequest) -> Order:
        client_order_id = request.client_order_id or uuid.uuid4().hex
        intent = self._intents.get(client_order_id)
        counted = False
        ref: tuple[str, str] | None = None
        if intent is None:
            ref = number, account_hash = await self._account_ref(request.account_id)
            tag = f"{TAG_PREFIX}{client_order_id}" if self.settings.order_tag else None
            fresh = _Intent(
                client_order_id, order_request_to_wire(request, tag), account_hash, tag, request=request
            )
            await self._order_slot()
            # the intent is stored, its first send counted, before anything is sent: one write, which
            # also tells whether an earlier process stored this client order id (then that one counts)
            fresh.first_sent, fresh.sends = self.context.clock.now(), 1
            if await self._create(fresh):
                self._intents[client_order_id] = intent = fresh
                counted = True
            else:
                stored = await self._stored_intent(client_order_id)
                if stored is None:  # nothing was sent: the caller may simply ask again
                    raise PayloadRejected(
                        f"client order id {client_order_id} is taken in the store but its intent cannot be read",
                        field="client_order_id",
                        system=self.system,
                    )
                intent = stored
        if intent.order_id is not None:
            # placed before under this client order id: the same order, never a second one
            return await self.get_order(intent.order_id)
        number, account_hash = ref if ref is not None else await self._account_ref(request.account_id)
        if not counted and intent.sends:
            # an earlier call lost its answer: find that order before sending anything
            found = await self._resolve_placement(intent, number, None)
            if found is not None:
                return found
            if intent.acknowledged:
                raise OutcomeUnknown(
                    f"Schwab accepted order {client_order_id} without naming it and no matching order is found yet",
                    idempotency_key=client_order_id,
                    system=self.system,
                )
        # each call may send a few times; a caller asking again after OutcomeUnknown gets a look first
        sends_now = 0
        while sends_now < _MAX_SENDS:
            sends_now += 1
            if not counted:
                await self._order_slot()
                intent.first_sent = intent.first_sent or self.context.clock.now()
                intent.sends += 1
                await self._save(intent)  # the send is on record before it goes
            counted = False
            try:
                response = await self.client.place_order(account_hash, intent.body)
            except (OutcomeUnknown, ServerError) as exc:
                # sent, answer lost: Schwab may hold the order; find out before anything else
                found = await self._resolve_placement(intent, number, exc)
            else:
                try:
                    order_id = order_id_from_location(response.headers.get("location"), account_hash)
                except PayloadRejected:
                    order_id = None  # a Location we cannot trust: the order exists, find it by matching
                if order_id is not None:
                    self._link(intent, order_id)
                    await self._save_link(intent)
                    return self._accepted(order_id, request, client_order_id, number)
                # accepted but unnamed: it exists, so it must be found, never sent again
                intent.acknowledged = True
                await self._save(intent)
                found = await self._resolve_placement(intent, number, None)
                if found is None:
                    raise OutcomeUnknown(
                        f"Schwab accepted order {client_order_id} without naming it and no matching order was found",
                        idempotency_key=client_order_id,
                        system=self.system,
                    )
            if found is not None:
                return found
            self.context.emit("order.resent", client_order_id=client_order_id, sends=intent.sends)
        raise OutcomeUnknown(
            f"order {client_order_id} could not be confirmed after {intent.sends} sends; ask again to look once more",
            idempotency_key=client_order_id,
            system=self.system,
        )

    def _accepted(self, order_id: str, request: OrderRequest, client_order_id: str, account: str) -> Order:
        """The order Schwab just accepted (its 201 has no body: the request says what was placed).

        Built without validating again: every value is one the validated request holds (the same
        field types), the order id a string of digits read from ``Location``, the times the clock's
        aware ones; validation would cost a tenth of the placement's own CPU for nothing."""
        now = self.context.clock.now()
        return Order.model_construct(
            order_id=order_id,
            client_order_id=client_order_id,
            system=self.system,
            account_id=account,
            symbol=request.symbol.upper(),
            side=request.side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            status=OrderStatus.ACCEPTED,
            quantity=request.quantity,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            asset_class=request.asset_class,
            created_at=now,
            updated_at=now,
        )

    def _matches(self, intent: _Intent, wire: WireOrder) -> bool:
        body = intent.body
        leg = body["orderLegCollection"][0]
        if not wire.order_leg_collection:
            return False
        got = wire.order_leg_collection[0]
        if intent.tag is not None:
            return wire.tag == intent.tag
        if client_id_from_tag(wire.tag) not in (None, intent.client_order_id):
            return False  # another portico intent's order
        same_price = all(
            (Decimal(body[k]) if k in body else None) == getattr(wire, attr)
            for k, attr in (("price", "price"), ("stopPrice", "stop_price"))
        )
        return (
            got.instrument.symbol == leg["instrument"]["symbol"]
            and got.instruction == leg["instruction"]
            and got.quantity == Decimal(leg["quantity"])
            and wire.order_type == body["orderType"]
            and wire.duration == body["duration"]
            and same_price
        )

    async def _resolve_placement(
        self, intent: _Intent, account: str, cause: BaseException | None
    ) -> Order | None:
        """The order this intent placed, or None when no matching order is at Schwab.

        Raises:
            OutcomeUnknown: the lookup failed, or several orders match and none can be told apart.
        """
        assert intent.first_sent is not None
        window = timedelta(seconds=self.settings.order_match_window)
        params = {
            "fromEnteredTime": iso_millis(intent.first_sent - window),
            "toEnteredTime": iso_millis(self.context.clock.now() + window),
            "maxResults": 3000,
        }
        try:
            data = await self.client.list_orders(intent.account_hash, params)
            if not isinstance(data, list):
                raise PayloadRejected("GET /trader/v1/accounts/{accountHash}/orders did not answer a list")
            orders = [parse(WireOrder, item, what="order", system=self.system) for item in data]
        except (TransportError, CircuitOpen, OutcomeUnknown, PayloadRejected) as exc:
            raise OutcomeUnknown(
                f"order {intent.client_order_id} was sent, its answer was lost and the lookup failed ({exc.message})",
                idempotency_key=intent.client_order_id,
                system=self.system,
            ) from cause
        claimed = set(self._client_ids)
        candidates = [w for w in orders if str(w.order_id) not in claimed and self._matches(intent, w)]
        if not candidates:
            return None
        if len(candidates) > 1:
            ids = ", ".join(str(w.order_id) for w in candidates)
            raise OutcomeUnknown(
                f"order {intent.client_order_id} was sent and its answer lost; orders {ids} all match it: reconcile",
                idempotency_key=intent.client_order_id,
                system=self.system,
            ) from cause
        found = candidates[0]
        self._link(intent, str(found.order_id))
        await self._save(intent)
        self.context.emit(
            "order.matched", client_order_id=intent.client_order_id, order_id=str(found.order_id)
        )
        return order_from_wire(
            found, system=self.system, account_id=account, client_order_id=intent.client_order_id
        )

    def _order_id(self, order_id: str) -> str:
        if not order_id.isdigit():
            raise NotFound(f"Schwab order ids are numbers; {order_id!r} names no order", system=self.system)
        return order_id

    async def get_order(self, order_id: str) -> Order:
        number, account_hash = await self._account_ref()
        return self._order(await self.client.get_order(account_hash, self._order_id(order_id)), number)

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        """Emulated: the order linked to the intent portico stored for ``client_order_id``."""
        intent = await self._stored_intent(client_order_id)
        if intent is None or intent.order_id is None:
            raise NotFound(
                f"no order placed by this connector under client order id {client_order_id!r}",
                system=self.system,
            )
        return await self.get_order(intent.order_id)

    async def cancel_order(self, order_id: str) -> None:
        _, account_hash = await self._account_ref()
        await self._order_slot()
        await self.client.cancel_order(account_hash, self._order_id(order_id))

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
        old = await self.get_order(order_id)
        request = OrderRequest(
            symbol=old.symbol,
            side=old.side,
            quantity=quantity if quantity is not None else old.quantity,
            order_type=old.order_type,
            time_in_force=time_in_force or old.time_in_force,
            limit_price=limit_price if limit_price is not None else old.limit_price,
            stop_price=stop_price if stop_price is not None else old.stop_price,
        )
        body = order_request_to_wire(request)
        _, account_hash = await self._account_ref()
        await self._order_slot()
        try:
            response = await self.client.replace_order(account_hash, old.order_id, body)
            new_id = order_id_from_location(response.headers.get("location"), account_hash)
        except (OutcomeUnknown, ServerError) as exc:
            # a replacement shows on the old order: look before telling anyone it failed
            again = await self.get_order(old.order_id)
            if again.status is OrderStatus.REPLACED and again.replaced_by:
                new_id = again.replaced_by
            else:
                raise OutcomeUnknown(
                    f"replacement of {order_id} is not confirmed ({exc.message})",
                    idempotency_key=client_order_id,
                    system=self.system,
                ) from exc
        if new_id is None:
            again = await self.get_order(old.order_id)
            new_id = again.replaced_by
            if new_id is None:
                raise OutcomeUnknown(
                    f"Schwab accepted the replacement of {order_id} without naming the new order",
                    system=self.system,
                )
        if client_order_id is not None:
            self._client_ids[new_id] = client_order_id
        return await self.get_order(new_id)

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
        end = until or self.context.clock.now()
        start = since or end - timedelta(days=self.settings.order_history_days)
        if end - start > timedelta(days=365):
            raise PayloadRejected(
                "Schwab lists orders of at most one year at a time; narrow since/until", field="since"
            )
        number, account_hash = await self._account_ref()
        params: dict[str, Any] = {"fromEnteredTime": iso_millis(start), "toEnteredTime": iso_millis(end)}
        params["maxResults"] = 3000
        data = await self.client.list_orders(account_hash, params)
        if not isinstance(data, list):
            raise PayloadRejected(
                "GET /trader/v1/accounts/{accountHash}/orders did not answer a list", system=self.system
            )
        wanted = {s.upper() for s in symbols} if symbols else None
        out = []
        for item in data:
            order = self._order(item, number)
            if (status == "open" and order.is_terminal) or (status == "closed" and not order.is_terminal):
                continue
            if wanted is not None and order.symbol not in wanted:
                continue
            out.append(order)
        out.sort(key=lambda o: (o.created_at is not None, o.created_at, int(o.order_id)), reverse=True)
        return out[:limit] if limit is not None else out

    async def get_executions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
    ) -> list[Execution]:
        end = until or self.context.clock.now()
        start = since or end - timedelta(days=self.settings.order_history_days)
        if end - start > timedelta(days=365):
            raise PayloadRejected(
                "Schwab lists transactions of at most one year at a time; narrow since/until", field="since"
            )
        number, account_hash = await self._account_ref()
        params: dict[str, Any] = {
            "startDate": iso_millis(start),
            "endDate": iso_millis(end),
            "types": "TRADE",
        }
        if symbol:
            params["symbol"] = symbol.upper()
        data = await self.client.transactions(account_hash, params)
        if not isinstance(data, list):
            raise PayloadRejected(
                "GET /trader/v1/accounts/{accountHash}/transactions did not answer a list", system=self.system
            )
        out: list[Execution] = []
        for item in data:
            wire = parse(WireTransaction, item, what="transaction", system=self.system)
            client_order_id = self._client_ids.get(str(wire.order_id))
            execution = execution_from_transaction(
                wire, system=self.system, account_id=number, client_order_id=client_order_id
            )
            if execution is None or (order_id is not None and execution.order_id != order_id):
                continue
            if symbol is not None and execution.symbol != symbol.upper():
                continue
            out.append(execution)
        return sorted(out, key=lambda e: (e.executed_at, e.execution_id))

    async def get_cash_movements(
        self,
        account_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CashMovement]:
        """Dividends and interest, deposits and withdrawals (ACH, wires, cash receipts and disbursements,
        electronic funds) from ``transactions``, oldest first; the window is at most a year (the vendor's)."""
        end = until or self.context.clock.now()
        start = since or end - timedelta(days=self.settings.order_history_days)
        if end - start > timedelta(days=365):
            raise PayloadRejected(
                "Schwab lists transactions of at most one year at a time; narrow since/until", field="since"
            )
        number, account_hash = await self._account_ref()
        params = {"startDate": iso_millis(start), "endDate": iso_millis(end), "types": ",".join(_CASH_TYPES)}
        data = await self.client.transactions(account_hash, params)
        if not isinstance(data, list):
            raise PayloadRejected(
                "GET /trader/v1/accounts/{accountHash}/transactions did not answer a list", system=self.system
            )
        out: list[CashMovement] = []
        for item in data:
            wire = parse(WireTransaction, item, what="transaction", system=self.system)
            kind = _CASH_TYPES.get(wire.type)
            if kind is None or wire.net_amount is None:
                continue
            security = next((t for t in wire.transfer_items if t.instrument.asset_type != "CURRENCY"), None)
            if kind is CashMovementType.DIVIDEND and security is None:
                kind = CashMovementType.INTEREST  # DIVIDEND_OR_INTEREST without a security is interest
            out.append(
                CashMovement(
                    movement_id=str(wire.activity_id),
                    account_id=number,
                    movement_type=kind,
                    amount=wire.net_amount,
                    currency="USD",
                    date=wire.time.astimezone(_NEW_YORK).date(),
                    symbol=(security.instrument.symbol or None) if security else None,
                    quantity=security.amount if security and kind is CashMovementType.DIVIDEND else None,
                    per_share=security.price if security and kind is CashMovementType.DIVIDEND else None,
                    description=item.get("description") if isinstance(item, dict) else None,
                    status=wire.status,
                    timestamp=wire.time,
                    source=self.system,
                )
            )
        return sorted(out, key=lambda m: (m.date, m.movement_id))

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
        frequency = BAR_FREQUENCIES.get(interval)
        if frequency is None:
            raise NotSupported(
                f"Schwab has no {interval.value} candles",
                capability=Capability.GET_BARS.value,
                system=self.system,
            )
        if limit is not None and limit <= 0:
            raise PayloadRejected("limit must be positive", field="limit")
        for name, value in (("start", start), ("end", end)):
            if value is not None and value.tzinfo is None:
                raise PayloadRejected(f"{name} must be timezone-aware", field=name)
        symbol = symbol.strip().upper()
        period_type, frequency_type, every = frequency
        until = end or self.context.clock.now()
        if start is None:
            # "the latest N bars": look back far enough for N bars through nights and weekends
            span = _INTERVAL_SPAN[interval] * (limit or 1000)
            span = span * 4 + timedelta(days=4) if interval in _INTRADAY else span * 2 + timedelta(days=7)
            start = until - span
        if start > until:
            raise PayloadRejected("start must not be after end", field="start")
        params: dict[str, Any] = {
            "symbol": symbol,
            "periodType": period_type,
            "frequencyType": frequency_type,
            "frequency": every,
            "startDate": int(start.timestamp() * 1000),
            "endDate": int(until.timestamp() * 1000),
            "needExtendedHoursData": "false",
        }
        data = parse(
            WirePriceHistory,
            await self.client.price_history(params),
            what="price history",
            system=self.system,
        )
        bars = sorted((bar_from_wire(c, symbol, interval) for c in data.candles), key=lambda b: b.timestamp)
        return bars[-limit:] if limit is not None else bars

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        unique = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
        if not unique:
            raise PayloadRejected("give at least one symbol", field="symbols")
        out: dict[str, Quote] = {}
        for i in range(0, len(unique), _SYMBOLS_PER_CALL):
            data = await self.client.quotes(unique[i : i + _SYMBOLS_PER_CALL])
            if not isinstance(data, dict):
                raise PayloadRejected(
                    "GET /marketdata/v1/quotes did not answer an object", system=self.system
                )
            for key, block in data.items():
                if key == "errors" or not isinstance(block, dict):
                    continue  # {"errors": {"invalidSymbols": [...]}}: unknown symbols are left out
                out[key] = quote_from_wire(parse(WireQuoteBlock, block, what="quote", system=self.system))
        return out

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        needle = query.strip()
        if not needle:
            return []
        found: dict[str, Instrument] = {}
        for projection, term in (("symbol-search", needle.upper()), ("desc-search", needle)):
            data = parse(
                WireSearchResult,
                await self.client.instruments(term, projection),
                what="instruments",
                system=self.system,
            )
            for wire in data.instruments:
                if wire.symbol and wire.symbol not in found:
                    found[wire.symbol] = instrument_from_wire(wire)
            if len(found) >= limit:
                break
        return list(found.values())[:limit]

    # -- streams ---------------------------------------------------------------------------------

    async def _access_token(self) -> str:
        auth = self.context.auth
        if isinstance(auth, TokenAuth):
            return (await auth.token()).access_token.get_secret_value()
        if "access_token" in self.context.credentials:
            return self.context.secret("access_token")
        raise AuthError(
            "the Schwab streamer needs an access token: configure schwab_oauth2", system=self.system
        )

    def _auth_is_dead(self, exc: AuthError) -> bool:
        """Whether an auth error needs a new sign-in: the refresh token has expired or was refused (or
        there is none). Anything else (a refresh that timed out, a passing 401) may pass."""
        auth = self.context.auth
        if not isinstance(auth, SchwabAuth):
            return True  # a bare access token: nothing here can renew it
        grade = auth.refresh_status().grade
        return grade in ("expired", "refused") or (grade == "signed_out" and not auth.auto_login)

    def _session(self, stream: str, *, announce: bool = True) -> StreamerSession:
        return StreamerSession(
            preferences=self.client.user_preference,
            access_token=self._access_token,
            system=self.system,
            clock=self.context.clock,
            emit=self.context.emit,
            stream=stream,
            announce=announce,
            max_attempts=self.settings.stream_reconnect_attempts,
            receive_timeout=self.settings.stream_receive_timeout,
            auth_is_dead=self._auth_is_dead,
        )

    @staticmethod
    def _symbols(symbols: list[str]) -> tuple[str, ...]:
        unique = tuple(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
        if not unique:
            raise PayloadRejected("give at least one symbol", field="symbols")
        return unique

    async def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:  # type: ignore[override]
        """LEVELONE_EQUITIES, merged into full quotes."""
        keys = self._symbols(symbols)
        book = QuoteBook()
        items = self._session("quotes").items([Subscription("LEVELONE_EQUITIES", keys, LEVELONE_FIELDS)])
        async with contextlib.aclosing(items) as stream:
            async for item in stream:
                if item.get("service") != "LEVELONE_EQUITIES":
                    continue
                quote = book.update(item["content"], self.context.clock.now())
                if quote is not None:
                    yield quote

    async def subscribe_bars(self, symbols: list[str]) -> AsyncIterator[Bar]:  # type: ignore[override]
        """CHART_EQUITY: one-minute bars as each minute completes."""
        keys = self._symbols(symbols)
        items = self._session("bars").items([Subscription("CHART_EQUITY", keys, CHART_FIELDS)])
        async with contextlib.aclosing(items) as stream:
            async for item in stream:
                if item.get("service") == "CHART_EQUITY":
                    yield bar_from_chart(item["content"])

    async def _known(self, order: Order) -> Order:
        """The order with its client order id, once any placement in flight has learned its order id."""
        if order.client_order_id is not None or self._in_flight == 0:
            return order
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SETTLE_WAIT), self._settled:
                await self._settled.wait_for(
                    lambda: order.order_id in self._client_ids or self._in_flight == 0
                )
        client_order_id = self._client_ids.get(order.order_id)
        return order.model_copy(update={"client_order_id": client_order_id}) if client_order_id else order

    async def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:  # type: ignore[override]
        """ACCT_ACTIVITY tells which order changed; its state is read over REST, so events carry the
        whole order. After a reconnect, orders changed while the stream was down are back-filled."""
        number, _ = await self._account_ref()
        prefs = await self.client.user_preference()
        info = (prefs.get("streamerInfo") or [{}])[0] if isinstance(prefs, dict) else {}
        key = str(info.get("schwabClientCorrelId") or "Account Activity")
        seen: dict[str, tuple[OrderStatus, Decimal]] = {}
        down_since = self.context.clock.now()
        # the back-fill window also reaches back to the oldest order seen still open (it may have filled
        # while the stream was down) and to the entered time of the newest order seen (Schwab's own clock:
        # the stream may lag behind, and the two clocks may disagree)
        open_since: dict[str, datetime] = {}
        newest_seen: datetime | None = None

        def fresh(order: Order) -> bool:
            nonlocal newest_seen
            created = order.created_at
            if created is not None:
                newest_seen = created if newest_seen is None else max(newest_seen, created)
                if order.status in TERMINAL_STATUSES:
                    open_since.pop(order.order_id, None)
                else:
                    open_since[order.order_id] = created
            state = (order.status, order.filled_quantity)
            if seen.get(order.order_id) == state:
                return False
            seen[order.order_id] = state
            return True

        def backfill_since() -> datetime:
            marks = [down_since, *([newest_seen] if newest_seen is not None else []), *open_since.values()]
            return min(marks) - timedelta(minutes=1)

        def event(order: Order, source: str) -> OrderEvent:
            return OrderEvent(
                event=_EVENT_NAMES.get(order.status, "status"),
                order=order,
                timestamp=self.context.clock.now(),
                system=self.system,
                source=source,
            )

        session = self._session("order_updates", announce=False)
        items = session.items([Subscription("ACCT_ACTIVITY", (key,), ACTIVITY_FIELDS)])
        async with contextlib.aclosing(items) as stream:
            async for item in stream:
                if item is RECONNECTED:
                    # subscribed (first time or again): read what the stream did not carry, then say so;
                    # a minute of slack, as Schwab's clock and ours may disagree a little
                    since = backfill_since()
                    until = self.context.clock.now() + timedelta(minutes=1)
                    if until - since > timedelta(days=365):
                        since = until - timedelta(days=365)
                    missed = await self.list_orders(status="all", since=since, until=until)
                    self.context.emit("stream.subscribed", stream="order_updates")
                    for order in sorted(missed, key=lambda o: int(o.order_id)):
                        if fresh(order):
                            yield event(await self._known(order), "backfill")
                    continue
                down_since = self.context.clock.now()
                if item.get("service") != "ACCT_ACTIVITY":
                    continue
                content = item["content"]
                account = content.get("1") if isinstance(content, dict) else None
                if account is not None and str(account) != number:
                    continue  # another linked account's activity: not this system's orders
                order_id = order_id_from_activity(content)
                if order_id is None:
                    continue
                last = seen.get(order_id)
                if last is not None and last[0] in TERMINAL_STATUSES:
                    # a finished order does not change again: the rest of its activity (Schwab sends
                    # several messages per order) needs no read
                    continue
                order = await self._known(await self.get_order(order_id))
                if order.account_id == number and fresh(order):
                    yield event(order, "stream")
