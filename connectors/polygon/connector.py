"""The Polygon (Massive) connector: bars, trades, quotes, snapshots, reference data and the stocks stream."""

from __future__ import annotations

import asyncio
import re
import time as _time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from portico.connectors.polygon._aggs import bars_from_page, decode_aggs
from portico.connectors.polygon.client import PolygonClient
from portico.connectors.polygon.mapping import (
    TIMESPANS,
    bars_from_results,
    dividend_from_wire,
    fundamentals_from_details,
    instrument_from_ticker,
    news_from_wire,
    parse,
    quote_from_last,
    quote_from_v3,
    snapshot_from_wire,
    split_from_wire,
    trade_from_last,
    trade_from_v3,
)
from portico.connectors.polygon.spec import (
    END_OF_DAY_PLANS,
    PLAN_FEATURES,
    SPEC,
    PolygonConnection,
    plan_of,
    rate_limit_policy,
)
from portico.connectors.polygon.stream import PolygonStream
from portico.connectors.polygon.wire import WireMarketStatus, WireNews
from portico.errors import NotFound, NotSupported, PayloadRejected, PorticoError, RateLimited
from portico.http import StreamFeed
from portico.models import (
    Bar,
    BarInterval,
    CorporateAction,
    Fundamentals,
    Instrument,
    NewsItem,
    Quote,
    Snapshot,
    Trade,
)
from portico.sdk import CheckResult, Connector, ConnectorContext, RateLimitPolicy

__all__ = ["MarketStatus", "PolygonConnector"]

_NEW_YORK = ZoneInfo("America/New_York")
_CLOSE = time(16, 0)
_TICKER = re.compile(r"^[A-Z][A-Z0-9.\-]{0,11}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTERVAL_SECONDS = {
    BarInterval.MIN_1: 60, BarInterval.MIN_5: 300, BarInterval.MIN_15: 900, BarInterval.MIN_30: 1800,
    BarInterval.HOUR_1: 3600, BarInterval.DAY: 86400, BarInterval.WEEK: 7 * 86400, BarInterval.MONTH: 31 * 86400,
}  # fmt: skip
_DEFAULT_SPAN = {  # how far back bars are asked for when neither start nor limit says
    BarInterval.MIN_1: timedelta(days=5), BarInterval.MIN_5: timedelta(days=10),
    BarInterval.MIN_15: timedelta(days=20), BarInterval.MIN_30: timedelta(days=30),
    BarInterval.HOUR_1: timedelta(days=60), BarInterval.DAY: timedelta(days=365),
    BarInterval.WEEK: timedelta(days=3 * 365), BarInterval.MONTH: timedelta(days=10 * 365),
}  # fmt: skip
_TICK_SPAN = timedelta(days=5)  # trades and quotes without a start
_STREAM_QUEUE = 10_000  # events buffered per stream iterator before the oldest are dropped
_MIN_PLAN = {"snapshots": "starter", "stream": "starter", "trades": "developer", "quotes": "advanced"}


@dataclass(frozen=True)
class MarketStatus:
    """``/v1/marketstatus/now``: ``open``, ``closed`` or ``extended-hours``, per exchange too."""

    market: str
    server_time: datetime
    early_hours: bool
    after_hours: bool
    exchanges: Mapping[str, str] = field(default_factory=dict)


def _ms(when: datetime) -> int:
    return (when.astimezone(UTC) - _EPOCH) // timedelta(milliseconds=1)


def _ns(when: datetime) -> int:
    return ((when.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)) * 1000


class PolygonConnector(Connector):
    """Polygon.io (Massive) as a market data connector.

    ``connection.plan`` names the key's stocks plan: it sets the default throttling (5 calls a minute on
    ``free``) and which calls are refused with :class:`~portico.errors.NotSupported` before they are sent
    (trades need ``developer``, quotes ``advanced``, snapshots and the stream ``starter``). Lists follow
    ``next_url`` up to ``connection.max_pages`` pages. ``limit`` on bars, trades and quotes means the
    latest ``limit`` items of the window, returned oldest first. On the free plan (end-of-day data) bars
    without an ``end`` stop at the last closed session, since the vendor refuses today's before the close.
    """

    spec: ClassVar = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(PolygonConnection)
        self.plan = self.settings.plan
        self._client: PolygonClient | None = None
        self._stream: PolygonStream | None = None

    @classmethod
    def throttling_for(cls, connection: Mapping[str, Any]) -> RateLimitPolicy:
        """The default throttling for a system's ``connection`` (its ``plan``), before ``throttling`` overrides."""
        return rate_limit_policy(plan_of(connection))

    @property
    def client(self) -> PolygonClient:
        """The HTTP client (created on first use)."""
        if self._client is None:
            self._client = PolygonClient(self.context, minute_window=self.plan == "free")
        return self._client

    async def open(self) -> None:
        self.client  # noqa: B018 - build the client (and fail on a missing key) at connect time

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- checks on input and plan ----------------------------------------------------------------

    def _entitled(self, feature: str, what: str) -> None:
        if feature not in PLAN_FEATURES[self.plan]:
            raise NotSupported(
                f"{what} needs at least the Polygon {_MIN_PLAN[feature]} plan; this system's connection.plan is "
                f"{self.plan!r} (set it to the key's plan if the key has more)",
                system=self.system,
            )

    def _ticker(self, symbol: str) -> str:
        if not isinstance(symbol, str):
            raise PayloadRejected(f"a ticker must be text, got {type(symbol).__name__}", system=self.system)
        ticker = symbol.strip().upper()
        if not _TICKER.match(ticker):
            raise PayloadRejected(
                f"{symbol!r} is not a US stock ticker (letters, digits, '.' or '-', at most 12)",
                system=self.system,
                field="symbol",
            )
        return ticker

    def _window(
        self, start: datetime | None, end: datetime | None, limit: int | None
    ) -> tuple[datetime | None, datetime]:
        for name, value in (("start", start), ("end", end)):
            if value is not None and value.tzinfo is None:
                raise PayloadRejected(
                    f"{name} must be timezone-aware, got {value.isoformat()}", system=self.system
                )
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise PayloadRejected(f"limit must be a non-negative integer, got {limit!r}", system=self.system)
        end = end or self.context.clock.now()
        if start is not None and start > end:
            raise PayloadRejected(
                f"start {start.isoformat()} is after end {end.isoformat()}", system=self.system, field="start"
            )
        return start, end

    def _bars_end(self) -> datetime:
        """Now; on an end-of-day plan while a session runs, the end of yesterday (New York)."""
        now = self.context.clock.now()
        if self.plan not in END_OF_DAY_PLANS:
            return now
        local = now.astimezone(_NEW_YORK)
        if local.time() >= _CLOSE:
            return now
        return datetime.combine(local.date(), time(0), _NEW_YORK) - timedelta(microseconds=1)

    # -- health ----------------------------------------------------------------------------------

    async def check(self) -> CheckResult:
        """``GET /v1/marketstatus/now``: reachable and the key accepted.

        On the free plan every call spends one of the minute's five, so the check takes one unit of the
        system's shared budget now or not at all and is never retried; a spent budget is reported as
        ``rate_limited_until``, not as a failure of the venue.
        """
        spec = self.spec.health_check
        assert spec is not None  # declared in the manifest
        started = _time.perf_counter()
        try:
            await self.context.acquire(spec.call, max_wait=0.0)
            # cost 0: the unit was taken just above, from the same shared limiter
            body = await self.client.get("/v1/marketstatus/now", endpoint=spec.call, cost=0.0, retry=False)
            status = parse(WireMarketStatus, body, what="market status")
        except RateLimited as exc:
            until = self.context.clock.now() + timedelta(seconds=exc.retry_after or 60.0)
            return CheckResult(
                ok=False, system=self.system, latency_ms=(_time.perf_counter() - started) * 1000,
                detail=f"rate limited until {until.isoformat()}: {exc.message}",
                checks={"reachable": True, "authenticated": True}, rate_limited_until=until,
            )  # fmt: skip
        except PorticoError as exc:
            return CheckResult(
                ok=False, system=self.system, latency_ms=(_time.perf_counter() - started) * 1000,
                detail=f"{type(exc).__name__}: {exc.message}",
                checks={"reachable": exc.status_code is not None, "authenticated": type(exc).__name__ != "AuthError"},
            )  # fmt: skip
        return CheckResult(
            ok=True, system=self.system, latency_ms=(_time.perf_counter() - started) * 1000,
            detail=f"market {status.market} ({self.plan} plan)", checks={"reachable": True, "authenticated": True},
        )  # fmt: skip

    # -- bars ------------------------------------------------------------------------------------

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
        """Aggregates oldest first; ``adjusted`` asks for split-adjusted prices (the vendor's default is adjusted).

        With ``limit`` the newest bars are asked first (``sort=desc``) and paging stops once there are enough.
        """
        ticker = self._ticker(symbol)
        try:
            interval = BarInterval(interval)
        except ValueError:
            raise PayloadRejected(
                f"{interval!r} is not a bar interval; use one of {[i.value for i in BarInterval]}",
                system=self.system,
            ) from None
        start, end = self._window(start, end if end is not None else self._bars_end(), limit)
        if limit == 0:
            return []
        if start is None:
            span = (
                timedelta(seconds=_INTERVAL_SECONDS[interval] * limit * 2) + timedelta(days=7)
                if limit is not None
                else _DEFAULT_SPAN[interval]
            )
            start = end - span
        multiplier, timespan = TIMESPANS[interval]
        newest_first = limit is not None
        page_size = min(self.settings.page_size, limit) if limit is not None else self.settings.page_size
        params = {"adjusted": adjusted, "sort": "desc" if newest_first else "asc", "limit": page_size}
        path = f"/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{_ms(start)}/{_ms(end)}"
        endpoint = "GET /v2/aggs/ticker/{ticker}/range"
        bars: list[Bar] = []
        async for page in self.client.pages(
            path, params, endpoint=endpoint, max_pages=self.settings.max_pages, decode=decode_aggs
        ):
            bars.extend(bars_from_page(page.get("results"), ticker, interval, adjusted=adjusted))
            if limit is not None and len(bars) >= limit:
                break
        if newest_first:
            bars = bars[:limit]
            bars.reverse()
        return bars

    async def get_previous_close(self, symbol: str, *, adjusted: bool = True) -> Bar:
        """The previous session's daily bar (``/v2/aggs/ticker/{t}/prev``)."""
        ticker = self._ticker(symbol)
        body = await self.client.get(
            f"/v2/aggs/ticker/{ticker}/prev",
            {"adjusted": adjusted},
            endpoint="GET /v2/aggs/ticker/{ticker}/prev",
            decode=decode_aggs,
        )
        bars = bars_from_page(body.get("results"), ticker, BarInterval.DAY, adjusted=adjusted)
        if not bars:
            raise NotFound(f"Polygon has no previous close for {ticker}", system=self.system)
        return bars[0]

    async def get_grouped_daily(self, day: date, *, adjusted: bool = True) -> dict[str, Bar]:
        """Every US stock's daily bar of ``day`` in one call (empty on a day without a session)."""
        if not isinstance(day, date) or isinstance(day, datetime):
            raise PayloadRejected(f"day must be a date, got {day!r}", system=self.system)
        body = await self.client.get(
            f"/v2/aggs/grouped/locale/us/market/stocks/{day.isoformat()}",
            {"adjusted": adjusted},
            endpoint="GET /v2/aggs/grouped/locale/us/market/stocks/{date}",
        )
        out: dict[str, Bar] = {}
        for i, row in enumerate(body.get("results") or []):
            ticker = row.get("T") if isinstance(row, dict) else None
            if not isinstance(ticker, str):
                raise PayloadRejected(f"grouped daily result {i} has no ticker 'T'", system=self.system)
            out[ticker] = bars_from_results([row], ticker, BarInterval.DAY, adjusted=adjusted)[0]
        return out

    # -- trades and quotes -----------------------------------------------------------------------

    async def _ticks(
        self, kind: str, symbol: str, start: datetime | None, end: datetime | None, limit: int | None
    ) -> list[dict[str, Any]]:
        ticker = self._ticker(symbol)
        start, end = self._window(start, end, limit)
        if limit == 0:
            return []
        lower = start or end - _TICK_SPAN
        newest_first = limit is not None
        page_size = min(self.settings.page_size, limit) if limit is not None else self.settings.page_size
        params = {"timestamp.gte": _ns(lower), "timestamp.lte": _ns(end), "order": "desc" if newest_first else "asc",
                  "sort": "timestamp", "limit": page_size}  # fmt: skip
        rows: list[dict[str, Any]] = []
        endpoint = f"GET /v3/{kind}/{{ticker}}"
        async for page in self.client.pages(f"/v3/{kind}/{ticker}", params, endpoint=endpoint,
                                            max_pages=self.settings.max_pages):  # fmt: skip
            rows.extend(page.get("results") or [])
            if limit is not None and len(rows) >= limit:
                break
        if newest_first:
            rows = rows[:limit]
            rows.reverse()
        return rows

    async def get_trades(
        self,
        symbol: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Trade]:
        """``/v3/trades``, oldest first (the last five days when ``start`` is not given)."""
        self._entitled("trades", "trades")
        ticker = self._ticker(symbol)
        return [trade_from_v3(row, ticker) for row in await self._ticks("trades", ticker, start, end, limit)]

    async def get_quotes(
        self,
        symbol: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Quote]:
        """``/v3/quotes`` (the NBBO), oldest first (the last five days when ``start`` is not given)."""
        self._entitled("quotes", "quotes")
        ticker = self._ticker(symbol)
        return [quote_from_v3(row, ticker) for row in await self._ticks("quotes", ticker, start, end, limit)]

    async def get_latest_trades(self, symbols: list[str]) -> dict[str, Trade]:
        """``/v2/last/trade`` for each symbol (one call each, paced by the shared limiter)."""
        self._entitled("trades", "the last trade")
        tickers = [self._ticker(s) for s in symbols]

        async def one(ticker: str) -> Trade:
            body = await self.client.get(f"/v2/last/trade/{ticker}", endpoint="GET /v2/last/trade/{ticker}")
            return trade_from_last(body.get("results") or {})

        return dict(zip(tickers, await asyncio.gather(*(one(t) for t in tickers)), strict=True))

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """``/v2/last/nbbo`` for each symbol (one call each, paced by the shared limiter)."""
        self._entitled("quotes", "the last quote")
        tickers = [self._ticker(s) for s in symbols]

        async def one(ticker: str) -> Quote:
            body = await self.client.get(f"/v2/last/nbbo/{ticker}", endpoint="GET /v2/last/nbbo/{ticker}")
            return quote_from_last(body.get("results") or {})

        return dict(zip(tickers, await asyncio.gather(*(one(t) for t in tickers)), strict=True))

    async def get_snapshots(self, symbols: list[str]) -> dict[str, Snapshot]:
        """One ``/v2/snapshot/.../tickers?tickers=`` call for all symbols.

        Raises:
            NotFound: a symbol the vendor has no snapshot for (it leaves such tickers out of the answer).
        """
        self._entitled("snapshots", "snapshots")
        tickers = [self._ticker(s) for s in symbols]
        if not tickers:
            return {}
        body = await self.client.get(
            "/v2/snapshot/locale/us/markets/stocks/tickers",
            {"tickers": ",".join(tickers)},
            endpoint="GET /v2/snapshot/locale/us/markets/stocks/tickers",
        )
        found = {s.symbol: s for s in (snapshot_from_wire(row) for row in body.get("tickers") or [])}
        missing = [t for t in tickers if t not in found]
        if missing:
            raise NotFound(f"Polygon has no snapshot for {', '.join(missing)}", system=self.system)
        return {t: found[t] for t in tickers}

    # -- reference -------------------------------------------------------------------------------

    async def list_tickers(self, *, search: str | None = None, ticker_type: str | None = None,
                           limit: int = 100) -> list[Instrument]:  # fmt: skip
        """``/v3/reference/tickers`` (active US stocks), following ``next_url`` until ``limit``."""
        if limit < 1:
            raise PayloadRejected(f"limit must be at least 1, got {limit}", system=self.system)
        params = {
            "market": "stocks",
            "active": True,
            "search": search,
            "type": ticker_type,
            "limit": min(limit, 1000),
        }
        out: list[Instrument] = []
        async for page in self.client.pages("/v3/reference/tickers", params, endpoint="GET /v3/reference/tickers",
                                            max_pages=self.settings.max_pages):  # fmt: skip
            out.extend(instrument_from_ticker(row) for row in page.get("results") or [])
            if len(out) >= limit:
                break
        return out[:limit]

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """Tickers whose symbol or name contains ``query``, best match first (the vendor ranks them)."""
        if not isinstance(query, str) or not query.strip():
            raise PayloadRejected("a search needs some text", system=self.system, field="query")
        return await self.list_tickers(search=query.strip(), limit=limit)

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """Ticker details: name, description, primary exchange, industry, market cap, shares outstanding."""
        if statements:
            raise NotSupported(
                "the polygon connector reads ticker details only; financial statements are not mapped",
                system=self.system,
            )
        ticker = self._ticker(symbol)
        body = await self.client.get(
            f"/v3/reference/tickers/{ticker}", endpoint="GET /v3/reference/tickers/{ticker}"
        )
        return fundamentals_from_details(body.get("results") or {})

    async def get_corporate_actions(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[CorporateAction]:
        """Dividends and splits with ex date in ``[start, end]`` (default: the last five years), by ex date."""
        ticker = self._ticker(symbol)
        start, end = self._window(start, end, None)
        first = (start or end - timedelta(days=5 * 365)).date().isoformat()
        last = end.date().isoformat()
        actions: list[CorporateAction] = []
        dividends = {"ticker": ticker, "ex_dividend_date.gte": first, "ex_dividend_date.lte": last,
                     "order": "asc", "sort": "ex_dividend_date", "limit": 1000}  # fmt: skip
        async for page in self.client.pages("/v3/reference/dividends", dividends,
                                            endpoint="GET /v3/reference/dividends", max_pages=self.settings.max_pages):  # fmt: skip
            actions.extend(dividend_from_wire(row) for row in page.get("results") or [])
        splits = {"ticker": ticker, "execution_date.gte": first, "execution_date.lte": last, "order": "asc",
                  "limit": 1000}  # fmt: skip
        async for page in self.client.pages("/v3/reference/splits", splits, endpoint="GET /v3/reference/splits",
                                            max_pages=self.settings.max_pages):  # fmt: skip
            actions.extend(split_from_wire(row) for row in page.get("results") or [])
        return sorted(actions, key=lambda a: (a.ex_date, a.action_type.value))

    async def get_news(
        self,
        symbols: list[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[NewsItem]:
        """``/v2/reference/news``, newest first (one ticker per request: the vendor filters by one), at
        most ``limit`` (default 10) articles, each once; per-ticker sentiment words from ``insights``."""
        wanted = 10 if limit is None else limit
        if wanted < 1:
            raise PayloadRejected(f"limit must be at least 1, got {wanted}", system=self.system)
        base: dict[str, Any] = {"order": "desc", "sort": "published_utc", "limit": min(wanted, 1000)}
        if start is not None:
            self._window(start, None, None)
            base["published_utc.gte"] = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if end is not None:
            base["published_utc.lte"] = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        tickers: list[str | None] = [self._ticker(s) for s in symbols] if symbols else [None]
        found: dict[str, NewsItem] = {}
        for ticker in tickers:
            params = dict(base) if ticker is None else {**base, "ticker": ticker}
            taken = 0
            async for page in self.client.pages("/v2/reference/news", params, endpoint="GET /v2/reference/news",
                                                max_pages=self.settings.max_pages):  # fmt: skip
                for row in page.get("results") or []:
                    item = news_from_wire(parse(WireNews, row, what="news article"), system=self.system)
                    found.setdefault(item.key, item)
                    taken += 1
                if taken >= wanted:
                    break
        items = sorted(found.values(), key=lambda i: i.published_at, reverse=True)
        return items[:wanted]

    async def get_market_status(self) -> MarketStatus:
        """Whether US markets are open now (``/v1/marketstatus/now``)."""
        body = await self.client.get("/v1/marketstatus/now", endpoint="GET /v1/marketstatus/now")
        wire = parse(WireMarketStatus, body, what="market status")
        return MarketStatus(
            market=wire.market, server_time=datetime.fromisoformat(wire.server_time), early_hours=wire.early_hours,
            after_hours=wire.after_hours, exchanges=dict(wire.exchanges),
        )  # fmt: skip

    # -- streams ---------------------------------------------------------------------------------

    def _market_stream(self) -> PolygonStream:
        self._entitled("stream", "the WebSocket stream")
        if self._stream is None:
            key = "delayed_stream" if self.settings.feed == "delayed" else "stream"
            self._stream = PolygonStream(
                self.context.url(key),
                system=self.system,
                api_key=self.context.secret("api_key"),
                clock=self.context.clock,
                emit=self.context.emit,
                ws_options={"queue_size": 64},
            )
        return self._stream

    def _subscribe(self, channel: str, symbols: list[str]) -> StreamFeed[Any]:
        # the iterator joins the shared connection when first read (a plan check or a bad ticker fails
        # there, as an error of the iteration) and leaves it when closed
        async def start(feed: StreamFeed[Any]) -> None:
            tickers = [self._ticker(s) for s in symbols]
            await self._market_stream().join(feed, channel, tickers)

        async def stop(feed: StreamFeed[Any]) -> None:
            if self._stream is not None:
                await self._stream.leave(feed)

        return StreamFeed(start=start, stop=stop, size=_STREAM_QUEUE)

    def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        return self._subscribe("Q", symbols)

    def subscribe_trades(self, symbols: list[str]) -> AsyncIterator[Trade]:
        return self._subscribe("T", symbols)

    def subscribe_bars(self, symbols: list[str]) -> AsyncIterator[Bar]:
        return self._subscribe("AM", symbols)
