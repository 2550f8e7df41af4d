"""The Polygon (Massive) mock: the stocks REST API in the vendor's JSON envelopes, keys, plans and errors.

Routes (as ``massive.RESTClient`` builds them):

* aggregates ``/v2/aggs/ticker/{t}/range/{multiplier}/{timespan}/{from}/{to}`` (second .. year, ``adjusted``,
  ``sort``, ``limit`` <= 50000, ``next_url`` paging), grouped daily ``/v2/aggs/grouped/locale/us/market/stocks/{date}``,
  previous close ``/v2/aggs/ticker/{t}/prev``
* ``/v3/trades/{t}``, ``/v3/quotes/{t}`` (``timestamp`` and ``timestamp.gte|gt|lte|lt``, ``order``, ``limit``,
  paged), ``/v2/last/trade/{t}``, ``/v2/last/nbbo/{t}``
* snapshots ``/v2/snapshot/locale/us/markets/stocks/tickers`` (``tickers=A,B``) and ``.../tickers/{t}``
* reference ``/v3/reference/tickers`` (paged), ``/v3/reference/tickers/{t}``, ``/v3/reference/dividends``,
  ``/v3/reference/splits``, ``/v2/reference/news``, ``/v1/marketstatus/now``

Every answer carries ``status`` and ``request_id``; lists carry ``results``, ``count`` or ``resultsCount``
and ``next_url`` while more pages remain. ``next_url`` is an absolute URL on the host the request came to,
with a ``cursor`` holding the rest of the query (never the API key): clients re-send their key with it.
The key is accepted as the ``apiKey`` query parameter or an ``Authorization: Bearer`` header. Errors:
401 ``{"status": "ERROR", "error": ...}`` without a key, 403 ``NOT_AUTHORIZED`` outside the key's plan,
404 ``NOT_FOUND``, 400 ``ERROR`` for bad parameters and 429 over the free plan's 5 calls a minute.

Admin: ``GET|POST /__mock__/polygon/keys/{key}`` (a key's plan and usage; POST ``{"plan": "free"}`` moves it).
The kit's HTTP faults, journal and clock endpoints apply as on every mock.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from portico.mocks._kit import (
    NEW_YORK,
    BarData,
    MarketDataGenerator,
    MockApp,
    MockClock,
    MockFaultSource,
    QuoteData,
    TradeData,
    is_trading_day,
    json_response,
    session_bounds,
)
from portico.mocks._kit._faults import FaultRule
from portico.mocks.polygon._plans import DEFAULT_PLANS, Plan, PlanBook
from portico.mocks.polygon._stream import PolygonStream
from portico.mocks.polygon._universe import DEFAULT_TICKERS, EXCHANGE_IDS, TickerInfo, ticker_info
from portico.mocks.polygon._wire import (
    PolygonRefusal,
    agg_row,
    article,
    combine,
    day_end,
    day_start,
    decode_cursor,
    digest,
    encode_cursor,
    group_bars,
    local_day,
    matches,
    parse_bound,
    parse_limit,
    parse_order,
    quote_row,
    to_ms,
    to_ns,
    trade_row,
)

__all__ = ["EXCHANGE_IDS", "TIMESPANS", "PolygonMock", "create_app"]

PRICING = "https://massive.com/pricing"
TIMESPANS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")
_MAX_LIMIT = 50000
_TRADE_STEP = 7.0  # seconds between the generator's prints
_QUOTE_STEP = 5.0
_DIVIDEND_SORTS = ("ex_dividend_date", "pay_date", "declaration_date", "record_date", "cash_amount", "ticker")
_LOOKBACK_DAYS = 30  # how far back a trades/quotes query without a lower bound looks


_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class _Route:
    feature: str
    handler: Callable[[PolygonMock, Request, dict[str, str]], dict[str, Any]]


class PolygonMock:
    """The mock's state: generator, tickers, plans per API key and the clock.

    Args:
        seed: the data seed.
        clock: the mock's clock.
        symbols: extra tickers the mock knows.
        key_plans: plan name per API key (``{"free-key": "free"}``); other keys are on ``default_plan``.
        default_plan: the plan of unlisted keys (``advanced``: everything, no call limit).
        plans: plan definitions overriding or extending the defaults.
        known_keys_only: answer 401 ``Unknown API Key`` for keys not in ``key_plans``.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        clock: MockClock | None = None,
        symbols: Iterable[str] = (),
        key_plans: Mapping[str, str] | None = None,
        default_plan: str = "advanced",
        plans: Mapping[str, Plan] | None = None,
        known_keys_only: bool = False,
    ) -> None:
        self.seed = seed
        self.clock = clock or MockClock()
        self.generator = MarketDataGenerator(seed)
        self.tickers: dict[str, TickerInfo] = {t.ticker: t for t in DEFAULT_TICKERS}
        for symbol in symbols:
            self.tickers.setdefault(symbol.upper(), ticker_info(symbol))
        self.plans = PlanBook(
            {**DEFAULT_PLANS, **(plans or {})},
            dict(key_plans or {}),
            default_plan,
            known_keys_only=known_keys_only,
        )
        self._requests = 0
        self._closed_days: OrderedDict[tuple[str, date, bool], BarData | None] = OrderedDict()
        # a day bar as its one-day aggregate, and any bar as its JSON row: both depend on the bar alone
        self._day_aggs: dict[BarData, BarData] = {}
        self._rows: dict[BarData, dict[str, Any]] = {}
        self._closed_windows: OrderedDict[tuple[Any, ...], list[dict[str, Any]]] = OrderedDict()

    # -- the envelope ----------------------------------------------------------------------------

    def request_id(self) -> str:
        """A fresh request id (hex, as the vendor's look), deterministic per seed."""
        self._requests += 1
        return f"{digest(self.seed, 'request', self._requests):016x}{digest(self._requests, self.seed):016x}"

    def error(self, status: int, message: str, kind: str = "ERROR") -> Response:
        """The vendor's error envelope: ``error`` for ``ERROR``, ``message`` for the other statuses."""
        key = "error" if kind == "ERROR" else "message"
        return json_response({"status": kind, "request_id": self.request_id(), key: message}, status)

    @staticmethod
    def api_key(request: Request) -> str:
        """The key of a request: ``apiKey`` in the query, else an ``Authorization: Bearer`` header."""
        key = request.query_params.get("apiKey", "")
        if key:
            return key
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""

    async def dispatch(self, request: Request, route: _Route) -> Response:
        """Authenticate, count against the plan, check entitlement, answer with ``route``'s handler."""
        key = self.api_key(request)
        if not key:
            return self.error(401, "API Key was not provided")
        if not self.plans.knows(key):
            return self.error(401, "Unknown API Key")
        if not self.plans.take(key, self.clock.now()):
            return self.error(
                429,
                "You've exceeded the maximum requests per minute, please wait or upgrade your subscription "
                f"to continue. {PRICING}",
            )
        plan = self.plans.plan_of(key)
        if route.feature not in plan.features:
            return self.error(
                403,
                f"You are not entitled to this data. Please upgrade your plan at {PRICING}",
                "NOT_AUTHORIZED",
            )
        request.state.plan = plan
        params = {k: v for k, v in request.query_params.items() if k != "apiKey"}
        try:
            if "cursor" in params:
                params = decode_cursor(params["cursor"])
            body = route.handler(self, request, params)
        except PolygonRefusal as refusal:
            return self.error(refusal.status, refusal.message, refusal.kind)
        if "status" not in body and "market" not in body:
            body["status"] = "OK"
        if "market" not in body:  # the market status answer has no envelope
            body["request_id"] = self.request_id()
        if route.feature == "aggregates":
            # rows of plain numbers: encoded by msgspec, a tenth of json's time, so a benchmark of many
            # series measures the client rather than the mock
            return Response(_encode(body), media_type="application/json")
        return json_response(body)

    def next_url(self, request: Request, params: Mapping[str, Any]) -> str:
        """The absolute URL of the next page: this path with a cursor holding the rest of the query."""
        base = str(request.base_url).rstrip("/")
        return f"{base}{request.url.path}?cursor={encode_cursor(params)}"

    def _page(
        self, request: Request, params: dict[str, str], rows: list[dict[str, Any]], limit: int
    ) -> dict[str, Any]:
        offset = int(params.get("_offset", "0"))
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {"results": page, "count": len(page)}
        if offset + limit < len(rows):
            body["next_url"] = self.next_url(request, {**params, "_offset": offset + limit})
        return body

    def _known(self, ticker: str) -> str | None:
        symbol = ticker.upper()
        return symbol if symbol in self.tickers else None

    # -- aggregates -----------------------------------------------------------------------------

    def bars(
        self,
        symbol: str,
        multiplier: int,
        timespan: str,
        start: datetime,
        end: datetime,
        *,
        adjusted: bool,
        until: datetime | None = None,
    ) -> list[BarData]:
        """Bars of ``multiplier`` x ``timespan`` starting in ``[start, end]``, cut at ``until`` (default: now)."""
        now = until or self.clock.now()
        gen = self.generator
        if timespan == "second":
            return self._second_bars(symbol, multiplier, start, min(end, now), adjusted=adjusted)
        if timespan == "minute" and multiplier < 60:
            return gen.bars(symbol, f"{multiplier}min", start, end, adjusted=adjusted, until=now)
        if timespan == "hour" and multiplier < 24:
            return gen.bars(symbol, f"{multiplier}hour", start, end, adjusted=adjusted, until=now)
        if timespan in ("minute", "hour"):
            per = multiplier * (60 if timespan == "hour" else 1)
            minutes = gen.bars(symbol, "1min", start, end, adjusted=adjusted, until=now)
            return group_bars(
                minutes,
                lambda b: (
                    local_day(b),
                    (b.timestamp - session_bounds(local_day(b))[0]).seconds // 60 // per,
                ),
                1,
            )
        if timespan == "day":
            daily = self.daily_bars(symbol, start, end, adjusted=adjusted, until=now)
            if multiplier == 1:  # one bar a day: each is its own group
                return [self._day_agg(bar) for bar in daily]
            return group_bars(daily, local_day, multiplier)
        if timespan == "week":
            return group_bars(
                self.period_bars(symbol, "1week", start, end, adjusted=adjusted, until=now),
                local_day,
                multiplier,
            )
        months = self.period_bars(symbol, "1month", start, end, adjusted=adjusted, until=now)
        if timespan == "month":
            return group_bars(months, local_day, multiplier)
        if timespan == "quarter":
            return group_bars(
                months, lambda b: (local_day(b).year, (local_day(b).month - 1) // 3), multiplier
            )
        return group_bars(months, lambda b: local_day(b).year, multiplier)

    def daily_bars(
        self, symbol: str, start: datetime, end: datetime, *, adjusted: bool, until: datetime | None = None
    ) -> list[BarData]:
        """Daily bars starting in ``[start, end]``, the running session's cut at ``until`` (default: now).

        The same bars as the generator's ``1day`` series; a closed session's bar is kept (it can no longer
        change), so a benchmark of many daily series measures the client rather than the mock.
        """
        now = until or self.clock.now()
        end = min(end, now)
        today = min(now, self.clock.now()).astimezone(NEW_YORK).date()
        day, last = start.astimezone(NEW_YORK).date(), end.astimezone(NEW_YORK).date()
        out: list[BarData] = []
        while day <= last:
            if day < today:
                key = (symbol, day, adjusted)
                if key not in self._closed_days:
                    self._closed_days[key] = self.generator.daily_bar(symbol, day, adjusted=adjusted)
                    if len(self._closed_days) > 200_000:
                        self._closed_days.popitem(last=False)
                bar = self._closed_days[key]
                bars = [bar] if bar is not None else []
            else:
                bars = self.generator.bars(
                    symbol, "1day", day_start(day), day_end(day), adjusted=adjusted, until=now
                )
            out.extend(b for b in bars if start <= b.timestamp <= end)
            day += timedelta(days=1)
        return out

    def period_bars(
        self, symbol: str, timeframe: str, start: datetime, end: datetime, *, adjusted: bool, until: datetime
    ) -> list[BarData]:
        """The generator's ``1week`` or ``1month`` bars (the same bars), built from the kept daily bars of
        closed days: the generator makes every day of the window from its minutes on each call, seconds for a
        year of months."""
        end = min(end, until)
        day = start.astimezone(NEW_YORK).date() - timedelta(days=35)
        last = end.astimezone(NEW_YORK).date()
        days: list[BarData] = []
        while day <= last:
            if day < last:  # every minute of the day is inside the window, and the day is over
                key = (symbol, day, adjusted)
                if key not in self._closed_days:
                    self._closed_days[key] = self.generator.daily_bar(symbol, day, adjusted=adjusted)
                    if len(self._closed_days) > 200_000:
                        self._closed_days.popitem(last=False)
                bar = self._closed_days[key]
            else:  # the window's last day: its minutes up to the window's end, as the generator cuts them
                minutes = [
                    b
                    for b in self.generator.minute_bars(symbol, day, adjusted=adjusted)
                    if b.timestamp <= end
                ]
                bar = replace(combine(minutes), timestamp=day_start(day)) if minutes else None
            if bar is not None:
                days.append(bar)
            day += timedelta(days=1)
        groups: dict[object, list[BarData]] = {}
        for bar in days:
            local = bar.timestamp.astimezone(NEW_YORK).date()
            groups.setdefault(
                local.isocalendar()[:2] if timeframe == "1week" else (local.year, local.month), []
            ).append(bar)
        out: list[BarData] = []
        for group in groups.values():
            agg = replace(combine(group), symbol=symbol.upper())
            if start <= agg.timestamp <= end or any(start <= b.timestamp <= end for b in group):
                out.append(agg)
        return out

    def _day_agg(self, bar: BarData) -> BarData:
        """``group_bars([bar], local_day, 1)[0]``, kept: a benchmark of many daily series measures the client."""
        agg = self._day_aggs.get(bar)
        if agg is None:
            if len(self._day_aggs) > 200_000:
                self._day_aggs.clear()
            agg = self._day_aggs[bar] = combine([bar])
        return agg

    def _agg_rows(
        self,
        symbol: str,
        multiplier: int,
        timespan: str,
        start: datetime,
        end: datetime,
        adjusted: bool,
        until: datetime,
    ) -> list[dict[str, Any]]:
        """The rows of :meth:`bars`; a window of closed sessions only is kept, since it can no longer change."""
        closed = timespan == "day" and end < day_start(
            min(until, self.clock.now()).astimezone(NEW_YORK).date()
        )
        key = (symbol, multiplier, start, end, adjusted)
        if closed and key in self._closed_windows:
            return self._closed_windows[key]
        rows = [self._row(b) for b in self.bars(symbol, multiplier, timespan, start, end, adjusted=adjusted,
                                                until=until)]  # fmt: skip
        if closed:
            self._closed_windows[key] = rows
            if len(self._closed_windows) > 4096:
                self._closed_windows.popitem(last=False)
        return rows

    def _row(self, bar: BarData) -> dict[str, Any]:
        row = self._rows.get(bar)
        if row is None:
            if len(self._rows) > 200_000:
                self._rows.clear()
            row = self._rows[bar] = agg_row(bar)
        return row

    def _second_bars(
        self, symbol: str, multiplier: int, start: datetime, end: datetime, *, adjusted: bool
    ) -> list[BarData]:
        out: list[BarData] = []
        gen = self.generator
        for minute in gen.bars(symbol, "1min", start - timedelta(minutes=1), end, adjusted=adjusted):
            for first in range(0, 60, multiplier):
                at = minute.timestamp + timedelta(seconds=first)
                if not start <= at <= end:
                    continue
                points = [gen.price(symbol, at + timedelta(seconds=s), adjusted=adjusted)
                          for s in range(0, min(multiplier, 60 - first) + 1)]  # fmt: skip
                volume = max(1, minute.volume * len(points[1:]) // 60)
                out.append(BarData(symbol, at, points[0], max(points), min(points), points[-1], volume,
                                   max(1, volume // 120), round(sum(points) / len(points), 4)))  # fmt: skip
        return out

    def aggregates(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        path = request.path_params
        ticker = str(path["ticker"]).upper()
        timespan = str(path["timespan"])
        if timespan not in TIMESPANS:
            raise PolygonRefusal(400, f"Invalid timespan {timespan!r}; use one of {', '.join(TIMESPANS)}.")
        try:
            multiplier = int(path["multiplier"])
        except ValueError:
            raise PolygonRefusal(400, "The parameter 'multiplier' must be a positive integer.") from None
        if multiplier < 1:
            raise PolygonRefusal(400, "The parameter 'multiplier' must be a positive integer.")
        start = parse_bound(str(path["from"]), "from", end=False)
        end = parse_bound(str(path["to"]), "to", end=True)
        if end < start:
            raise PolygonRefusal(400, "The parameter 'to' cannot be a time that occurs before 'from'")
        adjusted = params.get("adjusted", "true").lower() != "false"
        ascending = parse_order(params, "sort", "asc")
        limit = parse_limit(params, 5000, _MAX_LIMIT)
        plan: Plan = request.state.plan
        now = self.clock.now()
        if (
            plan.end_of_day
            and self._session_running(now)
            and end >= day_start(now.astimezone(NEW_YORK).date())
        ):
            raise PolygonRefusal(
                403, f"Attempted to request today's data before end of day. Please upgrade your plan at {PRICING}",
                "NOT_AUTHORIZED",
            )  # fmt: skip
        until = now - timedelta(minutes=plan.delay_minutes)
        symbol = self._known(ticker)
        rows = (
            []
            if symbol is None
            else self._agg_rows(symbol, multiplier, timespan, start, end, adjusted, until)
        )
        if not ascending:
            rows = rows[::-1]  # the kept list stays as it is
        page = self._page(request, params, rows, limit)
        body: dict[str, Any] = {"ticker": ticker, "queryCount": page["count"], "resultsCount": page["count"],
                                "adjusted": adjusted}  # fmt: skip
        if plan.delay_minutes and end > until:
            body["status"] = "DELAYED"  # the answer stops short of the window, by the plan's delay
        if page["results"]:
            body["results"] = page["results"]
        body["count"] = page["count"]
        if "next_url" in page:
            body["next_url"] = page["next_url"]
        return body

    @staticmethod
    def _session_running(now: datetime) -> bool:
        day = now.astimezone(NEW_YORK).date()
        return is_trading_day(day) and now < session_bounds(day)[1]

    def grouped_daily(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        try:
            day = date.fromisoformat(str(request.path_params["date"]))
        except ValueError:
            raise PolygonRefusal(400, "Could not parse the time parameter: 'date'. Use YYYY-MM-DD.") from None
        adjusted = params.get("adjusted", "true").lower() != "false"
        start, end = day_start(day), day_end(day)
        rows = []
        for symbol in sorted(self.tickers):
            for bar in self.bars(symbol, 1, "day", start, end, adjusted=adjusted):
                rows.append({"T": symbol, **agg_row(bar)})
        body: dict[str, Any] = {"queryCount": len(rows), "resultsCount": len(rows), "adjusted": adjusted}
        if rows:
            body["results"] = rows
        return body

    def previous_close(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        ticker = str(request.path_params["ticker"]).upper()
        adjusted = params.get("adjusted", "true").lower() != "false"
        day = self.clock.now().astimezone(NEW_YORK).date() - timedelta(days=1)
        while not is_trading_day(day):
            day -= timedelta(days=1)
        symbol = self._known(ticker)
        bars = (
            []
            if symbol is None
            else self.bars(symbol, 1, "day", day_start(day), day_end(day), adjusted=adjusted)
        )
        body: dict[str, Any] = {
            "ticker": ticker,
            "queryCount": len(bars),
            "resultsCount": len(bars),
            "adjusted": adjusted,
        }
        if bars:
            body["results"] = [{"T": ticker, **agg_row(bars[0])}]
        return body

    # -- trades and quotes ----------------------------------------------------------------------

    def _window(self, params: dict[str, str]) -> tuple[datetime, datetime]:
        now = self.clock.now()
        lower: datetime | None = None
        upper = now
        if "timestamp" in params:
            lower = parse_bound(params["timestamp"], "timestamp", end=False)
            upper = min(upper, parse_bound(params["timestamp"], "timestamp", end=True))
        for key, is_lower, shift in (("timestamp.gte", True, 0), ("timestamp.gt", True, 1),
                                     ("timestamp.lte", False, 0), ("timestamp.lt", False, -1),
                                     ("_after", True, 1), ("_before", False, -1)):  # fmt: skip
            if key not in params:
                continue
            bound = parse_bound(params[key], key, end=not is_lower) + timedelta(microseconds=shift)
            if is_lower:
                lower = bound if lower is None else max(lower, bound)
            else:
                upper = min(upper, bound)
        if lower is None:
            lower = upper - timedelta(days=_LOOKBACK_DAYS)
        return lower, upper

    def _ticks(
        self, symbol: str, params: dict[str, str], kind: str, limit: int
    ) -> tuple[list[TradeData] | list[QuoteData], bool]:
        """Up to ``limit`` prints or quotes in the query's window, and whether more remain."""
        lower, upper = self._window(params)
        ascending = parse_order(params, "order", "desc")
        first, last = lower.astimezone(NEW_YORK).date(), upper.astimezone(NEW_YORK).date()
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)] if last >= first else []
        if not ascending:
            days.reverse()
        out: list[Any] = []
        for day in days:
            if not is_trading_day(day):
                continue
            open_, close = session_bounds(day)
            a, b = max(lower, open_), min(upper, close - timedelta(microseconds=1))
            if a > b:
                continue
            ticks = (self.generator.trades(symbol, a, b, step=_TRADE_STEP) if kind == "trades"
                     else self.generator.quotes(symbol, a, b, step=_QUOTE_STEP))  # fmt: skip
            # a tick is stamped a few milliseconds after its grid time: keep what the window holds
            inside = [t for t in ticks if lower <= t.timestamp <= upper]
            out.extend(inside if ascending else reversed(inside))
            if len(out) > limit:
                break
        return out[:limit], len(out) > limit

    def _tick_page(self, request: Request, params: dict[str, str], kind: str) -> dict[str, Any]:
        ticker = str(request.path_params["ticker"]).upper()
        limit = parse_limit(params, 1000, _MAX_LIMIT)
        symbol = self._known(ticker)
        if symbol is None:
            return {"results": []}
        ticks, more = self._ticks(symbol, params, kind, limit)
        rows = [trade_row(t) if isinstance(t, TradeData) else quote_row(t) for t in ticks]
        body: dict[str, Any] = {"results": rows}
        if more and ticks:
            ascending = parse_order(params, "order", "desc")
            edge = "_after" if ascending else "_before"
            # the generator's ticks sit on whole seconds and are stamped a few milliseconds later: the
            # cursor holds the tick's second, so the next page neither repeats nor skips one
            tick = ticks[-1].timestamp.replace(microsecond=0)
            body["next_url"] = self.next_url(request, {**params, edge: str(to_ns(tick))})
        return body

    def trades(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        return self._tick_page(request, params, "trades")

    def quotes(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        return self._tick_page(request, params, "quotes")

    def _last_tick(self, step: float) -> datetime:
        """The time of the latest tick on the generator's grid at or before now."""
        now = self.clock.now()
        day = now.astimezone(NEW_YORK).date()
        while True:
            if is_trading_day(day):
                open_, close = session_bounds(day)
                if now >= open_:
                    at = min(now, close - timedelta(microseconds=1))
                    return open_ + timedelta(seconds=math.floor((at - open_).total_seconds() / step) * step)
            day -= timedelta(days=1)

    def latest_trade(self, symbol: str) -> TradeData:
        """The last print stamped at or before now (prints are stamped a few ms after their tick)."""
        tick = self._last_tick(_TRADE_STEP)
        trade = self.generator.trade(symbol, tick)
        if trade.timestamp > self.clock.now():
            trade = self.generator.trade(symbol, tick - timedelta(seconds=_TRADE_STEP))
        return trade

    def latest_quote(self, symbol: str) -> QuoteData:
        """The NBBO standing now: the last quote stamped at or before now."""
        tick = self._last_tick(_QUOTE_STEP)
        quote = self.generator.quote(symbol, tick)
        if quote.timestamp > self.clock.now():
            quote = self.generator.quote(symbol, tick - timedelta(seconds=_QUOTE_STEP))
        return quote

    def _require(self, ticker: str) -> str:
        symbol = self._known(ticker)
        if symbol is None:
            raise PolygonRefusal(404, "Data not found.", "NOT_FOUND")
        return symbol

    def last_trade(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        symbol = self._require(str(request.path_params["ticker"]))
        row = trade_row(self.latest_trade(symbol))
        return {"results": {"T": symbol, "i": row["id"], "p": row["price"], "s": row["size"], "x": row["exchange"],
                            "q": row["sequence_number"], "t": row["sip_timestamp"], "y": row["participant_timestamp"],
                            "z": row["tape"]}}  # fmt: skip

    def last_quote(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        symbol = self._require(str(request.path_params["ticker"]))
        row = quote_row(self.latest_quote(symbol))
        return {"results": {"T": symbol, "P": row["ask_price"], "S": row["ask_size"], "X": row["ask_exchange"],
                            "p": row["bid_price"], "s": row["bid_size"], "x": row["bid_exchange"],
                            "q": row["sequence_number"], "t": row["sip_timestamp"], "y": row["participant_timestamp"],
                            "z": row["tape"]}}  # fmt: skip

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot_of(self, symbol: str) -> dict[str, Any]:
        """One ticker's snapshot: today's bar, the last minute, the previous day, last trade and quote."""
        now = self.clock.now()
        trade = self.latest_trade(symbol)
        trade_at = trade.timestamp
        session_day = trade_at.astimezone(NEW_YORK).date()
        prev = session_day - timedelta(days=1)
        while not is_trading_day(prev):
            prev -= timedelta(days=1)
        gen = self.generator
        day_bar = gen.bars(symbol, "1day", day_start(session_day), day_end(session_day), until=now)[0]
        prev_bar = gen.bars(symbol, "1day", day_start(prev), day_end(prev))[0]
        minutes = gen.bars(symbol, "1min", trade_at - timedelta(minutes=1), trade_at, until=now)
        quote = self.latest_quote(symbol)
        change = round(trade.price - prev_bar.close, 4)

        def ohlc(bar: BarData) -> dict[str, Any]:
            return {
                "o": bar.open,
                "h": bar.high,
                "l": bar.low,
                "c": bar.close,
                "v": bar.volume,
                "vw": bar.vwap,
            }

        body: dict[str, Any] = {
            "ticker": symbol,
            "todaysChange": change,
            "todaysChangePerc": round(change / prev_bar.close * 100, 4),
            "updated": to_ns(trade.timestamp),
            "day": ohlc(day_bar),
            "prevDay": ohlc(prev_bar),
            "lastTrade": {
                "i": str(trade.trade_id),
                "p": trade.price,
                "s": trade.size,
                "t": to_ns(trade.timestamp),
                "x": EXCHANGE_IDS[trade.exchange],
            },
            "lastQuote": {
                "P": quote.ask_price,
                "S": quote.ask_size,
                "p": quote.bid_price,
                "s": quote.bid_size,
                "t": to_ns(quote.timestamp),
            },
        }
        if minutes:
            last = minutes[-1]
            body["min"] = {
                **ohlc(last),
                "av": day_bar.volume,
                "t": to_ms(last.timestamp),
                "n": last.trade_count,
            }
        return body

    def snapshot_all(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        wanted = [t.strip().upper() for t in params.get("tickers", "").split(",") if t.strip()]
        symbols = [s for s in (wanted or sorted(self.tickers)) if s in self.tickers]
        rows = [self.snapshot_of(s) for s in symbols]
        return {"count": len(rows), "tickers": rows}

    def snapshot_one(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        symbol = self._known(str(request.path_params["ticker"]))
        if symbol is None:
            raise PolygonRefusal(404, "Ticker not found.", "NOT_FOUND")
        return {"ticker": self.snapshot_of(symbol)}

    # -- reference ------------------------------------------------------------------------------

    def _figi(self, symbol: str, kind: str) -> str:
        alphabet = "BCDFGHJKLMNPQRSTVWXYZ0123456789"
        h = digest(self.seed, symbol, kind)
        return "BBG00" + "".join(alphabet[(h >> (5 * i)) % len(alphabet)] for i in range(7))

    def ticker_row(self, info: TickerInfo) -> dict[str, Any]:
        """The ``/v3/reference/tickers`` row of a ticker."""
        return {
            "ticker": info.ticker,
            "name": info.name,
            "market": "stocks",
            "locale": "us",
            "primary_exchange": info.primary_exchange,
            "type": info.type,
            "active": True,
            "currency_name": "usd",
            "cik": f"{digest(self.seed, info.ticker, 'cik') % 10**10:010d}",
            "composite_figi": self._figi(info.ticker, "composite"),
            "share_class_figi": self._figi(info.ticker, "share"),
            "last_updated_utc": self.clock.now().strftime("%Y-%m-%dT00:00:00Z"),
        }

    def list_tickers(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(params, 100, 1000)
        ascending = parse_order(params, "order", "asc")
        sort = params.get("sort", "ticker")
        if sort not in ("ticker", "name", "type", "primary_exchange"):
            raise PolygonRefusal(400, f"The parameter 'sort' cannot be {sort!r}.")
        rows = []
        market = params.get("market", "stocks")
        active = params.get("active", "true").lower() != "false"
        search = params.get("search", "").lower()
        for info in self.tickers.values():
            if market != "stocks" or not active or not matches(info.ticker, params, "ticker"):
                continue
            if "type" in params and info.type != params["type"]:
                continue
            if "exchange" in params and info.primary_exchange != params["exchange"]:
                continue
            if search and search not in info.ticker.lower() and search not in info.name.lower():
                continue
            rows.append(self.ticker_row(info))
        if search and "sort" not in params:
            # a search ranks by relevance: the exact ticker, then ticker prefixes, then names
            rows.sort(
                key=lambda r: (
                    r["ticker"].lower() != search,
                    not r["ticker"].lower().startswith(search),
                    r["ticker"],
                )
            )
        else:
            rows.sort(key=lambda r: str(r[sort]), reverse=not ascending)
        return self._page(request, params, rows, limit)

    def ticker_details(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        symbol = self._known(str(request.path_params["ticker"]))
        if symbol is None:
            raise PolygonRefusal(404, "Ticker not found.", "NOT_FOUND")
        info = self.tickers[symbol]
        figures = self.generator.fundamentals(symbol, self.clock.now())
        shares = int(figures["shares_outstanding"])  # type: ignore[call-overload]
        row = self.ticker_row(info)
        row.pop("last_updated_utc")
        slug = symbol.lower()
        row.update({
            "market_cap": float(figures["market_capitalization"]),  # type: ignore[arg-type]
            "phone_number": f"(555) {digest(symbol, 'phone') % 900 + 100}-{digest(symbol, 'line') % 9000 + 1000}",
            "address": {"address1": f"{digest(symbol, 'street') % 900 + 1} Market Street", "city": "NEW YORK",
                        "state": "NY", "postal_code": "10004"},
            "description": f"{info.name} is a company simulated by the portico Polygon mock.",
            "sic_code": info.sic_code or None,
            "sic_description": info.sic_description or None,
            "ticker_root": symbol.split(".")[0],
            "homepage_url": f"https://www.{slug}.example",
            "total_employees": digest(self.seed, symbol, "employees") % 200000 + 500,
            "list_date": (date(1980, 12, 12) + timedelta(days=digest(symbol, "listed") % 12000)).isoformat(),
            "branding": {"logo_url": f"https://api.massive.com/v1/reference/company-branding/{slug}/images/logo.svg",
                         "icon_url": f"https://api.massive.com/v1/reference/company-branding/{slug}/images/icon.png"},
            "share_class_shares_outstanding": shares,
            "weighted_shares_outstanding": shares,
            "round_lot": 100,
        })  # fmt: skip
        if info.type == "ETF":
            for key in ("sic_code", "sic_description", "total_employees"):
                row.pop(key, None)
        return {"results": row}

    def _actions(self, params: dict[str, str], kind: str) -> Iterator[tuple[str, Any]]:
        today = self.clock.now().astimezone(NEW_YORK).date()
        start, end = today - timedelta(days=3 * 366), today + timedelta(days=60)
        wanted = params.get("ticker")
        for symbol in sorted(self.tickers):
            if (wanted is not None and symbol != wanted.upper()) or not matches(symbol, params, "ticker"):
                continue
            for action in self.generator.corporate_actions(symbol, start, end):
                if action.kind == kind:
                    yield symbol, action

    def dividends(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(params, 10, 1000)
        ascending = parse_order(params, "order", "desc")
        sort = params.get("sort", "ex_dividend_date")
        rows = []
        for symbol, a in self._actions(params, "cash_dividend"):
            row = {
                "cash_amount": a.cash_amount, "currency": "USD",
                "declaration_date": (a.ex_date - timedelta(days=14)).isoformat(), "dividend_type": "CD",
                "ex_dividend_date": a.ex_date.isoformat(), "frequency": 4, "pay_date": a.pay_date.isoformat(),
                "record_date": a.record_date.isoformat(), "ticker": symbol,
                "id": f"E{digest(self.seed, symbol, a.ex_date):016x}",
            }  # fmt: skip
            if all(matches(str(row[k]), params, k) for k in ("ex_dividend_date", "record_date", "pay_date",
                                                                "declaration_date")):  # fmt: skip
                rows.append(row)
        if sort not in _DIVIDEND_SORTS:
            raise PolygonRefusal(400, f"The parameter 'sort' cannot be {sort!r}.")
        rows.sort(key=lambda r: (r[sort], r["ticker"]), reverse=not ascending)
        return self._page(request, params, rows, limit)

    def splits(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(params, 10, 1000)
        ascending = parse_order(params, "order", "desc")
        rows = []
        for symbol, a in self._actions(params, "split"):
            row = {"execution_date": a.ex_date.isoformat(), "split_from": a.ratio_from, "split_to": a.ratio_to,
                   "ticker": symbol, "id": f"P{digest(self.seed, symbol, 'split', a.ex_date):016x}"}  # fmt: skip
            if matches(row["execution_date"], params, "execution_date"):
                rows.append(row)
        rows.sort(key=lambda r: (r["execution_date"], r["ticker"]), reverse=not ascending)
        return self._page(request, params, rows, limit)

    def news(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(params, 10, 1000)
        ascending = parse_order(params, "order", "desc")
        now = self.clock.now()
        wanted = params.get("ticker")
        rows = []
        for symbol in sorted(self.tickers):
            if (wanted is not None and symbol != wanted.upper()) or not matches(symbol, params, "ticker"):
                continue
            for back in range(0, 180):
                day = now.date() - timedelta(days=back)
                h = digest(self.seed, symbol, "news", day)
                if h % 4:
                    continue
                published = datetime.combine(day, time(12 + h % 8, (h >> 8) % 60), UTC)
                if published > now:
                    continue
                stamp = published.strftime("%Y-%m-%dT%H:%M:%SZ")
                if not matches(stamp, params, "published_utc"):
                    continue
                rows.append(article(symbol, self.tickers[symbol].name, published, h))
        rows.sort(key=lambda r: (r["published_utc"], r["id"]), reverse=not ascending)
        return self._page(request, params, rows, limit)

    def market_status(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        now = self.clock.now().astimezone(NEW_YORK)
        trading = is_trading_day(now.date())
        clock = now.time()
        regular = trading and time(9, 30) <= clock < time(16, 0)
        early = trading and time(4, 0) <= clock < time(9, 30)
        after = trading and time(16, 0) <= clock < time(20, 0)
        market = "open" if regular else "extended-hours" if (early or after) else "closed"
        exchange = "open" if regular else "extended-hours" if (early or after) else "closed"
        return {
            "afterHours": after,
            "currencies": {"crypto": "open", "fx": "open" if now.weekday() < 5 else "closed"},
            "earlyHours": early,
            "exchanges": {"nasdaq": exchange, "nyse": exchange, "otc": exchange},
            "market": market,
            "serverTime": now.replace(microsecond=0).isoformat(),
        }

    # -- admin ----------------------------------------------------------------------------------

    async def admin_key(self, request: Request) -> Response:
        """``GET|POST /__mock__/polygon/keys/{key}``: a key's plan and usage; POST ``{"plan": ...}`` moves it."""
        key = str(request.path_params["key"])
        if request.method == "POST":
            try:
                data = await request.json()
                self.plans.set_plan(key, str(data["plan"]))
            except (ValueError, KeyError, TypeError) as exc:
                return json_response(
                    {"message": f"give {{'plan': one of {sorted(self.plans.plans)}}}: {exc}"}, 422
                )
        return json_response(self.plans.usage(key))


_ROUTES: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
    (
        "/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}",
        "aggregates",
        PolygonMock.aggregates,
    ),
    ("/v2/aggs/grouped/locale/us/market/stocks/{date}", "aggregates", PolygonMock.grouped_daily),
    ("/v2/aggs/ticker/{ticker}/prev", "aggregates", PolygonMock.previous_close),
    ("/v3/trades/{ticker}", "trades", PolygonMock.trades),
    ("/v3/quotes/{ticker}", "quotes", PolygonMock.quotes),
    ("/v2/last/trade/{ticker}", "trades", PolygonMock.last_trade),
    ("/v2/last/nbbo/{ticker}", "quotes", PolygonMock.last_quote),
    ("/v2/snapshot/locale/us/markets/stocks/tickers", "snapshots", PolygonMock.snapshot_all),
    ("/v2/snapshot/locale/us/markets/stocks/tickers/{ticker}", "snapshots", PolygonMock.snapshot_one),
    ("/v3/reference/tickers", "reference", PolygonMock.list_tickers),
    ("/v3/reference/tickers/{ticker}", "reference", PolygonMock.ticker_details),
    ("/v3/reference/dividends", "reference", PolygonMock.dividends),
    ("/v3/reference/splits", "reference", PolygonMock.splits),
    ("/v2/reference/news", "reference", PolygonMock.news),
    ("/v1/marketstatus/now", "reference", PolygonMock.market_status),
]


class PolygonMockApp(MockApp):
    """The kit's app speaking the vendor's error envelope for injected 429s and errors."""

    mock: PolygonMock

    def rate_limited_response(self, retry_after: str, rule: FaultRule) -> Any:
        return self.mock.error(
            429, "You've exceeded the maximum requests per minute, please wait or upgrade your subscription "
            f"to continue. {PRICING}"
        )  # fmt: skip

    def error_response(self, rule: FaultRule) -> Any:
        if rule.body is not None:
            return super().error_response(rule)
        return self.mock.error(rule.status, "Internal server error (injected fault)")


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    clock: MockClock | None = None,
    start: datetime | None = None,
    realtime: bool | None = None,
    stream_interval: float = 0.05,
    **options: Any,
) -> MockApp:
    """The Polygon (Massive) mock as an ASGI app.

    Args:
        seed: the data seed (same seed, same numbers).
        faults: the kit's HTTP-level fault rules.
        clock: the simulated clock; without one, a clock starting at ``start`` (default: now) that follows
            wall time unless ``start`` is pinned, so served data looks live.
        start: simulated time at start.
        realtime: whether the clock runs with wall time (default: when ``start`` is not given).
        stream_interval: real seconds between the WebSocket stream's ticks.
        **options: :class:`PolygonMock` options (``symbols``, ``key_plans``, ``default_plan``, ``plans``,
            ``known_keys_only``).

    Returns:
        The app; ``app.state.mock`` (and ``app.mock``) is the :class:`PolygonMock`.
    """
    if clock is None:
        if realtime is None:
            realtime = start is None
        clock = MockClock(start or datetime.now(UTC).replace(microsecond=0), realtime=realtime)
    mock = PolygonMock(seed, clock=clock, **options)
    stream = PolygonStream(mock, interval=stream_interval)

    def endpoint(route: _Route) -> Callable[[Request], Any]:
        async def call(request: Request) -> Response:
            return await mock.dispatch(request, route)

        return call

    routes: list[Any] = [
        Route(path, endpoint(_Route(feature, handler)), methods=["GET"]) for path, feature, handler in _ROUTES
    ]
    routes += [
        Route("/__mock__/polygon/keys/{key}", mock.admin_key, methods=["GET", "POST"]),
        WebSocketRoute("/stocks", stream.serve),
    ]
    app = PolygonMockApp(
        routes,
        name="polygon",
        seed=seed,
        faults=faults,
        clock=clock,
        url_keys={"base": "", "stream": "/stocks", "delayed_stream": "/stocks"},
    )
    app.mock = mock
    app.state.mock = mock
    app.state.stream = stream
    return app
