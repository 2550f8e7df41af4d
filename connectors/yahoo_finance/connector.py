"""The Yahoo Finance connector: bars, latest quotes, fundamentals, corporate actions and search.

Unofficial and for research use (see :data:`~portico.connectors.yahoo_finance.spec.TERMS_NOTICE`).
"""

from __future__ import annotations

import math
import re
import time as _time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote as _quote

from portico.connectors.yahoo_finance._chart import FastChartResult, decode_chart, trusted_bar
from portico.connectors.yahoo_finance.client import YahooFinanceClient
from portico.connectors.yahoo_finance.mapping import (
    INTERVALS,
    actions_from_chart,
    bars_from_chart,
    chart_result,
    fundamentals_from_summary,
    instruments_from_search,
    join_bars,
    news_from_search,
    quotes_from_body,
)
from portico.connectors.yahoo_finance.spec import SPEC, YahooFinanceConnection, rate_limit_policy, settings_of
from portico.errors import NotFound, NotSupported, PayloadRejected, PorticoError, RateLimited
from portico.models import Bar, BarInterval, CorporateAction, Fundamentals, Instrument, NewsItem, Quote
from portico.sdk import CheckResult, Connector, ConnectorContext, RateLimitPolicy

__all__ = ["INTRADAY_LOOKBACK", "YahooFinanceConnector"]

_SYMBOL = re.compile(r"^[\^A-Z0-9][A-Z0-9.\-=^]{0,23}$")

INTRADAY_LOOKBACK: dict[BarInterval, timedelta] = {
    BarInterval.MIN_1: timedelta(days=30),
    BarInterval.MIN_5: timedelta(days=60),
    BarInterval.MIN_15: timedelta(days=60),
    BarInterval.MIN_30: timedelta(days=60),
    BarInterval.HOUR_1: timedelta(days=730),
}
"""How far back Yahoo keeps each intraday interval; older windows are refused before any call."""

_ONE_MINUTE_SPAN = timedelta(days=7)  # Yahoo answers at most 8 days of 1m bars a request
_MINUTES = {
    BarInterval.MIN_1: 1, BarInterval.MIN_5: 5, BarInterval.MIN_15: 15, BarInterval.MIN_30: 30, BarInterval.HOUR_1: 60,
}  # fmt: skip
_DEFAULT_SPAN = {
    BarInterval.DAY: timedelta(days=365),
    BarInterval.WEEK: timedelta(days=5 * 365),
    BarInterval.MONTH: timedelta(days=10 * 365),
}
_SUMMARY_MODULES = "price,summaryDetail,assetProfile,defaultKeyStatistics"
_QUOTE_BATCH = 50


def _symbol(symbol: str) -> str:
    text = symbol.strip().upper() if isinstance(symbol, str) else ""
    if not _SYMBOL.match(text):
        raise PayloadRejected(
            f"{symbol!r} is not a Yahoo symbol (letters, digits and . - = ^, up to 24 characters: AAPL, BRK-B, "
            "^GSPC, EURUSD=X)",
            field="symbol",
        )
    return text


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise PayloadRejected(
            f"{name} must carry a time zone (got the naive {value.isoformat()})", field=name
        )
    return value


class YahooFinanceConnector(Connector):
    """Yahoo Finance as a market data connector (research use; no SLA, unpublished limits).

    ``connection.requests_per_minute`` sets the pace (default 30); Yahoo's 429 raises
    :class:`~portico.errors.RateLimited` once the retry budget is spent.
    """

    spec: ClassVar = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(YahooFinanceConnection)
        self._client: YahooFinanceClient | None = None

    @classmethod
    def throttling_for(cls, connection: Mapping[str, Any]) -> RateLimitPolicy:
        """The default throttling for a system's ``connection`` (its ``requests_per_minute``)."""
        return rate_limit_policy(settings_of(connection).requests_per_minute)

    @property
    def client(self) -> YahooFinanceClient:
        """The HTTP client (created on first use)."""
        if self._client is None:
            self._client = YahooFinanceClient(self.context)
        return self._client

    async def open(self) -> None:
        self.client  # noqa: B018 - build the clients (and fail on a missing URL) at connect time

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> CheckResult:
        """One day of SPY from the chart: the cheapest call, and one that needs no session.

        It takes one unit of the shared budget now or not at all and is never retried; a spent budget or
        Yahoo's 429 is reported as ``rate_limited_until``.
        """
        spec = self.spec.health_check
        assert spec is not None  # declared in the manifest
        params = dict(spec.params)
        symbol = params.pop("symbol")
        started = _time.perf_counter()
        try:
            await self.context.acquire(spec.call, max_wait=0.0)
            body = await self.client.chart(symbol, params, retry=False, cost=0.0)
            chart_result(body, symbol)
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
                checks={"reachable": exc.status_code is not None, "authenticated": True},
            )  # fmt: skip
        return CheckResult(
            ok=True, system=self.system, latency_ms=(_time.perf_counter() - started) * 1000,
            detail="chart answered (unofficial API, research use)", checks={"reachable": True, "authenticated": True},
        )  # fmt: skip

    # -- bars ------------------------------------------------------------------------------------

    def _window(
        self,
        interval: BarInterval,
        start: datetime | None,
        end: datetime | None,
        limit: int | None,
        now: datetime,
    ) -> tuple[datetime, datetime]:
        end = min(end, now) if end is not None else now
        lookback = INTRADAY_LOOKBACK.get(interval)
        if start is None:
            if limit is not None and interval in _MINUTES:
                sessions = math.ceil(limit * _MINUTES[interval] / 390) + 1
                span = timedelta(days=sessions * 7 / 5 + 4)
            elif limit is not None:
                per = {BarInterval.DAY: 1.5, BarInterval.WEEK: 7.0, BarInterval.MONTH: 31.0}[interval]
                span = timedelta(days=limit * per + 10)
            else:
                span = _DEFAULT_SPAN.get(interval, timedelta(days=5))
            start = end - span
            if lookback is not None:
                start = max(start, now - lookback + timedelta(hours=1))
        elif lookback is not None and start < now - lookback:
            raise NotSupported(
                f"Yahoo keeps {interval.value} bars for the last {lookback.days} days only; ask for start after "
                f"{(now - lookback).isoformat(timespec='minutes')} or a longer interval",
                system=self.system,
            )
        if start > end:
            raise PayloadRejected(f"start {start.isoformat()} is after end {end.isoformat()}", field="start")
        return start, end

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
        """Bars oldest first from the v8 chart (see :mod:`~portico.connectors.yahoo_finance.mapping` for what
        ``adjusted`` means with Yahoo's prices).

        Raises:
            PayloadRejected: an invalid symbol, a naive or reversed window, a negative limit.
            NotSupported: an intraday window older than Yahoo keeps (:data:`INTRADAY_LOOKBACK`).
            NotFound: Yahoo has no data for the symbol.
        """
        try:
            interval = BarInterval(interval)
        except ValueError:
            raise PayloadRejected(
                f"unknown bar interval {interval!r}; use one of {[i.value for i in BarInterval]}",
                field="interval",
            ) from None
        symbol = _symbol(symbol)
        _aware("start", start)
        _aware("end", end)
        if limit is not None and limit < 0:
            raise PayloadRejected(f"limit must not be negative, got {limit}", field="limit")
        first, last = self._window(interval, start, end, limit, self.context.clock.now())
        yahoo_interval, join = INTERVALS[interval]
        spans = [(first, last)]
        if interval is BarInterval.MIN_1:
            spans = []
            cursor = first
            while cursor < last:
                spans.append((cursor, min(last, cursor + _ONE_MINUTE_SPAN)))
                cursor += _ONE_MINUTE_SPAN
        bars: list[Bar] = []
        # a daily bar is stamped at midnight but starts trading at the open: ask to the end of the last day
        reach = timedelta(seconds=1) if interval in _MINUTES else timedelta(days=1)
        for span_start, span_end in spans:
            params = {
                "period1": str(int(span_start.timestamp())),
                "period2": str(
                    math.ceil((span_end + (reach if span_end == last else timedelta(0))).timestamp())
                ),
                "interval": yahoo_interval,
                "includePrePost": "true"
                if self.settings.include_prepost and interval in _MINUTES
                else "false",
            }
            if interval not in _MINUTES:
                params["events"] = "div,splits"
            body = await self.client.chart(_quote(symbol, safe="^=.-"), params, fast=decode_chart)
            if isinstance(body, FastChartResult):
                bars.extend(bars_from_chart(body, interval=interval, adjusted=adjusted, make=trusted_bar))
            else:
                result = chart_result(body, symbol)
                bars.extend(bars_from_chart(result, interval=interval, adjusted=adjusted))
        bars = join_bars(bars, join, interval)
        unique = {bar.timestamp: bar for bar in bars}  # 1m spans meet at their edges
        bars = [unique[stamp] for stamp in sorted(unique)]
        if start is not None:
            bars = [
                b for b in bars if b.timestamp >= start or interval in (BarInterval.WEEK, BarInterval.MONTH)
            ]
        if end is not None:
            bars = [b for b in bars if b.timestamp <= end]
        if limit is not None:
            bars = bars[-limit:] if limit > 0 else []
        return bars

    # -- corporate actions -------------------------------------------------------------------------

    async def get_corporate_actions(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[CorporateAction]:
        """Dividends and splits by ex date from the chart's ``events`` (all of history without ``start``)."""
        symbol = _symbol(symbol)
        _aware("start", start)
        _aware("end", end)
        if start is not None and end is not None and start > end:
            raise PayloadRejected(f"start {start.isoformat()} is after end {end.isoformat()}", field="start")
        params = {"interval": "3mo", "events": "div,splits"}  # a long interval: the events, few bars
        if start is None and end is None:
            params["range"] = "max"
        else:
            now = self.context.clock.now()
            params["period1"] = str(int(start.timestamp())) if start else "0"
            params["period2"] = str(int((end or now).timestamp()) + 1)
        result = chart_result(await self.client.chart(_quote(symbol, safe="^=.-"), params), symbol)
        actions = actions_from_chart(result)
        if start is not None:
            actions = [a for a in actions if a.ex_date >= start.astimezone(UTC).date()]
        if end is not None:
            actions = [a for a in actions if a.ex_date <= end.astimezone(UTC).date()]
        return actions

    # -- quotes, fundamentals, search ---------------------------------------------------------------

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """Quotes from ``/v7/finance/quote``, up to 50 symbols a call.

        Raises:
            NotFound: Yahoo returned no quote for some symbols (named in the message).
        """
        wanted = list(dict.fromkeys(_symbol(s) for s in symbols))
        if not wanted:
            raise PayloadRejected("no symbols given", field="symbols")
        found: dict[str, Quote] = {}
        for i in range(0, len(wanted), _QUOTE_BATCH):
            batch = wanted[i : i + _QUOTE_BATCH]
            body = await self.client.quote(
                {"symbols": ",".join(batch), "formatted": "false", "lang": self.settings.lang,
                 "region": self.settings.region},
            )  # fmt: skip
            found.update(quotes_from_body(body))
        missing = [s for s in wanted if s not in found]
        if missing:
            raise NotFound(f"Yahoo has no quote for {', '.join(missing)}", system=self.system)
        return {s: found[s] for s in wanted}

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """Company figures from quoteSummary (modules price, summaryDetail, assetProfile, defaultKeyStatistics).

        Raises:
            NotSupported: ``statements=True`` (Yahoo's statements live in another, undocumented API this
                connector does not speak).
        """
        if statements:
            raise NotSupported(
                "yahoo_finance serves company figures only; take income statements, balance sheets and cash "
                "flows from alpha_vantage or a licensed data service",
                system=self.system,
            )
        symbol = _symbol(symbol)
        body = await self.client.quote_summary(
            _quote(symbol, safe="^=.-"),
            {"modules": _SUMMARY_MODULES, "formatted": "false", "lang": self.settings.lang,
             "region": self.settings.region},
        )  # fmt: skip
        return fundamentals_from_summary(symbol, body)

    async def get_news(
        self,
        symbols: list[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[NewsItem]:
        """The stories ``/v1/finance/search`` attaches to each symbol (``newsCount``), newest first, each
        once, within ``[start, end]``; Yahoo's search gives only its latest few."""
        if not symbols:
            raise PayloadRejected("Yahoo Finance news needs at least one symbol", field="symbols")
        wanted = limit or 10
        found: dict[str, NewsItem] = {}
        for symbol in symbols:
            body = await self.client.search(
                {"q": _symbol(symbol), "quotesCount": "0", "newsCount": str(min(wanted, 50)), "listsCount": "0",
                 "enableFuzzyQuery": "false", "lang": self.settings.lang, "region": self.settings.region},
            )  # fmt: skip
            for item in news_from_search(body):
                if (start is None or item.published_at >= start) and (
                    end is None or item.published_at <= end
                ):
                    found.setdefault(item.key, item)
        return sorted(found.values(), key=lambda i: i.published_at, reverse=True)[:wanted]

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """Instruments from ``/v1/finance/search``, best match first."""
        text = query.strip() if isinstance(query, str) else ""
        if not text:
            raise PayloadRejected("the search text is empty", field="query")
        if limit < 1:
            raise PayloadRejected(f"limit must be at least 1, got {limit}", field="limit")
        body = await self.client.search(
            {"q": text, "quotesCount": str(limit), "newsCount": "0", "listsCount": "0",
             "enableFuzzyQuery": "false", "lang": self.settings.lang, "region": self.settings.region},
        )  # fmt: skip
        return instruments_from_search(body)[:limit]
