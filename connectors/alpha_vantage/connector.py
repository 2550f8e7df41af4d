"""The Alpha Vantage connector: bars, latest quotes, search, fundamentals and FX over ``/query``."""

from __future__ import annotations

import asyncio
import time as _time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from portico.connectors.alpha_vantage.client import AlphaVantageClient
from portico.connectors.alpha_vantage.mapping import (
    bars_from_body,
    dividends_from_body,
    function_for,
    fundamentals_from_bodies,
    fx_rate_from_body,
    instruments_from_body,
    news_from_body,
    quote_from_body,
    splits_from_body,
)
from portico.connectors.alpha_vantage.spec import SPEC, AlphaVantageConnection, rate_limit_policy, tier_of
from portico.errors import ConfigurationError, PorticoError, RateLimited
from portico.models import (
    Bar,
    BarInterval,
    CorporateAction,
    Fundamentals,
    FxRate,
    Instrument,
    NewsItem,
    Quote,
)
from portico.models._iso import CURRENCY_CODES
from portico.sdk import CheckResult, Connector, ConnectorContext, RateLimitPolicy

__all__ = ["AlphaVantageConnector"]

_NEW_YORK = ZoneInfo("America/New_York")
_COMPACT = 100  # rows in an outputsize=compact answer
_INTRADAY_RECENT = timedelta(days=30)  # what outputsize=full covers for intraday without month=


class AlphaVantageConnector(Connector):
    """Alpha Vantage as a market data connector.

    ``connection.tier`` names the key's plan (``free`` or ``premium_<calls per minute>``); see
    :func:`throttling_for`. Premium-only functions refused for the key's plan raise
    :class:`~portico.errors.NotSupported`; the daily quota raises :class:`~portico.errors.RateLimited`
    with ``retry_after`` set to the reset, and the per-minute throttle is retried within the retry budget.
    """

    spec: ClassVar = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(AlphaVantageConnection)
        self.tier = self.settings.tier
        self._client: AlphaVantageClient | None = None

    @classmethod
    def throttling_for(cls, connection: Mapping[str, Any]) -> RateLimitPolicy:
        """The default throttling for a system's ``connection`` (its ``tier``), before ``throttling`` overrides."""
        return rate_limit_policy(tier_of(connection))

    @property
    def client(self) -> AlphaVantageClient:
        """The HTTP client (created on first use)."""
        if self._client is None:
            self._client = AlphaVantageClient(self.context)
        return self._client

    async def open(self) -> None:
        self.client  # noqa: B018 - build the client (and fail on a missing key) at connect time

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _entitlement(self) -> str | None:
        return self.settings.entitlement

    async def check(self) -> CheckResult:
        """The manifest's health-check call (``SYMBOL_SEARCH`` for IBM): reachable and the key accepted.

        Every call spends the key's quota, so the check takes one unit of the system's shared budget
        now or not at all (never waiting for it) and is never retried; a spent budget or quota is
        reported as ``rate_limited_until``, not as a failure of the venue.
        """
        spec = self.spec.health_check
        assert spec is not None  # declared in the manifest
        endpoint = f"GET /query {spec.call}"
        started = _time.perf_counter()
        try:
            await self.context.acquire(endpoint, max_wait=0.0)
            # cost 0: the unit was taken just above, from the same shared limiter
            await self.client.query(spec.call, dict(spec.params), cost=0.0, retry=False)
        except RateLimited as exc:
            until = self.context.clock.now() + timedelta(seconds=exc.retry_after or 60.0)
            return CheckResult(
                ok=False,
                system=self.system,
                latency_ms=(_time.perf_counter() - started) * 1000,
                detail=f"rate limited until {until.isoformat()}: {exc.message}",
                checks={"reachable": True, "authenticated": True},
                rate_limited_until=until,
            )
        except PorticoError as exc:
            return CheckResult(
                ok=False,
                system=self.system,
                latency_ms=(_time.perf_counter() - started) * 1000,
                detail=f"{type(exc).__name__}: {exc.message}",
                checks={
                    "reachable": exc.status_code is not None,
                    "authenticated": type(exc).__name__ != "AuthError",
                },
            )
        return CheckResult(
            ok=True,
            system=self.system,
            latency_ms=(_time.perf_counter() - started) * 1000,
            detail=f"search answered ({self.tier} plan)",
            checks={"reachable": True, "authenticated": True},
        )

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
        """Bars oldest first, from the series function matching ``interval``.

        Compact answers (the last 100 rows) are asked for when ``limit`` or ``start`` fit in them; intraday
        history older than 30 days is fetched month by month (``month=YYYY-MM``).
        """
        interval = BarInterval(interval)
        symbol = symbol.strip().upper()
        function, av_interval = function_for(interval, adjusted=adjusted)
        params: dict[str, str | None] = {"symbol": symbol, "interval": av_interval}
        if av_interval is not None:
            params["adjusted"] = "true" if adjusted else "false"
            params["entitlement"] = self._entitlement()
        now = self.context.clock.now()
        months = self._months(interval, start, end, now)
        if months:
            bodies = [
                await self.client.query(function, {**params, "month": m, "outputsize": "full"})
                for m in months
            ]
        else:
            params["outputsize"] = "compact" if self._compact_fits(interval, start, limit, now) else "full"
            bodies = [await self.client.query(function, params)]
        bars: list[Bar] = []
        for body in bodies:
            bars.extend(
                bars_from_body(
                    body, function=function, symbol=symbol, interval=interval, av_interval=av_interval
                )
            )
        return _window(bars, start, end, limit)

    @staticmethod
    def _compact_fits(
        interval: BarInterval, start: datetime | None, limit: int | None, now: datetime
    ) -> bool:
        if interval in (BarInterval.WEEK, BarInterval.MONTH):
            return True  # weekly and monthly series are always complete
        if start is None:
            return limit is not None and limit <= _COMPACT
        if interval is BarInterval.DAY:
            # 100 trading days span about 140 calendar days
            return (now - start) < timedelta(days=135)
        return False

    @staticmethod
    def _months(
        interval: BarInterval, start: datetime | None, end: datetime | None, now: datetime
    ) -> list[str]:
        if interval in (BarInterval.DAY, BarInterval.WEEK, BarInterval.MONTH) or start is None:
            return []
        if now - start <= _INTRADAY_RECENT:
            return []
        first = start.astimezone(UTC).date().replace(day=1)
        last = (end or now).astimezone(UTC).date()
        months: list[str] = []
        day = first
        while day <= last:
            months.append(f"{day.year:04d}-{day.month:02d}")
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return months

    # -- quotes and search -----------------------------------------------------------------------

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """``GLOBAL_QUOTE`` for each symbol (one call each, paced by the shared limiter)."""
        wanted = [s.strip().upper() for s in symbols]

        async def one(symbol: str) -> Quote:
            body = await self.client.query(
                "GLOBAL_QUOTE", {"symbol": symbol, "entitlement": self._entitlement()}
            )
            return quote_from_body(body, now=self.context.clock.now())

        quotes = await asyncio.gather(*(one(s) for s in wanted))
        return dict(zip(wanted, quotes, strict=True))

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """``SYMBOL_SEARCH``: best match first."""
        found = instruments_from_body(await self.client.query("SYMBOL_SEARCH", {"keywords": query}))
        return found[:limit]

    # -- fundamentals ----------------------------------------------------------------------------

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """``OVERVIEW``, plus the three statements and ``EARNINGS`` when ``statements`` (five calls)."""
        symbol = symbol.strip().upper()
        overview = await self.client.query("OVERVIEW", {"symbol": symbol})
        if not statements:
            return fundamentals_from_bodies(overview)
        income = await self.client.query("INCOME_STATEMENT", {"symbol": symbol})
        balance = await self.client.query("BALANCE_SHEET", {"symbol": symbol})
        cash_flow = await self.client.query("CASH_FLOW", {"symbol": symbol})
        earnings = await self.client.query("EARNINGS", {"symbol": symbol})
        return fundamentals_from_bodies(
            overview, income=income, balance=balance, cash_flow=cash_flow, earnings=earnings
        )

    # -- corporate actions and news --------------------------------------------------------------

    async def get_corporate_actions(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[CorporateAction]:
        """``DIVIDENDS`` and ``SPLITS`` (two calls), oldest first, ex dates within ``[start, end]``.

        Dividends are in the listing's currency: USD for US symbols, else the currency ``SYMBOL_SEARCH``
        reports (not asked for US-style tickers, to spare the quota).
        """
        symbol = symbol.strip().upper()
        currency: str | None = "USD"
        if "." in symbol:
            found = await self.search_instruments(symbol, limit=10)
            currency = next((i.currency for i in found if i.symbol == symbol), None)
        body = await self.client.query("DIVIDENDS", {"symbol": symbol})
        dividends = dividends_from_body(body, currency=currency)
        splits = splits_from_body(await self.client.query("SPLITS", {"symbol": symbol}))
        actions = sorted([*dividends, *splits], key=lambda a: (a.ex_date, a.action_type.value))
        if start is not None:
            actions = [a for a in actions if a.ex_date >= start.astimezone(_NEW_YORK).date()]
        if end is not None:
            actions = [a for a in actions if a.ex_date <= end.astimezone(_NEW_YORK).date()]
        return actions

    async def get_news(
        self,
        symbols: list[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[NewsItem]:
        """``NEWS_SENTIMENT`` for ``tickers``, newest first, with the vendor's sentiment scores (one call,
        at most 1000 articles)."""
        if not symbols:
            raise ConfigurationError("Alpha Vantage news needs at least one symbol", system=self.system)
        params: dict[str, str | None] = {
            "tickers": ",".join(s.strip().upper() for s in symbols),
            "sort": "LATEST",
            "limit": str(min(limit or 50, 1000)),
            "time_from": start.astimezone(_NEW_YORK).strftime("%Y%m%dT%H%M") if start else None,
            "time_to": end.astimezone(_NEW_YORK).strftime("%Y%m%dT%H%M") if end else None,
        }
        items = news_from_body(await self.client.query("NEWS_SENTIMENT", params))
        return items[:limit] if limit is not None else items

    # -- FX --------------------------------------------------------------------------------------

    def _pair(self, base: str, quote: str) -> tuple[str, str]:
        pair = (base.strip().upper(), quote.strip().upper())
        for code in pair:
            if code not in CURRENCY_CODES:
                raise ConfigurationError(f"{code!r} is not an ISO 4217 currency code", system=self.system)
        return pair

    async def get_fx_rate(self, base: str, quote: str) -> FxRate:
        """``CURRENCY_EXCHANGE_RATE`` (with bid and ask when the vendor gives them)."""
        base, quote = self._pair(base, quote)
        body = await self.client.query(
            "CURRENCY_EXCHANGE_RATE", {"from_currency": base, "to_currency": quote}
        )
        return fx_rate_from_body(body)

    async def get_fx_series(
        self,
        base: str,
        quote: str,
        interval: BarInterval = BarInterval.DAY,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Bar]:
        """``FX_INTRADAY`` / ``FX_DAILY`` / ``FX_WEEKLY`` / ``FX_MONTHLY`` bars named ``BASE/QUOTE``."""
        base, quote = self._pair(base, quote)
        interval = BarInterval(interval)
        function, av_interval = function_for(interval, fx=True)
        now = self.context.clock.now()
        compact = (
            self._compact_fits(interval, start, limit, now)
            if interval is not BarInterval.DAY or start
            else (limit is not None and limit <= _COMPACT)
        )
        body = await self.client.query(
            function,
            {"from_symbol": base, "to_symbol": quote, "interval": av_interval,
             "outputsize": "compact" if compact else "full"},
        )  # fmt: skip
        bars = bars_from_body(
            body,
            function=function,
            symbol=f"{base}/{quote}",
            interval=interval,
            av_interval=av_interval,
            currency=quote,
        )
        return _window(bars, start, end, limit)


def _window(bars: list[Bar], start: datetime | None, end: datetime | None, limit: int | None) -> list[Bar]:
    if start is not None:
        bars = [b for b in bars if b.timestamp >= start]
    if end is not None:
        bars = [b for b in bars if b.timestamp <= end]
    if limit is not None:
        bars = bars[-limit:] if limit > 0 else []
    return bars
