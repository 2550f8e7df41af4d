"""The Alpaca connector: every declared capability on portico's canonical models."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from portico.connectors.alpaca._news_stream import NewsStream, news_stream_url
from portico.connectors.alpaca.client import AlpacaClient, alpaca_error_mapper, rfc3339
from portico.connectors.alpaca.mapping import (
    CASH_ACTIVITY_TYPES,
    TIMEFRAMES,
    account_from_wire,
    action_from_announcement,
    bar_from_wire,
    cash_movement_from_activity,
    execution_from_activity,
    instrument_from_wire,
    news_from_wire,
    order_from_wire,
    order_request_to_wire,
    parse,
    position_from_wire,
    quote_from_wire,
    snapshot_from_wire,
    trade_from_wire,
)
from portico.connectors.alpaca.spec import SPEC, AlpacaConnection
from portico.connectors.alpaca.stream import MarketDataStream, OrderUpdateStream
from portico.connectors.alpaca.wire import (
    WireAccount,
    WireActivity,
    WireAnnouncement,
    WireAsset,
    WireBar,
    WireNews,
    WireNonTradeActivity,
    WireOrder,
    WirePosition,
    WireQuote,
    WireSnapshot,
    WireTrade,
)
from portico.errors import (
    CircuitOpen,
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    PayloadRejected,
    ServerError,
    TransportError,
    VenueRejected,
)
from portico.http import StreamFeed
from portico.models import (
    Account,
    Bar,
    BarInterval,
    CashMovement,
    CorporateAction,
    Execution,
    Instrument,
    NewsItem,
    Order,
    OrderEvent,
    OrderRequest,
    Position,
    Quote,
    Snapshot,
    TimeInForce,
    Trade,
)
from portico.sdk import Capability, Connector, ConnectorContext, ConnectorSpec, OrderStatusFilter

__all__ = ["AlpacaConnector"]

_MAX_SENDS = 5
"""How many times one placement may be sent when the venue provably never received it."""
_STREAM_QUEUE = 10_000  # market data messages buffered per stream iterator before the oldest are dropped
_PAGE = 10_000
_ORDER_PAGE = 500
_SYMBOLS_PER_CALL = 100
_KEY_NAMES = ("api_key_id", "api_key", "key_id")
_SECRET_NAMES = ("api_secret_key", "secret_key", "api_secret", "secret")
_TOKEN_NAMES = ("token", "oauth_token", "access_token")
_INTERVAL_SPAN = {
    BarInterval.MIN_1: timedelta(minutes=1),
    BarInterval.MIN_5: timedelta(minutes=5),
    BarInterval.MIN_15: timedelta(minutes=15),
    BarInterval.MIN_30: timedelta(minutes=30),
    BarInterval.HOUR_1: timedelta(hours=1),
    BarInterval.DAY: timedelta(days=1),
    BarInterval.WEEK: timedelta(weeks=1),
    BarInterval.MONTH: timedelta(days=31),
}


def _chunks(symbols: list[str], size: int) -> list[list[str]]:
    unique = list(dict.fromkeys(s.upper() for s in symbols))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


class AlpacaConnector(Connector):
    """Alpaca: brokerage (Trading API v2) and market data (Market Data API v2, stocks).

    Placement is idempotent on ``client_order_id``: an order whose answer is lost is looked up by its
    client order id before anything else; it is sent again only when Alpaca provably never received it,
    and reported as :class:`~portico.errors.OutcomeUnknown` (never as rejected) while that cannot be told.

    Connection options: ``feed`` (``iex`` by default, or ``sip``) and ``backfill_limit``.
    """

    spec: ClassVar[ConnectorSpec] = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._client: AlpacaClient | None = None
        self._assets: list[Instrument] | None = None
        self._market: MarketDataStream | None = None
        self._account_id: str | None = None
        settings = context.settings_as(AlpacaConnection)
        self.feed: str = settings.feed
        self.backfill_limit = settings.backfill_limit

    # -- lifecycle -------------------------------------------------------------------------------

    def _credential(self, names: tuple[str, ...]) -> str | None:
        for name in names:
            if name in self.context.credentials:
                return self.context.secret(name)
        return None

    def _overrides(self) -> dict[str, Any]:
        overrides: dict[str, Any] = {"error_mapper": alpaca_error_mapper, "idempotency_header": None}
        if self.context.auth is None:
            # no AuthenticationManager flow (a bare test context): send the key pair or token ourselves
            key, secret = self._credential(_KEY_NAMES), self._credential(_SECRET_NAMES)
            token = self._credential(_TOKEN_NAMES)
            if key and secret:
                overrides["headers"] = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}
            elif token:
                overrides["headers"] = {"Authorization": f"Bearer {token}"}
        return overrides

    async def open(self) -> None:
        """Create the Trading and Market Data API clients."""
        if self._client is None:
            overrides = self._overrides()
            self._client = AlpacaClient(
                self.context.api_client("trading", **overrides), self.context.api_client("data", **overrides)
            )

    async def close(self) -> None:
        """Close the API clients."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> AlpacaClient:
        """The REST client (opened on first use)."""
        if self._client is None:
            overrides = self._overrides()
            self._client = AlpacaClient(
                self.context.api_client("trading", **overrides), self.context.api_client("data", **overrides)
            )
        return self._client

    # -- account and positions -------------------------------------------------------------------

    async def get_account(self, account_id: str | None = None) -> Account:
        data = await self.client.get_account()
        account = account_from_wire(parse(WireAccount, data, what="account", system=self.system), system=self.system)
        self._account_id = account.account_id
        return account

    async def _account(self) -> str:
        """The id of the account the API key trades (read once from ``GET /v2/account``).

        Alpaca's positions, fill activities and trade updates do not name the account (a key trades
        exactly one), so the connector stamps this id on them: the book and the broker's report then
        agree on which account a holding or a fill belongs to.
        """
        if self._account_id is None:
            await self.get_account()
        assert self._account_id is not None
        return self._account_id

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        data = await self.client.list_positions()
        account = await self._account()
        return [
            position_from_wire(
                parse(WirePosition, item, what="position", system=self.system), system=self.system, account_id=account
            )
            for item in self._list(data, "GET /v2/positions")
        ]

    def _list(self, data: Any, what: str) -> list[Any]:
        if not isinstance(data, list):
            raise PayloadRejected(f"{what} did not answer a list", system=self.system, request=what)
        return data

    def _order(self, data: Any) -> Order:
        return order_from_wire(
            parse(WireOrder, data, what="order", system=self.system), system=self.system, account_id=self._account_id
        )

    # -- orders ----------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        client_order_id = request.client_order_id or uuid.uuid4().hex
        body = order_request_to_wire(request, client_order_id)
        for _ in range(_MAX_SENDS):
            try:
                data = await self.client.submit_order(body)
                return self._order(data)
            except (OutcomeUnknown, ServerError, PayloadRejected, ValueError) as exc:
                # sent, answer lost or unreadable: the venue may hold the order; find out before anything else
                found = await self._resolve_placement(client_order_id, exc)
            except VenueRejected as exc:
                if exc.status_code != 422 or "unique" not in exc.message.lower():
                    raise
                # "client_order_id must be unique": an earlier send did arrive
                found = await self._resolve_placement(client_order_id, exc)
                if found is None:
                    raise
            if found is not None:
                return found
            self.context.emit("order.resent", client_order_id=client_order_id)
        raise OutcomeUnknown(
            f"order {client_order_id} could not be confirmed after {_MAX_SENDS} sends",
            idempotency_key=client_order_id,
            system=self.system,
        )

    async def _resolve_placement(self, client_order_id: str, cause: BaseException) -> Order | None:
        """The order placed under ``client_order_id``, or None when Alpaca provably never received it.

        Raises:
            OutcomeUnknown: the lookup itself failed, so the outcome stays unknown.
        """
        try:
            return await self.get_order_by_client_id(client_order_id)
        except NotFound:
            return None
        except (TransportError, CircuitOpen, OutcomeUnknown, PayloadRejected) as exc:
            raise OutcomeUnknown(
                f"order {client_order_id} was sent, its answer was lost and the lookup failed ({exc.message})",
                idempotency_key=client_order_id,
                system=self.system,
            ) from cause

    async def cancel_order(self, order_id: str) -> None:
        await self.client.cancel_order(order_id)

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
        body: dict[str, Any] = {}
        for key, value in (("qty", quantity), ("limit_price", limit_price), ("stop_price", stop_price)):
            if value is not None:
                body[key] = format(value, "f")
        if time_in_force is not None:
            body["time_in_force"] = time_in_force.value
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        if not body:
            raise PayloadRejected("replace_order needs at least one field to change", system=self.system)
        try:
            return self._order(await self.client.replace_order(order_id, body))
        except (OutcomeUnknown, ServerError) as exc:
            # a replacement shows as replaced_by on the old order: look before telling anyone it failed
            old = await self.get_order(order_id)
            if old.replaced_by:
                return await self.get_order(old.replaced_by)
            raise OutcomeUnknown(
                f"replacement of {order_id} is not confirmed ({exc.message})", idempotency_key=client_order_id, system=self.system
            ) from exc

    async def get_order(self, order_id: str) -> Order:
        return self._order(await self.client.get_order(order_id))

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        return self._order(await self.client.get_order_by_client_id(client_order_id))

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
        wanted = limit if limit is not None else 10_000
        out: list[Order] = []
        before = until
        while len(out) < wanted:
            params: dict[str, Any] = {"status": status, "direction": "desc", "limit": min(_ORDER_PAGE, wanted - len(out))}
            if symbols:
                params["symbols"] = ",".join(s.upper() for s in symbols)
            if since is not None:
                params["after"] = rfc3339(since)
            if before is not None:
                params["until"] = rfc3339(before)
            page = [self._order(item) for item in self._list(await self.client.list_orders(params), "GET /v2/orders")]
            known = {x.order_id for x in out}
            fresh = [o for o in page if o.order_id not in known]
            out.extend(fresh)
            if len(page) < params["limit"] or not fresh or page[-1].created_at is None:
                break
            # "until" excludes its own instant: step just past the oldest so orders sharing its
            # timestamp are read again (and dropped as repeats) rather than skipped
            before = page[-1].created_at + timedelta(microseconds=1)
        return out[:wanted]

    async def get_executions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
    ) -> list[Execution]:
        params: dict[str, Any] = {"direction": "asc", "page_size": 100}
        if since is not None:
            params["after"] = rfc3339(since)
        if until is not None:
            params["until"] = rfc3339(until)
        out: list[Execution] = []
        account = await self._account()
        while True:
            page = self._list(await self.client.activities(params), "GET /v2/account/activities/FILL")
            for item in page:
                wire = parse(WireActivity, item, what="activity", system=self.system)
                if (symbol is None or wire.symbol == symbol.upper()) and (order_id is None or wire.order_id == order_id):
                    out.append(execution_from_activity(wire, system=self.system, account_id=account))
            if len(page) < params["page_size"]:
                return out
            params["page_token"] = page[-1]["id"]

    # -- cash movements and corporate actions --------------------------------------------------

    async def get_cash_movements(
        self,
        account_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CashMovement]:
        """Cash activities (dividends, deposits, withdrawals, interest, fees, journals), oldest first,
        paged by ``page_token``; ``since``/``until`` bound the value date."""
        params: dict[str, Any] = {
            "activity_types": ",".join(CASH_ACTIVITY_TYPES),
            "direction": "asc",
            "page_size": 100,
        }
        if since is not None:
            params["after"] = rfc3339(since)
        if until is not None:
            params["until"] = rfc3339(until)
        account = await self._account()
        currency = (await self.get_account()).currency
        out: list[CashMovement] = []
        while True:
            page = self._list(await self.client.account_activities(params), "GET /v2/account/activities")
            for item in page:
                wire = parse(WireNonTradeActivity, item, what="activity", system=self.system)
                out.append(
                    cash_movement_from_activity(
                        wire, system=self.system, account_id=account, currency=currency
                    )
                )
            if len(page) < params["page_size"]:
                break
            params["page_token"] = page[-1]["id"]
        out.sort(key=lambda m: (m.date, m.movement_id))
        return out

    async def get_corporate_actions(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[CorporateAction]:
        """Dividend and split announcements by ex date, oldest first, asked in windows of 90 days (the
        vendor's limit); without ``start`` the last year, without ``end`` up to 90 days ahead."""
        now = self.context.clock.now()
        first = (start or now - timedelta(days=365)).date()
        last = (end or now + timedelta(days=90)).date()
        out: list[CorporateAction] = []
        while first <= last:
            stop = min(last, first + timedelta(days=90))
            params = {"ca_types": "dividend,split", "since": first.isoformat(), "until": stop.isoformat(),
                      "symbol": symbol.strip().upper(), "date_type": "ex_date"}  # fmt: skip
            data = self._list(
                await self.client.announcements(params), "GET /v2/corporate_actions/announcements"
            )
            for item in data:
                action = action_from_announcement(
                    parse(WireAnnouncement, item, what="announcement", system=self.system), system=self.system
                )
                if action is not None and first <= action.ex_date <= stop:
                    out.append(action)
            first = stop + timedelta(days=1)
        unique = {a.key: a for a in out}
        return sorted(unique.values(), key=lambda a: (a.ex_date, a.action_type.value))

    async def get_news(
        self,
        symbols: list[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[NewsItem]:
        """``/v1beta1/news`` newest first, paged by ``next_page_token`` until ``limit`` (default 50)."""
        wanted = limit or 50
        params: dict[str, Any] = {"sort": "desc"}
        if symbols:
            params["symbols"] = ",".join(s.strip().upper() for s in symbols)
        if start is not None:
            params["start"] = rfc3339(start)
        if end is not None:
            params["end"] = rfc3339(end)
        out: list[NewsItem] = []
        while len(out) < wanted:
            data = await self.client.market_data(
                "/v1beta1/news", {**params, "limit": min(50, wanted - len(out))}
            )
            if not isinstance(data, dict) or not isinstance(data.get("news"), list):
                raise PayloadRejected("GET /v1beta1/news did not answer a news list", system=self.system)
            out.extend(
                news_from_wire(parse(WireNews, item, what="news", system=self.system), system=self.system)
                for item in data["news"]
            )
            token = data.get("next_page_token")
            if not token or not data["news"]:
                break
            params["page_token"] = token
        return out[:wanted]

    # -- market data -----------------------------------------------------------------------------

    async def _paged(self, path: str, key: str, symbol: str, params: dict[str, Any], limit: int | None) -> list[Any]:
        """Follow ``next_page_token`` until ``limit`` items (or the end) for one symbol."""
        items: list[Any] = []
        params = {**params, "symbols": symbol, "feed": self.feed}
        token: str | None = None
        while True:
            page_size = _PAGE if limit is None else min(_PAGE, limit - len(items))
            if page_size <= 0:
                return items
            query = {**params, "limit": page_size}
            if token:
                query["page_token"] = token
            data = await self.client.market_data(path, query)
            if not isinstance(data, dict):
                raise PayloadRejected(f"GET {path} did not answer an object", system=self.system)
            block = data.get(key) or {}
            items.extend(block.get(symbol, []) if isinstance(block, dict) else block)
            token = data.get("next_page_token")
            if not token:
                return items

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
        if interval not in TIMEFRAMES:
            raise NotSupported(f"Alpaca has no {interval.value} bars", capability=Capability.GET_BARS.value, system=self.system)
        symbol = symbol.upper()
        params: dict[str, Any] = {"timeframe": TIMEFRAMES[interval], "adjustment": "all" if adjusted else "raw"}
        newest_first = start is None and limit is not None
        if start is None:
            # "the latest N bars": look back far enough for N bars through nights and weekends
            span = _INTERVAL_SPAN[interval] * (limit or 1000)
            if interval in (BarInterval.MIN_1, BarInterval.MIN_5, BarInterval.MIN_15, BarInterval.MIN_30, BarInterval.HOUR_1):
                span = span * 4 + timedelta(days=4)
            else:
                span = span * 2 + timedelta(days=7)
            start = (end or self.context.clock.now()) - span
        params["start"] = rfc3339(start)
        if end is not None:
            params["end"] = rfc3339(end)
        if newest_first:
            params["sort"] = "desc"
        raw = await self._paged("/v2/stocks/bars", "bars", symbol, params, limit)
        bars = [bar_from_wire(parse(WireBar, item, what="bar", system=self.system), symbol, interval) for item in raw]
        return sorted(bars, key=lambda b: b.timestamp)

    async def get_quotes(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None, limit: int | None = None
    ) -> list[Quote]:
        symbol = symbol.upper()
        params = {k: rfc3339(v) for k, v in (("start", start), ("end", end)) if v is not None}
        raw = await self._paged("/v2/stocks/quotes", "quotes", symbol, params, limit or 1000)
        return [quote_from_wire(parse(WireQuote, item, what="quote", system=self.system), symbol) for item in raw]

    async def get_trades(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        symbol = symbol.upper()
        params = {k: rfc3339(v) for k, v in (("start", start), ("end", end)) if v is not None}
        raw = await self._paged("/v2/stocks/trades", "trades", symbol, params, limit or 1000)
        return [trade_from_wire(parse(WireTrade, item, what="trade", system=self.system), symbol) for item in raw]

    async def _latest(self, path: str, key: str, symbols: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for chunk in _chunks(symbols, _SYMBOLS_PER_CALL):
            data = await self.client.market_data(path, {"symbols": ",".join(chunk), "feed": self.feed})
            block = data.get(key) if key and isinstance(data, dict) else data
            if not isinstance(block, dict):
                raise PayloadRejected(f"GET {path} did not answer an object keyed by symbol", system=self.system)
            out.update(block)
        return out

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        found = await self._latest("/v2/stocks/quotes/latest", "quotes", symbols)
        return {s: quote_from_wire(parse(WireQuote, q, what="quote", system=self.system), s) for s, q in found.items()}

    async def get_latest_trades(self, symbols: list[str]) -> dict[str, Trade]:
        found = await self._latest("/v2/stocks/trades/latest", "trades", symbols)
        return {s: trade_from_wire(parse(WireTrade, t, what="trade", system=self.system), s) for s, t in found.items()}

    async def get_snapshots(self, symbols: list[str]) -> dict[str, Snapshot]:
        found = await self._latest("/v2/stocks/snapshots", "", symbols)
        return {
            s: snapshot_from_wire(parse(WireSnapshot, snap, what="snapshot", system=self.system), s)
            for s, snap in found.items()
            if isinstance(snap, dict)
        }

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """Emulated over the asset list (read once per connector): exact symbol, then symbol prefix, then name."""
        if self._assets is None:
            data = await self.client.list_assets({"status": "active"})
            self._assets = [
                instrument_from_wire(parse(WireAsset, a, what="asset", system=self.system), system=self.spec.name)
                for a in self._list(data, "GET /v2/assets")
            ]
        needle = query.strip().upper()
        if not needle:
            return []

        def rank(instrument: Instrument) -> int | None:
            if instrument.symbol == needle:
                return 0
            if instrument.symbol.startswith(needle):
                return 1
            if instrument.name and needle in instrument.name.upper():
                return 2
            return None

        ranked = sorted(((r, i.symbol, i) for i in self._assets if (r := rank(i)) is not None), key=lambda t: (t[0], t[1]))
        return [i for _, _, i in ranked[:limit]]

    # -- streams ---------------------------------------------------------------------------------

    def _market_stream(self) -> MarketDataStream:
        if self._market is not None:
            return self._market
        key, secret = self._credential(_KEY_NAMES), self._credential(_SECRET_NAMES)
        if not key or not secret:
            raise ConfigurationError(
                "the Alpaca market data stream needs the api_key_id / api_secret_key credentials", system=self.system
            )
        self._market = MarketDataStream(
            f"{self.context.url('data_stream').rstrip('/')}/{self.feed}",
            system=self.system,
            key_id=key,
            secret_key=secret,
            clock=self.context.clock,
            emit=self.context.emit,
            # each frame carries many messages: a short frame queue keeps the reader close to the
            # consumer and back-pressures the socket instead of decoding far ahead
            ws_options={"queue_size": 32},
        )
        return self._market

    def _subscribe(self, kind: str, symbols: list[str]) -> StreamFeed[Any]:
        # the iterator joins the shared connection when first read (missing credentials fail there, as
        # an error of the iteration) and leaves it when closed
        async def start(feed: StreamFeed[Any]) -> None:
            await self._market_stream().join(feed, kind, symbols)

        async def stop(feed: StreamFeed[Any]) -> None:
            if self._market is not None:
                await self._market.leave(feed)

        return StreamFeed(start=start, stop=stop, size=_STREAM_QUEUE)

    def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return self._subscribe("quotes", symbols)

    def subscribe_trades(self, symbols: list[str]) -> AsyncIterator[Trade]:
        return self._subscribe("trades", symbols)

    def subscribe_bars(self, symbols: list[str]) -> AsyncIterator[Bar]:
        return self._subscribe("bars", symbols)

    async def subscribe_news(self, symbols: list[str]) -> AsyncIterator[NewsItem]:  # type: ignore[override]
        """Live articles about ``symbols`` (``["*"]``: all) from the news stream, one connection per
        iterator; after a reconnect the articles missed meanwhile are read back by REST first, and an
        article is delivered once even when a reconnect repeats it."""
        key, secret = self._credential(_KEY_NAMES), self._credential(_SECRET_NAMES)
        if not key or not secret:
            raise ConfigurationError(
                "the Alpaca news stream needs the api_key_id / api_secret_key credentials", system=self.system
            )
        stream = NewsStream(
            news_stream_url(self.context.url),
            symbols,
            system=self.system,
            key_id=key,
            secret_key=secret,
            clock=self.context.clock,
            emit=self.context.emit,
            backfill=lambda wanted, since: self.get_news(wanted, start=since, limit=500),
        )
        async with contextlib.aclosing(stream.items()) as items:
            async for item in items:
                yield item

    async def _backfill(self, since: datetime | None) -> list[Order]:
        orders = await self.list_orders(status="all", limit=self.backfill_limit)
        if since is not None:
            orders = [o for o in orders if (o.updated_at or o.created_at or since) >= since]
        return sorted(orders, key=lambda o: (o.updated_at or o.created_at or self.context.clock.now()))

    async def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:  # type: ignore[override]
        key, secret = self._credential(_KEY_NAMES), self._credential(_SECRET_NAMES)
        token = self._credential(_TOKEN_NAMES)
        if key and secret:
            credentials = {"key_id": key, "secret_key": secret}
        elif token:
            credentials = {"oauth_token": token}
        else:
            raise ConfigurationError("the Alpaca trade updates stream needs credentials", system=self.system)
        stream = OrderUpdateStream(
            self.context.url("stream"),
            system=self.system,
            credentials=credentials,
            backfill=self._backfill,
            clock=self.context.clock,
            emit=self.context.emit,
            account_id=await self._account(),
        )
        async with contextlib.aclosing(stream.events()) as events:
            async for event in events:
                yield event
