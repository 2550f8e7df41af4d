"""The web transport: the Client Portal Gateway's REST API (``/v1/api``) through ``portico.http.ApiClient``.

Session: the gateway holds the login (done once in a browser, or by IBeam and the like); the connector
checks ``iserver/auth/status`` when it opens, re-authenticates a lapsed brokerage session, keeps it alive
with ``tickle`` every ``tickle_interval`` seconds on the injected clock, and reports a competing login
as a health problem (``session.competing``) instead of taking the session over, unless
``take_over_competing`` is set.

Orders: the client order id travels as ``cOID``, which IB refuses to register twice. A lost answer to an
order (or to one of its confirmation replies) is resolved by looking the ``cOID`` up among live orders;
a repeat of an order whose answer was lost is refused by IB ("already registered") and resolved the
same way, so a lost response never duplicates an order. Order warnings ("questions") are answered by
the ``confirm_warnings`` policy: ``true`` (confirm all), ``false`` (confirm none: the order is not sent)
or a list of IB message ids to confirm.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError

from portico.connectors.interactive_brokers import mapping, wire
from portico.connectors.interactive_brokers.spec import (
    SPEC,
    WEB_ENDPOINT_PACING,
    InteractiveBrokersConnection,
)
from portico.errors import (
    AuthError,
    CircuitOpen,
    ConfigurationError,
    NotFound,
    OutcomeUnknown,
    PayloadRejected,
    PorticoError,
    RateLimited,
    TransportError,
    VenueRejected,
)
from portico.models import (
    Account,
    Bar,
    BarInterval,
    Execution,
    Instrument,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    Position,
    Quote,
    Snapshot,
    TimeInForce,
)
from portico.sdk import CheckResult, RateLimitPolicy, RateWindow, filter_orders

if TYPE_CHECKING:
    from portico.http import ApiClient
    from portico.sdk import ConnectorContext

__all__ = ["WebTransport", "map_error"]

_MAX_QUESTIONS = 10
_DUPLICATE = "already registered"
_SNAPSHOT_FIELDS = "31,55,70,71,82,83,84,85,86,88,7059,7295,7741,7762"
_PRICE_FIELDS = {"31", "84", "86"}


def map_error(response: httpx.Response) -> PorticoError | None:
    """Client Portal error bodies (``{"error": "..."}``) as portico errors."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("error") if isinstance(body, dict) else None
    text = f"HTTP {response.status_code}: {message}" if message else f"HTTP {response.status_code}"
    status = response.status_code
    if status == 401:
        return AuthError(f"Client Portal session not authenticated ({text})", status_code=status)
    if status == 429:
        retry = response.headers.get("retry-after")
        return RateLimited(
            f"IB pacing violation ({text})", retry_after=float(retry) if retry else None, status_code=status
        )
    if status == 404:
        return NotFound(text, status_code=status, detail=body)
    if message and _DUPLICATE in message:
        return VenueRejected(text, status_code=status, venue_code="duplicate_coid", detail=body)
    return None


class WebTransport:
    """The Client Portal Web API transport.

    Args:
        context: the connector's context (connection options: account, confirm_warnings,
            tickle_interval, take_over_competing, verify_tls, reauth_timeout).
    """

    name = "web"

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.system = context.system_id
        self.clock = context.clock
        settings = context.settings_as(InteractiveBrokersConnection)
        self.account: str | None = settings.account
        self.confirm_warnings: bool | list[str] = settings.confirm_warnings
        self.tickle_interval = settings.tickle_interval
        self.reauth_timeout = settings.reauth_timeout
        self.take_over_competing = settings.take_over_competing
        verify = settings.verify_tls
        overrides: dict[str, Any] = {"error_mapper": map_error, "idempotency_header": None, "verify": verify}
        if context.client_factory is None:
            from portico.http import RateLimiter

            overrides["rate_limiter"] = RateLimiter(SPEC.throttling, clock=self.clock)
        self.http: ApiClient = context.api_client("web", **overrides)
        self.verify_tls = verify
        self._pacers: dict[str, Any] = {}
        self._conids: dict[str, int] = {}
        self._symbols: dict[int, str] = {}
        self._refs: dict[str, str] = {}
        """venue order id -> cOID, for orders this transport placed (order status lacks the cOID)."""
        self._session_id: str | None = None
        auth = context.auth
        self.session_auth: Any = (
            auth
            if auth is not None and all(hasattr(auth, n) for n in ("status", "ensure", "start_keepalive"))
            else None
        )
        """The AuthenticationManager's session scheme, when configured; it then owns status, keep-alive
        and re-authentication, and the transport only reports competing logins."""
        self._keepalive: asyncio.Task[None] | None = None
        self.competing = False
        self._reauth_lock = asyncio.Lock()

    # -- plumbing --------------------------------------------------------------------------------

    async def _pace(self, endpoint: str) -> None:
        window = WEB_ENDPOINT_PACING.get(endpoint)
        if window is None:
            return
        pacer = self._pacers.get(endpoint)
        if pacer is None:
            from portico.http import RateLimiter

            # a tenth over IB's period: its clock starts when our request arrives, ours when it leaves
            margin = RateWindow(limit=window.limit, period=window.period * 1.1)
            pacer = RateLimiter(
                RateLimitPolicy(windows=(margin,), max_wait=60.0), clock=self.clock, name=endpoint
            )
            self._pacers[endpoint] = pacer
        await pacer.acquire(1)

    async def _call(self, method: str, path: str, endpoint: str, **kwargs: Any) -> Any:
        """One API call, paced, re-authenticating once when the brokerage session has lapsed."""
        await self._pace(endpoint)
        try:
            response = await self.http.request(method, path, endpoint=endpoint, **kwargs)
        except AuthError:
            # a 401 means the gateway did not process the request: safe to send again once re-authenticated
            await self._reauthenticate()
            await self._pace(endpoint)
            response = await self.http.request(method, path, endpoint=endpoint, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise PayloadRejected(
                f"{endpoint} answered with a body that is not JSON", system=self.system
            ) from None

    def _parse(self, model: type[Any], data: Any, endpoint: str) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise PayloadRejected(
                f"unexpected {endpoint} answer: {exc.errors()[0]['msg']}", system=self.system
            ) from None

    # -- session ---------------------------------------------------------------------------------

    async def _auth_status(self) -> wire.AuthStatus:
        if self.session_auth is not None:
            # straight to the gateway: the auth flow would try to re-authenticate a competing session first
            return self._parse(wire.AuthStatus, await self.session_auth.status(), "iserver/auth/status")
        await self._pace("POST /iserver/auth/status")
        try:
            response = await self.http.request(
                "POST", "iserver/auth/status", endpoint="POST /iserver/auth/status"
            )
        except AuthError as exc:
            # the gateway answers 401 to everything until someone logs in through its web page
            raise AuthError(
                "the Client Portal Gateway has no login: log in through its web page first",
                system=self.system,
            ) from exc
        return self._parse(wire.AuthStatus, response.json(), "iserver/auth/status")

    async def _reauthenticate(self) -> None:
        """Bring the brokerage session back (one attempt shared by every concurrent caller)."""
        async with self._reauth_lock:
            status = await self._auth_status()
            if self.session_auth is not None and not status.competing:
                await self.session_auth.ensure()
                return
            if status.authenticated and not status.competing:
                return
            if status.competing:
                self.competing = True
                self.context.emit("session.competing", severity="warning", message=status.message)
                if not self.take_over_competing:
                    raise AuthError(
                        "another session (TWS, mobile or a second gateway) holds this IB login; close it or set "
                        "connection.take_over_competing",
                        system=self.system,
                    )
                await self.http.request(
                    "POST",
                    "iserver/auth/ssodh/init",
                    endpoint="POST /iserver/auth/ssodh/init",
                    json={"publish": True, "compete": True},
                    retry=True,
                )
            elif not status.connected:
                raise AuthError(
                    "the Client Portal Gateway has no login: log in through its web page first",
                    system=self.system,
                )
            else:
                self.context.emit("session.reauthenticating", severity="warning")
                await self.http.request(
                    "POST", "iserver/reauthenticate", endpoint="POST /iserver/reauthenticate", retry=True
                )
            waited = 0.0
            while waited <= self.reauth_timeout:
                status = await self._auth_status()
                if status.authenticated and not status.competing:
                    self.competing = False
                    self.context.emit("session.reauthenticated")
                    return
                await self.clock.sleep(0.5)
                waited += 0.5
            raise AuthError(
                f"IB did not re-authenticate the session within {self.reauth_timeout:g}s", system=self.system
            )

    async def tickle(self) -> wire.Tickle:
        """Keep the session alive; returns the session id the WebSocket needs."""
        # a keep-alive changes nothing at the venue, so a 429 or a lost answer may simply be retried
        data = await self._call("POST", "tickle", "POST /tickle", retry=True)
        tickle = self._parse(wire.Tickle, data, "tickle")
        self._session_id = tickle.session or self._session_id
        auth = tickle.iserver.auth_status
        if tickle.collission or auth.competing:
            if not self.competing:
                self.context.emit("session.competing", severity="warning")
            self.competing = True
        elif not auth.authenticated:
            await self._reauthenticate()
        return tickle

    async def _keep_alive(self) -> None:
        while True:
            await self.clock.sleep(self.tickle_interval)
            try:
                await self.tickle()
            except asyncio.CancelledError:
                raise
            except PorticoError as exc:
                # the next tickle tries again; the failure is a health problem, not a crash
                self.context.emit("session.keepalive_failed", severity="warning", error=str(exc))

    async def open(self) -> None:
        """Check the session (re-authenticating if needed), pick the account and start the keep-alive."""
        status = await self._auth_status()
        if not (status.authenticated and not status.competing):
            await self._reauthenticate()
        await self.tickle()
        # IB wants iserver/accounts read before any order endpoint
        data = await self._call("GET", "iserver/accounts", "GET /iserver/accounts")
        accounts = list(data.get("accounts", [])) if isinstance(data, dict) else []
        if self.account is None:
            self.account = data.get("selectedAccount") or (accounts[0] if accounts else None)
        elif accounts and self.account not in accounts:
            raise ConfigurationError(
                f"account {self.account!r} is not available to this login (it has {accounts})",
                path=f"systems.{self.system}.connection.account",
                system=self.system,
            )
        if self.account is None:
            raise AuthError("the Client Portal login has no brokerage account", system=self.system)
        if self.session_auth is not None:
            self.session_auth.start_keepalive()
        else:
            self._keepalive = asyncio.create_task(self._keep_alive())

    async def close(self) -> None:
        """Stop the keep-alive and close the HTTP client."""
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
            self._keepalive = None
        if self.session_auth is not None:
            await self.session_auth.stop_keepalive()
        await self.http.aclose()

    async def check(self) -> CheckResult:
        """Auth status: reachable, authenticated, and no competing session."""
        started = self.clock.monotonic()
        try:
            status = await self._auth_status()
        except RateLimited:
            raise  # the shared budget is spent, the gateway is not dead: the monitor says "rate limited until T"
        except PorticoError as exc:
            return CheckResult(
                ok=False,
                system=self.system,
                detail=f"gateway not answering: {exc}",
                checks={"reachable": False, "authenticated": False},
            )
        ok = status.authenticated and not status.competing
        detail = (
            "session authenticated"
            if ok
            else (
                "competing session: another login holds this IB user"
                if status.competing
                else "session not authenticated"
            )
        )
        return CheckResult(
            ok=ok,
            system=self.system,
            latency_ms=(self.clock.monotonic() - started) * 1000,
            detail=detail,
            checks={
                "reachable": True,
                "authenticated": status.authenticated,
                "no_competing_session": not status.competing,
            },
        )

    # -- contracts -------------------------------------------------------------------------------

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """``iserver/secdef/search``; exact symbol hits fill the conid cache."""
        try:
            data = await self._call(
                "GET", "iserver/secdef/search", "GET /iserver/secdef/search", params={"symbol": query}
            )
        except VenueRejected as exc:
            if "No symbol found" in str(exc):
                return []
            raise
        items = [self._parse(wire.WebSecdef, item, "secdef/search") for item in data or []]
        for item in items:
            if item.symbol.upper() not in self._conids and any(s.sec_type == "STK" for s in item.sections):
                self._conids[item.symbol.upper()] = int(item.conid)
                self._symbols[int(item.conid)] = item.symbol.upper()
        return [mapping.instrument_from_search(i, system=self.system) for i in items[:limit]]

    async def conid(self, symbol: str) -> int:
        """The contract id of a US stock symbol (cached after the first search)."""
        key = symbol.upper()
        if key not in self._conids:
            await self.search_instruments(key)
        try:
            return self._conids[key]
        except KeyError:
            raise NotFound(f"IB has no stock {key!r}", system=self.system) from None

    # -- account ---------------------------------------------------------------------------------

    async def get_account(self, account_id: str | None = None) -> Account:
        """``portfolio/{acct}/summary``."""
        account = account_id or self.account
        data = await self._call("GET", f"portfolio/{account}/summary", "GET /portfolio/{accountId}/summary")
        tags = {
            "netliquidation": "NetLiquidation",
            "totalcashvalue": "TotalCashValue",
            "buyingpower": "BuyingPower",
            "grosspositionvalue": "GrossPositionValue",
            "initmarginreq": "InitMarginReq",
            "maintmarginreq": "MaintMarginReq",
        }
        values: dict[str, Decimal] = {}
        currency = "USD"
        for key, tag in tags.items():
            entry = (data or {}).get(key)
            if isinstance(entry, dict) and not entry.get("isNull"):
                number = mapping.decimal_or_none(entry.get("amount"))
                if number is not None:
                    values[tag] = number
                currency = entry.get("currency") or currency
        if "TotalCashValue" not in values:
            raise PayloadRejected(f"portfolio summary of {account} has no totalcashvalue", system=self.system)
        assert account is not None
        return mapping.account_from_values(account, values, system=self.system, currency=currency)

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        """Every page of ``portfolio/{acct}/positions/{page}`` (100 per page)."""
        account = account_id or self.account
        out: list[Position] = []
        for page in range(100):
            data = await self._call(
                "GET",
                f"portfolio/{account}/positions/{page}",
                "GET /portfolio/{accountId}/positions/{pageId}",
            )
            items = [self._parse(wire.WebPosition, item, "positions") for item in data or []]
            out += [mapping.position_from_web(i, system=self.system) for i in items if i.position]
            for item in items:
                if item.ticker:
                    self._conids.setdefault(item.ticker.upper(), item.conid)
            if len(items) < 100:
                break
        return out

    # -- orders ----------------------------------------------------------------------------------

    def _confirm(self, question: wire.OrderQuestion) -> bool:
        policy = self.confirm_warnings
        if isinstance(policy, bool):
            return policy
        return all(m in policy for m in question.message_ids)

    async def _answer_questions(self, data: Any, ref: str | None) -> wire.OrderSubmitted:
        """Follow the question/reply flow until the order is accepted or refused."""
        for _ in range(_MAX_QUESTIONS):
            items = data if isinstance(data, list) else [data]
            if isinstance(data, dict) and data.get("error"):
                raise VenueRejected(f"IB refused the order: {data['error']}", system=self.system)
            if not items:
                raise PayloadRejected("IB answered an order with an empty list", system=self.system)
            first = items[0]
            if isinstance(first, dict) and "order_id" in first:
                return self._parse(wire.OrderSubmitted, first, "order")
            if isinstance(first, dict) and first.get("error"):
                raise VenueRejected(f"IB refused the order: {first['error']}", system=self.system)
            question = self._parse(wire.OrderQuestion, first, "order question")
            confirmed = self._confirm(question)
            self.context.emit(
                "order.question", message_ids=question.message_ids, confirmed=confirmed, client_order_id=ref
            )
            if not confirmed:
                # tell IB the answer is no (it then drops the order), whatever it says back
                with contextlib.suppress(VenueRejected):
                    await self._call(
                        "POST",
                        f"iserver/reply/{question.id}",
                        "POST /iserver/reply/{replyId}",
                        json={"confirmed": False},
                    )
                raise VenueRejected(
                    f"order not sent: warning {question.message_ids} was declined by policy: {' '.join(question.message)}",
                    system=self.system,
                    venue_code=",".join(question.message_ids),
                )
            data = await self._call(
                "POST",
                f"iserver/reply/{question.id}",
                "POST /iserver/reply/{replyId}",
                json={"confirmed": True},
                idempotency_key=ref,
            )
        raise VenueRejected(f"IB kept asking questions after {_MAX_QUESTIONS} replies", system=self.system)

    async def place_order(self, request: OrderRequest) -> Order:
        """Place an order (``cOID`` = client order id), answering IB's questions by policy."""
        ref = request.client_order_id
        conid = await self.conid(request.symbol)
        assert self.account is not None
        body = mapping.web_order_body(
            request, conid=conid, account=request.account_id or self.account, system=self.system
        )
        account = body["acctId"]
        try:
            data = await self._call(
                "POST",
                f"iserver/account/{account}/orders",
                "POST /iserver/account/{accountId}/orders",
                json={"orders": [body]},
                idempotency_key=ref,
            )
            submitted = await self._answer_questions(data, ref)
        except OutcomeUnknown as exc:
            if not ref:
                raise
            return await self._resolve(ref, exc)
        except VenueRejected as exc:
            if ref and exc.venue_code == "duplicate_coid":
                # IB already holds an order with this cOID: the earlier attempt (whose answer was lost) went in
                return await self._resolve(ref, None)
            if ref and "reply id not found" in str(exc):
                return await self._resolve(ref, None)
            raise
        if ref:
            self._refs[submitted.order_id] = ref
        self._symbols[conid] = request.symbol.upper()
        status = mapping.canonical_status(submitted.order_status)
        return Order(
            order_id=submitted.order_id,
            client_order_id=ref,
            system=self.system,
            account_id=account,
            symbol=request.symbol.upper(),
            side=request.side,
            order_type=request.order_type,
            time_in_force=request.time_in_force,
            status=status,
            quantity=request.quantity,
            # the reply names the status only; "Filled" means the whole quantity is done
            filled_quantity=request.quantity if status is OrderStatus.FILLED and request.quantity else Decimal(0),
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            created_at=self.clock.now(),
        )

    async def _resolve(self, ref: str, cause: OutcomeUnknown | None) -> Order:
        try:
            return await self.get_order_by_client_id(ref)
        except NotFound:
            raise OutcomeUnknown(
                f"order {ref!r} was sent to IB and is not (yet) among live orders; look it up again before resending",
                system=self.system,
                idempotency_key=ref,
            ) from cause
        except (TransportError, CircuitOpen, PayloadRejected) as exc:
            # the order may be at IB: a failed lookup leaves the outcome unknown, never a plain transport error
            raise OutcomeUnknown(
                f"order {ref!r} was sent to IB, its answer was lost and the lookup failed ({exc.message})",
                system=self.system,
                idempotency_key=ref,
            ) from cause or exc

    async def _live_orders(self) -> list[wire.WebOrder]:
        data = await self._call(
            "GET", "iserver/account/orders", "GET /iserver/account/orders", params={"force": "true"}
        )
        parsed = self._parse(wire.WebOrders, data or {}, "iserver/account/orders")
        for item in parsed.orders:
            if item.order_ref:
                self._refs[str(item.order_id)] = item.order_ref
        return list(parsed.orders)

    async def get_order(self, order_id: str) -> Order:
        """``iserver/account/order/status/{id}``."""
        if not order_id.isdigit():
            raise NotFound(f"no IB order {order_id!r} (IB order ids are numbers)", system=self.system)
        data = await self._call(
            "GET", f"iserver/account/order/status/{order_id}", "GET /iserver/account/order/status/{orderId}"
        )
        item = self._parse(wire.WebOrder, data, "order status")
        order = mapping.order_from_web(item, system=self.system)
        ref = self._refs.get(order_id)
        if ref is None:
            for live in await self._live_orders():
                if str(live.order_id) == order_id:
                    ref = live.order_ref
        return order.model_copy(update={"client_order_id": ref or order.client_order_id})

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        """The live order with ``order_ref`` (cOID) ``client_order_id``."""
        for item in await self._live_orders():
            if item.order_ref == client_order_id:
                return mapping.order_from_web(item, system=self.system)
        raise NotFound(f"IB has no live order with cOID {client_order_id!r}", system=self.system)

    async def list_orders(
        self,
        *,
        status: str = "open",
        symbols: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        """``iserver/account/orders`` (IB lists the current session's orders), newest first."""
        orders = [mapping.order_from_web(i, system=self.system) for i in await self._live_orders()]
        return filter_orders(orders, status=status, symbols=symbols, since=since, until=until, limit=limit)  # type: ignore[arg-type]

    async def cancel_order(self, order_id: str) -> None:
        """``DELETE iserver/account/{acct}/order/{id}``."""
        if not order_id.isdigit():
            raise NotFound(f"no IB order {order_id!r}", system=self.system)
        data = await self._call(
            "DELETE",
            f"iserver/account/{self.account}/order/{order_id}",
            "DELETE /iserver/account/{accountId}/order/{orderId}",
        )
        if isinstance(data, dict) and data.get("error"):
            raise VenueRejected(f"IB refused the cancel: {data['error']}", system=self.system)

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
        """Modify an open order in place (``POST iserver/account/{acct}/order/{id}``)."""
        current = await self.get_order(order_id)
        if current.is_terminal:
            raise VenueRejected(
                f"order {order_id} is {current.status.value}; it cannot be modified", system=self.system
            )
        conid = await self.conid(current.symbol)
        request = OrderRequest(
            symbol=current.symbol,
            side=current.side if current.side is not OrderSide.SELL_SHORT else OrderSide.SELL,
            quantity=quantity if quantity is not None else current.quantity,
            order_type=current.order_type,
            time_in_force=time_in_force or current.time_in_force,
            limit_price=limit_price if limit_price is not None else current.limit_price,
            stop_price=stop_price if stop_price is not None else current.stop_price,
            client_order_id=current.client_order_id,
        )
        assert self.account is not None
        body = mapping.web_order_body(request, conid=conid, account=self.account, system=self.system)
        body.pop("cOID", None)
        data = await self._call(
            "POST",
            f"iserver/account/{self.account}/order/{order_id}",
            "POST /iserver/account/{accountId}/order/{orderId}",
            json=body,
            idempotency_key=current.client_order_id,
        )
        await self._answer_questions(data, current.client_order_id)
        return await self.get_order(order_id)

    async def get_executions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
    ) -> list[Execution]:
        """``iserver/account/trades`` (IB keeps up to 7 days), oldest first."""
        days = 7
        if since is not None:
            days = max(1, min(7, math.ceil((self.clock.now() - since).total_seconds() / 86400)))
        data = await self._call(
            "GET", "iserver/account/trades", "GET /iserver/account/trades", params={"days": days}
        )
        items = [self._parse(wire.WebTrade, item, "trades") for item in data or []]
        out = [mapping.execution_from_web(i, system=self.system) for i in items]
        if since is not None:
            out = [e for e in out if e.executed_at >= since]
        if until is not None:
            out = [e for e in out if e.executed_at <= until]
        if symbol:
            out = [e for e in out if e.symbol == symbol.upper()]
        if order_id:
            out = [e for e in out if e.order_id == order_id]
        out.sort(key=lambda e: e.executed_at)
        return out

    # -- market data -----------------------------------------------------------------------------

    async def _snapshot_rows(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        """Snapshot rows with prices; the first answer for a contract is empty (pre-flight), so ask again."""
        conids = {await self.conid(s): s.upper() for s in symbols}
        rows: dict[str, dict[str, Any]] = {}
        for _attempt in range(6):
            missing = [c for c, s in conids.items() if s not in rows]
            if not missing:
                break
            data = await self._call(
                "GET",
                "iserver/marketdata/snapshot",
                "GET /iserver/marketdata/snapshot",
                params={"conids": ",".join(str(c) for c in missing), "fields": _SNAPSHOT_FIELDS},
            )
            for row in data or []:
                conid = int(row.get("conid", 0) or 0)
                if conid in conids and _PRICE_FIELDS & set(row):
                    rows[conids[conid]] = row
            if len(rows) < len(conids):
                await self.clock.sleep(0.2)
        return rows

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """Snapshot quotes (bid, ask, last, sizes)."""
        rows = await self._snapshot_rows(symbols)
        now = self.clock.now()
        wanted = {s.upper(): s for s in symbols}
        return {wanted[k]: mapping.quote_from_snapshot(wanted[k], row, now=now) for k, row in rows.items()}

    async def get_snapshots(self, symbols: list[str]) -> dict[str, Snapshot]:
        """Snapshot quote, last trade and today's bar so far."""
        rows = await self._snapshot_rows(symbols)
        now = self.clock.now()
        wanted = {s.upper(): s for s in symbols}
        return {wanted[k]: mapping.snapshot_from_web(wanted[k], row, now=now) for k, row in rows.items()}

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
        """``iserver/marketdata/history`` (bars end now, or at ``end``)."""
        _tws, bar, seconds = mapping.BAR_SIZES[interval]
        conid = await self.conid(symbol)
        if start is not None:
            span = (end or self.clock.now()) - start
            count = max(1, int(span.total_seconds() // seconds) + 1)
        else:
            count = limit or 100
        params: dict[str, Any] = {
            "conid": conid,
            "bar": bar,
            "period": web_period(interval, count),
            "outsideRth": "false",
        }
        if end is not None:
            params["startTime"] = end.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")
        data = await self._call(
            "GET", "iserver/marketdata/history", "GET /iserver/marketdata/history", params=params
        )
        history = self._parse(wire.WebHistory, data or {}, "marketdata/history")
        bars = [mapping.bar_from_web(symbol.upper(), b, interval=interval) for b in history.data]
        bars.sort(key=lambda b: b.timestamp)
        if start is not None:
            bars = [b for b in bars if b.timestamp >= start]
        if limit:
            bars = bars[-limit:]
        return bars

    # -- streams ---------------------------------------------------------------------------------

    async def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """``smd`` topics on the gateway WebSocket."""
        from portico.connectors.interactive_brokers.stream import PortalStream

        conids = {await self.conid(s): s for s in symbols}
        stream = PortalStream(self)
        fields = ["31", "84", "85", "86", "88", "7059", "7762", "7741"]
        for conid in conids:
            stream.add(f'smd+{conid}+{{"fields":{_json_list(fields)}}}')
        async with stream:
            async for message in stream:
                topic = str(message.get("topic", ""))
                if not topic.startswith("smd+"):
                    continue
                try:
                    conid = int(topic[4:])
                except ValueError:
                    continue
                if conid in conids and _PRICE_FIELDS & set(message):
                    yield mapping.quote_from_snapshot(conids[conid], message, now=self.clock.now())

    async def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:
        """``sor`` topic; after a reconnect, live orders are polled and changes back-filled first."""
        from portico.connectors.interactive_brokers.stream import PortalStream

        stream = PortalStream(self)
        stream.add("sor+{}")
        seen: dict[str, tuple[str, str]] = {}
        subscribed = False

        def fresh(event: OrderEvent) -> bool:
            key = (event.order.status.value, str(event.order.filled_quantity))
            if seen.get(event.order.order_id) == key:
                return False
            seen[event.order.order_id] = key
            return True

        async with stream:
            async for message in stream:
                if message.get("topic") == "portico.reconnected":
                    for item in await self._live_orders():
                        try:
                            order = mapping.order_from_web(item, system=self.system)
                        except PayloadRejected as exc:
                            self._unreadable_order(item, exc)
                            continue
                        event = OrderEvent(event=mapping.event_name(order.status), order=order,
                                           timestamp=order.updated_at or self.clock.now(), system=self.system,
                                           source="poll")  # fmt: skip
                        if fresh(event):
                            yield event
                    continue
                if message.get("topic") != "sor":
                    continue
                if not subscribed:
                    # the gateway answers a ``sor`` subscription with the live orders (possibly none)
                    subscribed = True
                    self.context.emit("stream.subscribed", stream="order_updates")
                if not message.get("args"):
                    continue
                try:
                    parsed = wire.WebOrderMessage.model_validate(message)
                except ValidationError:
                    self.context.emit("stream.bad_message", severity="warning", topic="sor")
                    continue
                events: list[OrderEvent] = []
                for item in parsed.args:
                    # one order per call: a status IB adds later must not hide the others in the message
                    try:
                        events += mapping.order_event_from_web(
                            parsed.model_copy(update={"args": [item]}), system=self.system, now=self.clock.now()
                        )
                    except PayloadRejected as exc:
                        self._unreadable_order(item, exc)
                for event in events:
                    ref = event.order.client_order_id or self._refs.get(event.order.order_id)
                    event = event.model_copy(
                        update={"order": event.order.model_copy(update={"client_order_id": ref})}
                    )
                    if fresh(event):
                        yield event


    def _unreadable_order(self, item: Any, exc: PayloadRejected) -> None:
        """Report an order update the stream cannot map (a status IB added later...) and carry on: its
        state stays as last known until an update that can be read, or a lookup, says otherwise."""
        status = getattr(item, "status", None)
        self.context.emit(
            "order.unknown_status" if exc.field == "status" else "stream.bad_message",
            severity="warning",
            topic="sor",
            order_id=str(getattr(item, "order_id", "")),
            status=status,
            error=exc.message,
        )


def _json_list(items: list[str]) -> str:
    return "[" + ",".join(f'"{i}"' for i in items) + "]"


def web_period(interval: BarInterval, count: int) -> str:
    """A Client Portal ``period`` covering ``count`` bars, padded for nights, weekends and holidays."""
    seconds = mapping.BAR_SIZES[interval][2]
    if interval is BarInterval.MONTH:
        return f"{min(182, count + 1)}m"
    if interval is BarInterval.WEEK:
        return f"{min(792, count + 1)}w"
    if interval is BarInterval.DAY:
        return f"{min(1000, math.ceil(count * 7 / 5) + 4)}d"
    # intraday: 6.5 session hours a day, five days a week
    sessions = math.ceil(count * seconds / 23400)
    return f"{min(1000, math.ceil(sessions * 7 / 5) + 2)}d"
