"""The Alpha Vantage mock: ``GET /query`` speaking the vendor's wire format, quotas and in-body errors.

Built on the mock kit's :class:`~portico.mocks._kit.MockApp`, so the kit's HTTP faults (latency, 429, 5xx,
dropped connections, malformed bodies), request journal and clock endpoints under ``/__mock__/`` apply.
Alpha Vantage's own failure modes, which arrive inside HTTP 200 bodies, are injected through
``vendor_faults`` (see :mod:`portico.mocks.alpha_vantage._faults`) and two extra admin endpoints:
``GET|POST|DELETE /__mock__/alpha_vantage/faults`` and ``GET|POST /__mock__/alpha_vantage/keys/{key}``
(a key's tier and usage; POST ``{"tier": "premium_75"}`` moves it).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portico.mocks._kit import MarketDataGenerator, MockApp, MockClock, MockFaultSource
from portico.mocks._kit._news import NewsSource
from portico.mocks.alpha_vantage._faults import AlphaVantageFault, FaultBook
from portico.mocks.alpha_vantage._limits import QuotaBook, Tier
from portico.mocks.alpha_vantage._series import DailyRow, IntradayRow, SeriesSource
from portico.mocks.alpha_vantage._universe import DEFAULT_LISTINGS, Listing, match_score

__all__ = ["AlphaVantageMock", "create_app"]

NEW_YORK = ZoneInfo("America/New_York")
DOCS = "https://www.alphavantage.co/documentation/"
PREMIUM = "https://www.alphavantage.co/premium/"
INTERVALS = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}
DEFAULT_PREMIUM_FUNCTIONS = frozenset({"TIME_SERIES_DAILY_ADJUSTED", "FX_INTRADAY"})
"""Functions a free key is refused ("This is a premium endpoint"); reports over time differ, so configurable."""

_EQUITY_SERIES = {
    "TIME_SERIES_DAILY": ("Time Series (Daily)", "Daily Prices (open, high, low, close) and Volumes", "day"),
    "TIME_SERIES_DAILY_ADJUSTED": (
        "Time Series (Daily)",
        "Daily Time Series with Splits and Dividend Events",
        "day",
    ),
    "TIME_SERIES_WEEKLY": (
        "Weekly Time Series",
        "Weekly Prices (open, high, low, close) and Volumes",
        "week",
    ),
    "TIME_SERIES_WEEKLY_ADJUSTED": (
        "Weekly Adjusted Time Series",
        "Weekly Adjusted Prices and Volumes",
        "week",
    ),
    "TIME_SERIES_MONTHLY": (
        "Monthly Time Series",
        "Monthly Prices (open, high, low, close) and Volumes",
        "month",
    ),
    "TIME_SERIES_MONTHLY_ADJUSTED": (
        "Monthly Adjusted Time Series",
        "Monthly Adjusted Prices and Volumes",
        "month",
    ),
}
_FX_SERIES = {
    "FX_DAILY": ("Time Series FX (Daily)", "Forex Daily Prices (open, high, low, close)", "day"),
    "FX_WEEKLY": ("Time Series FX (Weekly)", "Forex Weekly Prices (open, high, low, close)", "week"),
    "FX_MONTHLY": ("Time Series FX (Monthly)", "Forex Monthly Prices (open, high, low, close)", "month"),
}
_CURRENCY_NAMES = {
    "USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling", "JPY": "Japanese Yen",
    "CHF": "Swiss Franc", "CAD": "Canadian Dollar", "AUD": "Australian Dollar", "NZD": "New Zealand Dollar",
    "SEK": "Swedish Krona", "NOK": "Norwegian Krone", "HKD": "Hong Kong Dollar", "CNY": "Chinese Yuan",
    "SGD": "Singapore Dollar",
}  # fmt: skip
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class _Refusal(Exception):
    """Stop handling and answer ``body`` (HTTP 200, the way Alpha Vantage refuses)."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(next(iter(body.values())))
        self.body = body


def invalid_call(function: str) -> dict[str, str]:
    """The ``Error Message`` body for an invalid call to ``function``."""
    return {
        "Error Message": f"Invalid API call. Please retry or visit the documentation ({DOCS}) for {function}."
    }


def premium_endpoint() -> dict[str, str]:
    """The ``Information`` body refusing a premium function to a free key."""
    return {
        "Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of "
        f"the premium plans at {PREMIUM} to instantly unlock all premium endpoints"
    }


def daily_quota(tier: Tier) -> dict[str, str]:
    """The ``Information`` body for an exhausted daily quota."""
    return {
        "Information": f"Thank you for using Alpha Vantage! Our standard API rate limit is {tier.per_day} requests "
        f"per day. Please subscribe to any of the premium plans at {PREMIUM} to instantly remove all daily rate limits."
    }


def minute_throttle(tier: Tier) -> dict[str, str]:
    """The ``Note`` body for the per-minute call frequency."""
    per_day = f" and {tier.per_day} calls per day" if tier.per_day else ""
    return {
        "Note": f"Thank you for using Alpha Vantage! Our standard API call frequency is {tier.per_minute} calls per "
        f"minute{per_day}. Please visit {PREMIUM} if you would like to target a higher API call frequency."
    }


def missing_key() -> dict[str, str]:
    """The ``Error Message`` body for a call without an API key."""
    return {
        "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on "
        "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
    }


def _p(value: float) -> str:
    return f"{value:.4f}"


def _fx(value: float) -> str:
    return f"{value:.5f}"


@dataclass
class _Call:
    function: str
    params: dict[str, str]
    now: datetime


class AlphaVantageMock:
    """The mock's state: generator, listings, per-key quotas, vendor faults and the clock.

    Args:
        seed: the data seed.
        faults: Alpha Vantage in-body fault rules (:class:`AlphaVantageFault` or dicts).
        clock: the mock's clock (default: the kit's frozen clock).
        symbols: extra symbols the mock knows (beyond its default listings).
        key_tiers: tier name per API key (``{"premium-key": "premium_75"}``); others are ``default_tier``.
        default_tier: the tier of unlisted keys (``free``).
        tiers: tier definitions overriding or extending the defaults (per-minute and per-day limits).
        premium_functions: functions refused to keys whose tier is not premium.
        history_start: the first day of full daily series.
    """

    def __init__(
        self,
        seed: int = 0,
        faults: Iterable[AlphaVantageFault | Mapping[str, Any]] | None = None,
        *,
        clock: MockClock | None = None,
        symbols: Iterable[str] = (),
        key_tiers: Mapping[str, str] | None = None,
        default_tier: str = "free",
        tiers: Mapping[str, Tier] | None = None,
        premium_functions: Iterable[str] = DEFAULT_PREMIUM_FUNCTIONS,
        history_start: date = date(2016, 1, 4),
    ) -> None:
        from portico.mocks.alpha_vantage._limits import DEFAULT_TIERS

        self.seed = seed
        self.clock = clock or MockClock()
        self.generator = MarketDataGenerator(seed)
        self.series = SeriesSource(self.generator, history_start=history_start)
        self.news = NewsSource(seed)
        self.listings: dict[str, Listing] = {item.symbol: item for item in DEFAULT_LISTINGS}
        for symbol in symbols:
            self.listings.setdefault(
                symbol.upper(), Listing(symbol.upper(), f"{symbol.upper()} Holdings Inc")
            )
        self.quotas = QuotaBook({**DEFAULT_TIERS, **(tiers or {})}, dict(key_tiers or {}), default_tier)
        self.premium_functions = frozenset(premium_functions)
        self.faults = FaultBook(faults or ())

    # -- the vendor endpoint -------------------------------------------------------------------

    async def query(self, request: Request) -> Response:
        """``GET /query``: dispatch on ``function`` the way Alpha Vantage does."""
        params = dict(request.query_params.items())
        return await self._answer(params.get("function", ""), params)

    async def _answer(self, function: str, params: dict[str, str]) -> Response:
        key = params.get("apikey", "")
        if not key:
            return _json(missing_key())
        handler = _HANDLERS.get(function)
        if handler is None:
            if not function:
                return _json({"Error Message": "the parameter function is invalid or missing. Please retry."})
            return _json({"Error Message": f"This API function ({function}) does not exist."})
        now = self.clock.now()
        fault = self.faults.pick(function)
        if fault is not None:
            tier = self.quotas.tier_of(key)
            if fault.kind == "latency":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "stale":
                now -= timedelta(seconds=fault.seconds)
            elif fault.kind == "note":
                return _json(minute_throttle(tier if tier.per_minute else Tier("free", 5, 25)))
            elif fault.kind == "information":
                return _json(daily_quota(tier if tier.per_day else Tier("free", 5, 25)))
            elif fault.kind == "premium":
                return _json(premium_endpoint())
            elif fault.kind == "error":
                return _json(invalid_call(function))
            elif fault.kind == "empty":
                return _json({})
            elif fault.kind == "non_json":
                return Response("<html><body><h1>Service temporarily unavailable</h1></body></html>", 200,
                                media_type="text/html")  # fmt: skip
            elif fault.kind in ("http_500", "http_503"):
                return Response("Internal Server Error", int(fault.kind[5:]), media_type="text/plain")
        verdict = self.quotas.take(key, self.clock.now())
        if verdict == "day":
            return _json(daily_quota(self.quotas.tier_of(key)))
        if verdict == "minute":
            return _json(minute_throttle(self.quotas.tier_of(key)))
        if function in self.premium_functions and not self.quotas.tier_of(key).premium:
            return _json(premium_endpoint())
        call = _Call(function, params, now)
        try:
            body = handler(self, call)
        except _Refusal as refusal:
            return _json(refusal.body)
        if isinstance(body, str):
            return Response(body, 200, media_type="application/x-download")
        return _json(body)

    # -- helpers -------------------------------------------------------------------------------

    def _symbol(self, call: _Call) -> str:
        symbol = call.params.get("symbol", "").strip().upper()
        if not symbol or symbol not in self.listings:
            raise _Refusal(invalid_call(call.function))
        return symbol

    def _csv(self, call: _Call) -> bool:
        datatype = call.params.get("datatype", "json").lower()
        if datatype not in ("json", "csv"):
            raise _Refusal(invalid_call(call.function))
        return datatype == "csv"

    @staticmethod
    def _compact(call: _Call) -> bool:
        return call.params.get("outputsize", "compact").lower() != "full"

    def _currency(self, call: _Call, name: str) -> str:
        code = call.params.get(name, "").strip().upper()
        if code not in self.generator.currencies():
            raise _Refusal(invalid_call(call.function))
        return code

    # -- functions -----------------------------------------------------------------------------

    def intraday(self, call: _Call) -> dict[str, Any] | str:
        symbol = self._symbol(call)
        interval = call.params.get("interval", "")
        if interval not in INTERVALS:
            raise _Refusal(invalid_call(call.function))
        month = call.params.get("month")
        if month is not None and not _MONTH.match(month):
            raise _Refusal(invalid_call(call.function))
        compact = self._compact(call) and month is None
        # intraday series are split- and dividend-adjusted unless adjusted=false, as at the vendor
        adjusted = call.params.get("adjusted", "true").lower() != "false"
        rows = self.series.intraday(
            symbol,
            call.now,
            INTERVALS[interval],
            limit=100 if compact else None,
            month=month,
            adjusted=adjusted,
        )
        if self._csv(call):
            return _rows_csv(rows, adjusted=False)
        last = rows[0].stamp.strftime("%Y-%m-%d %H:%M:%S") if rows else ""
        return {
            "Meta Data": {
                "1. Information": f"Intraday ({interval}) open, high, low, close prices and volume",
                "2. Symbol": symbol,
                "3. Last Refreshed": last,
                "4. Interval": interval,
                "5. Output Size": "Compact" if compact else "Full size",
                "6. Time Zone": "US/Eastern",
            },
            f"Time Series ({interval})": {
                r.stamp.strftime("%Y-%m-%d %H:%M:%S"): {
                    "1. open": _p(r.open),
                    "2. high": _p(r.high),
                    "3. low": _p(r.low),
                    "4. close": _p(r.close),
                    "5. volume": str(r.volume),
                }
                for r in rows
            },
        }

    def equity_series(self, call: _Call) -> dict[str, Any] | str:
        symbol = self._symbol(call)
        data_key, information, period = _EQUITY_SERIES[call.function]
        adjusted = call.function.endswith("_ADJUSTED")
        compact = self._compact(call)
        if period == "day":
            rows = self.series.daily(symbol, call.now, limit=100 if compact else None)
        else:
            # weekly and monthly series are always full, as at the vendor
            rows = self.series.periodic(symbol, call.now, period)
        if self._csv(call):
            return _rows_csv(rows, adjusted=adjusted, daily=period == "day")
        meta: dict[str, str] = {"1. Information": information, "2. Symbol": symbol}
        meta["3. Last Refreshed"] = rows[0].day.isoformat() if rows else ""
        if period == "day":
            meta["4. Output Size"] = "Compact" if compact else "Full size"
            meta["5. Time Zone"] = "US/Eastern"
        else:
            meta["4. Time Zone"] = "US/Eastern"
        return {
            "Meta Data": meta,
            data_key: {r.day.isoformat(): _row(r, adjusted, period == "day") for r in rows},
        }

    def global_quote(self, call: _Call) -> dict[str, Any] | str:
        symbol = self._symbol(call)
        rows = self.series.daily(symbol, call.now, limit=2)
        today, previous = rows[0], rows[1]
        change = today.close - previous.close
        values = [
            symbol, _p(today.open), _p(today.high), _p(today.low), _p(today.close), str(today.volume),
            today.day.isoformat(), _p(previous.close), _p(change), f"{change / previous.close * 100:.4f}%",
        ]  # fmt: skip
        if self._csv(call):
            header = "symbol,open,high,low,price,volume,latestDay,previousClose,change,changePercent"
            return _csv_text([header.split(","), values])
        names = ["01. symbol", "02. open", "03. high", "04. low", "05. price", "06. volume",
                 "07. latest trading day", "08. previous close", "09. change", "10. change percent"]  # fmt: skip
        return {"Global Quote": dict(zip(names, values, strict=True))}

    def symbol_search(self, call: _Call) -> dict[str, Any] | str:
        keywords = call.params.get("keywords", "")
        if not keywords.strip():
            raise _Refusal(invalid_call(call.function))
        scored = [(match_score(keywords, item), item) for item in self.listings.values()]
        best = sorted((pair for pair in scored if pair[0] > 0), key=lambda pair: (-pair[0], pair[1].symbol))[
            :10
        ]
        rows = [
            [
                i.symbol,
                i.name,
                i.type,
                i.region,
                i.market_open,
                i.market_close,
                i.timezone,
                i.currency,
                f"{s:.4f}",
            ]
            for s, i in best
        ]
        if self._csv(call):
            header = "symbol,name,type,region,marketOpen,marketClose,timezone,currency,matchScore"
            return _csv_text([header.split(","), *rows])
        names = ["1. symbol", "2. name", "3. type", "4. region", "5. marketOpen", "6. marketClose", "7. timezone",
                 "8. currency", "9. matchScore"]  # fmt: skip
        return {"bestMatches": [dict(zip(names, row, strict=True)) for row in rows]}

    def overview(self, call: _Call) -> dict[str, Any]:
        symbol = self._symbol(call)
        listing = self.listings[symbol]
        f = self.generator.fundamentals(symbol, call.now)
        rows = self.series.daily(symbol, call.now, limit=260)
        closes = [r.close for r in rows]
        quarter = _quarter_end(call.now.date())
        dividends = [r.dividend for r in rows if r.dividend]
        return {
            "Symbol": symbol,
            "AssetType": "ETF" if listing.type == "ETF" else "Common Stock",
            "Name": listing.name,
            "Description": f"{listing.name} is a company simulated by the portico Alpha Vantage mock.",
            "CIK": str(100000 + self.generator.seed * 7 + sum(map(ord, symbol))),
            "Exchange": f["exchange"],
            "Currency": listing.currency,
            "Country": "USA" if listing.region == "United States" else listing.region,
            "Sector": str(f["sector"]).upper(),
            "Industry": str(f["industry"]).upper(),
            "Address": "1 MOCK STREET, NEW YORK, NY, US",
            "FiscalYearEnd": f["fiscal_year_end"],
            "LatestQuarter": quarter.isoformat(),
            "MarketCapitalization": str(f["market_capitalization"]),
            "EBITDA": str(int(f["revenue"] * 0.3)),  # type: ignore[operator]
            "PERatio": str(f["pe_ratio"]),
            "PEGRatio": "None",
            "BookValue": _p(closes[0] / 4),
            "DividendPerShare": f"{sum(dividends):.2f}" if dividends else "None",
            "DividendYield": str(f["dividend_yield"]),
            "EPS": str(f["eps"]),
            "RevenueTTM": str(f["revenue"]),
            "Beta": str(f["beta"]),
            "52WeekHigh": f"{max(r.high for r in rows):.2f}",
            "52WeekLow": f"{min(r.low for r in rows):.2f}",
            "50DayMovingAverage": f"{sum(closes[:50]) / min(50, len(closes)):.2f}",
            "200DayMovingAverage": f"{sum(closes[:200]) / min(200, len(closes)):.2f}",
            "SharesOutstanding": str(f["shares_outstanding"]),
            "DividendDate": "None",
            "ExDividendDate": next((r.day.isoformat() for r in rows if r.dividend), "None"),
        }

    def statements(self, call: _Call) -> dict[str, Any]:
        symbol = self._symbol(call)
        f = self.generator.fundamentals(symbol, call.now)
        revenue = float(f["revenue"])  # type: ignore[arg-type]
        end = _quarter_end(call.now.date())
        annual_end = date(end.year - 1, 12, 31)
        annual = [
            self._report(call.function, symbol, date(annual_end.year - i, 12, 31), revenue * 0.95**i)
            for i in range(5)
        ]
        quarterly = []
        q = end
        for i in range(12):
            quarterly.append(self._report(call.function, symbol, q, revenue / 4 * 0.98**i))
            q = _quarter_end(q.replace(day=1) - timedelta(days=1))
        return {"symbol": symbol, "annualReports": annual, "quarterlyReports": quarterly}

    def _report(self, function: str, symbol: str, period_end: date, revenue: float) -> dict[str, str]:
        import random

        rng = random.Random(f"{self.generator.seed}|{symbol}|{function}|{period_end}")
        r = int(revenue)
        head = {"fiscalDateEnding": period_end.isoformat(), "reportedCurrency": "USD"}
        if function == "INCOME_STATEMENT":
            cost = int(r * rng.uniform(0.4, 0.7))
            operating = int((r - cost) * rng.uniform(0.3, 0.6))
            net = int(operating * rng.uniform(0.6, 0.85))
            return {**head, "grossProfit": str(r - cost), "totalRevenue": str(r), "costOfRevenue": str(cost),
                    "operatingIncome": str(operating), "researchAndDevelopment": str(int(r * 0.08)),
                    "incomeBeforeTax": str(int(operating * 0.95)), "incomeTaxExpense": str(int(operating * 0.95) - net),
                    "interestExpense": str(int(r * 0.01)), "ebit": str(operating), "ebitda": str(int(operating * 1.2)),
                    "netIncome": str(net), "nonRecurring": "None"}  # fmt: skip
        if function == "BALANCE_SHEET":
            assets = int(r * rng.uniform(1.5, 3.0))
            liabilities = int(assets * rng.uniform(0.4, 0.7))
            return {**head, "totalAssets": str(assets), "totalCurrentAssets": str(int(assets * 0.35)),
                    "cashAndCashEquivalentsAtCarryingValue": str(int(assets * 0.1)),
                    "totalLiabilities": str(liabilities), "totalCurrentLiabilities": str(int(liabilities * 0.4)),
                    "longTermDebt": str(int(liabilities * 0.3)), "totalShareholderEquity": str(assets - liabilities),
                    "commonStockSharesOutstanding": str(rng.randint(50, 16000) * 1_000_000), "goodwill": "None"}  # fmt: skip
        operating_cf = int(r * rng.uniform(0.1, 0.3))
        capex = int(r * rng.uniform(0.02, 0.1))
        return {**head, "operatingCashflow": str(operating_cf), "capitalExpenditures": str(capex),
                "cashflowFromInvestment": str(-capex), "cashflowFromFinancing": str(-int(operating_cf * 0.4)),
                "dividendPayout": str(int(operating_cf * 0.2)), "netIncome": str(int(r * 0.12)),
                "changeInCashAndCashEquivalents": str(int(operating_cf * 0.4 - capex))}  # fmt: skip

    def earnings(self, call: _Call) -> dict[str, Any]:
        import random

        symbol = self._symbol(call)
        f = self.generator.fundamentals(symbol, call.now)
        eps = float(f["eps"])  # type: ignore[arg-type]
        rng = random.Random(f"{self.generator.seed}|{symbol}|EARNINGS")
        quarterly = []
        q = _quarter_end(call.now.date())
        for _ in range(12):
            estimated = eps / 4 * rng.uniform(0.85, 1.15)
            reported = estimated * rng.uniform(0.9, 1.12)
            surprise = reported - estimated
            quarterly.append({
                "fiscalDateEnding": q.isoformat(), "reportedDate": (q + timedelta(days=25)).isoformat(),
                "reportedEPS": f"{reported:.2f}", "estimatedEPS": f"{estimated:.4f}", "surprise": f"{surprise:.4f}",
                "surprisePercentage": f"{surprise / estimated * 100:.4f}", "reportTime": "post-market",
            })  # fmt: skip
            q = _quarter_end(q.replace(day=1) - timedelta(days=1))
        annual = []
        for year in sorted({r["fiscalDateEnding"][:4] for r in quarterly}, reverse=True):
            total = sum(float(r["reportedEPS"]) for r in quarterly if r["fiscalDateEnding"].startswith(year))
            annual.append({"fiscalDateEnding": f"{year}-12-31", "reportedEPS": f"{total:.2f}"})
        return {"symbol": symbol, "annualEarnings": annual, "quarterlyEarnings": quarterly}

    def exchange_rate(self, call: _Call) -> dict[str, Any]:
        base = self._currency(call, "from_currency")
        quote = self._currency(call, "to_currency")
        rate = self.generator.fx_rate(base, quote, call.now)
        half = rate * 0.00005
        return {
            "Realtime Currency Exchange Rate": {
                "1. From_Currency Code": base,
                "2. From_Currency Name": _CURRENCY_NAMES.get(base, base),
                "3. To_Currency Code": quote,
                "4. To_Currency Name": _CURRENCY_NAMES.get(quote, quote),
                "5. Exchange Rate": f"{rate:.8f}",
                "6. Last Refreshed": call.now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "7. Time Zone": "UTC",
                "8. Bid Price": f"{rate - half:.8f}",
                "9. Ask Price": f"{rate + half:.8f}",
            }
        }

    def fx_series(self, call: _Call) -> dict[str, Any] | str:
        base = self._currency(call, "from_symbol")
        quote = self._currency(call, "to_symbol")
        data_key, information, period = _FX_SERIES[call.function]
        compact = self._compact(call)
        if period == "day":
            rows = self.series.fx_daily(base, quote, call.now, limit=100 if compact else None)
        else:
            days = self.series.fx_daily(base, quote, call.now, limit=None)
            rows = _group(days, period)
            rows = rows[:100] if compact else rows
        if self._csv(call):
            return _csv_text([["timestamp", "open", "high", "low", "close"]]
                             + [[r.day.isoformat(), _fx(r.open), _fx(r.high), _fx(r.low), _fx(r.close)] for r in rows])  # fmt: skip
        meta = {
            "1. Information": information,
            "2. From Symbol": base,
            "3. To Symbol": quote,
            "4. Output Size": "Compact" if compact else "Full size",
            "5. Last Refreshed": call.now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "6. Time Zone": "UTC",
        }
        return {
            "Meta Data": meta,
            data_key: {
                r.day.isoformat(): {
                    "1. open": _fx(r.open),
                    "2. high": _fx(r.high),
                    "3. low": _fx(r.low),
                    "4. close": _fx(r.close),
                }
                for r in rows
            },
        }

    def fx_intraday(self, call: _Call) -> dict[str, Any] | str:
        base = self._currency(call, "from_symbol")
        quote = self._currency(call, "to_symbol")
        interval = call.params.get("interval", "")
        if interval not in INTERVALS:
            raise _Refusal(invalid_call(call.function))
        compact = self._compact(call)
        rows = self.series.fx_intraday(
            base, quote, call.now, INTERVALS[interval], limit=100 if compact else 2000
        )
        stamp = "%Y-%m-%d %H:%M:%S"
        if self._csv(call):
            return _csv_text([["timestamp", "open", "high", "low", "close"]]
                             + [[r.stamp.strftime(stamp), _fx(r.open), _fx(r.high), _fx(r.low), _fx(r.close)] for r in rows])  # fmt: skip
        return {
            "Meta Data": {
                "1. Information": f"FX Intraday ({interval}) Time Series",
                "2. From Symbol": base,
                "3. To Symbol": quote,
                "4. Last Refreshed": rows[0].stamp.strftime(stamp) if rows else "",
                "5. Interval": interval,
                "6. Output Size": "Compact" if compact else "Full size",
                "7. Time Zone": "UTC",
            },
            f"Time Series FX ({interval})": {
                r.stamp.strftime(stamp): {
                    "1. open": _fx(r.open),
                    "2. high": _fx(r.high),
                    "3. low": _fx(r.low),
                    "4. close": _fx(r.close),
                }
                for r in rows
            },
        }

    def _actions(self, call: _Call, kind: str) -> list[Any]:
        symbol = self._symbol(call)
        today = call.now.astimezone(NEW_YORK).date()
        # the same actions the adjusted series carry (its dividend amount and split coefficient columns)
        first = self.series.history_start - timedelta(days=400)
        actions = self.generator.corporate_actions(symbol, first, today)
        return [a for a in actions if a.kind == kind]

    def dividends(self, call: _Call) -> dict[str, Any]:
        """``DIVIDENDS``: every cash dividend, newest first, dates as the vendor gives them."""
        symbol = self._symbol(call)
        rows = [
            {
                "ex_dividend_date": a.ex_date.isoformat(),
                "declaration_date": (a.ex_date - timedelta(days=21)).isoformat(),
                "record_date": a.record_date.isoformat(),
                "payment_date": a.pay_date.isoformat(),
                "amount": f"{a.cash_amount:.2f}",
            }
            for a in reversed(self._actions(call, "cash_dividend"))
        ]
        return {"symbol": symbol, "data": rows}

    def splits(self, call: _Call) -> dict[str, Any]:
        """``SPLITS``: every split, newest first, ``split_factor`` new shares per old share."""
        symbol = self._symbol(call)
        rows = [
            {"effective_date": a.ex_date.isoformat(), "split_factor": f"{a.ratio_to / a.ratio_from:.4f}"}
            for a in reversed(self._actions(call, "split"))
        ]
        return {"symbol": symbol, "data": rows}

    def news_sentiment(self, call: _Call) -> dict[str, Any]:
        """``NEWS_SENTIMENT``: articles about ``tickers`` in ``time_from``..``time_to`` (``YYYYMMDDTHHMM``)."""
        tickers = [t.strip().upper() for t in call.params.get("tickers", "").split(",") if t.strip()]
        if not tickers or any(t not in self.listings for t in tickers):
            raise _Refusal(
                {"Information": "Invalid inputs. Please refer to the API documentation "
                 f"{DOCS}#news-sentiment and try again."}
            )  # fmt: skip
        sort = call.params.get("sort", "LATEST").upper()
        try:
            limit = int(call.params.get("limit", "50"))
            start = _news_time(call.params.get("time_from"))
            end = _news_time(call.params.get("time_to"))
        except ValueError:
            raise _Refusal(invalid_call(call.function)) from None
        if sort not in ("LATEST", "EARLIEST", "RELEVANCE") or not 1 <= limit <= 1000:
            raise _Refusal(invalid_call(call.function))
        articles = self.news.articles(
            tickers, start=start, end=end, now=call.now, limit=limit, newest_first=sort != "EARLIEST"
        )
        feed = []
        for a in articles:
            feed.append({
                "title": a.headline, "url": a.url, "time_published": a.published_at.astimezone(NEW_YORK).strftime("%Y%m%dT%H%M%S"),
                "authors": [a.author], "summary": a.summary, "banner_image": None, "source": a.publisher,
                "category_within_source": "n/a", "source_domain": a.url.split("/")[2],
                "topics": [{"topic": a.topic, "relevance_score": "0.5"}],
                "overall_sentiment_score": a.sentiment, "overall_sentiment_label": a.sentiment_label,
                "ticker_sentiment": [{"ticker": a.symbol, "relevance_score": "0.9",
                                      "ticker_sentiment_score": f"{a.sentiment:.6f}",
                                      "ticker_sentiment_label": a.sentiment_label}],
            })  # fmt: skip
        return {
            "items": str(len(feed)),
            "sentiment_score_definition": "x <= -0.35: Bearish; -0.35 < x <= -0.15: Somewhat-Bearish; "
            "-0.15 < x < 0.15: Neutral; 0.15 <= x < 0.35: Somewhat_Bullish; x >= 0.35: Bullish",
            "relevance_score_definition": "0 < x <= 1, with a higher score indicating higher relevance.",
            "feed": feed,
        }

    # -- admin ---------------------------------------------------------------------------------

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "POST":
            payload = await request.json()
            try:
                self.faults.extend(payload if isinstance(payload, list) else [payload])
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
        elif request.method == "DELETE":
            self.faults.clear()
        return JSONResponse([rule.as_dict() for rule in self.faults.rules])

    async def admin_key(self, request: Request) -> Response:
        key = request.path_params["key"]
        if request.method == "POST":
            tier = (await request.json()).get("tier", "")
            try:
                self.quotas.set_tier(key, tier)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(self.quotas.usage(key))


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, indent=4), 200, media_type="application/json")


def _row(r: DailyRow, adjusted: bool, daily: bool) -> dict[str, str]:
    if not adjusted:
        return {"1. open": _p(r.open), "2. high": _p(r.high), "3. low": _p(r.low), "4. close": _p(r.close),
                "5. volume": str(r.volume)}  # fmt: skip
    out = {"1. open": _p(r.open), "2. high": _p(r.high), "3. low": _p(r.low), "4. close": _p(r.close),
           "5. adjusted close": _p(r.adjusted_close), "6. volume": str(r.volume),
           "7. dividend amount": _p(r.dividend)}  # fmt: skip
    if daily:
        out["8. split coefficient"] = f"{r.split:.1f}"
    return out


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _rows_csv(rows: list[DailyRow] | list[IntradayRow], *, adjusted: bool, daily: bool = True) -> str:
    header = ["timestamp", "open", "high", "low", "close"]
    if adjusted:
        header += ["adjusted_close", "volume", "dividend_amount"] + (["split_coefficient"] if daily else [])
    else:
        header += ["volume"]
    out: list[list[str]] = [header]
    for r in rows:
        if isinstance(r, IntradayRow):
            out.append(
                [
                    r.stamp.strftime("%Y-%m-%d %H:%M:%S"),
                    _p(r.open),
                    _p(r.high),
                    _p(r.low),
                    _p(r.close),
                    str(r.volume),
                ]
            )
            continue
        line = [r.day.isoformat(), _p(r.open), _p(r.high), _p(r.low), _p(r.close)]
        if adjusted:
            line += [_p(r.adjusted_close), str(r.volume), _p(r.dividend)] + (
                [f"{r.split:.1f}"] if daily else []
            )
        else:
            line += [str(r.volume)]
        out.append(line)
    return _csv_text(out)


def _group(days: list[DailyRow], period: str) -> list[DailyRow]:
    groups: dict[tuple[int, int], list[DailyRow]] = {}
    for row in days:
        key = row.day.isocalendar()[:2] if period == "week" else (row.day.year, row.day.month)
        groups.setdefault(key, []).append(row)
    return [
        DailyRow(
            rows[0].day,
            rows[-1].open,
            max(r.high for r in rows),
            min(r.low for r in rows),
            rows[0].close,
            0,
            rows[0].close,
        )
        for rows in groups.values()
    ]


def _news_time(value: str | None) -> datetime | None:
    """``YYYYMMDDTHHMM`` (seconds optional), New York wall time as the feed's stamps; ValueError when malformed."""
    if not value:
        return None
    fmt = "%Y%m%dT%H%M%S" if len(value) == 15 else "%Y%m%dT%H%M"
    return datetime.strptime(value, fmt).replace(tzinfo=NEW_YORK).astimezone(UTC)


def _quarter_end(day: date) -> date:
    """The end of the last quarter that closed before ``day``."""
    q_month = ((day.month - 1) // 3) * 3  # last month of the previous quarter (0 = December last year)
    if q_month == 0:
        return date(day.year - 1, 12, 31)
    following = date(day.year, q_month + 1, 1)
    return following - timedelta(days=1)


_HANDLERS = {
    "TIME_SERIES_INTRADAY": AlphaVantageMock.intraday,
    **{name: AlphaVantageMock.equity_series for name in _EQUITY_SERIES},
    "GLOBAL_QUOTE": AlphaVantageMock.global_quote,
    "SYMBOL_SEARCH": AlphaVantageMock.symbol_search,
    "OVERVIEW": AlphaVantageMock.overview,
    "INCOME_STATEMENT": AlphaVantageMock.statements,
    "BALANCE_SHEET": AlphaVantageMock.statements,
    "CASH_FLOW": AlphaVantageMock.statements,
    "EARNINGS": AlphaVantageMock.earnings,
    "DIVIDENDS": AlphaVantageMock.dividends,
    "SPLITS": AlphaVantageMock.splits,
    "NEWS_SENTIMENT": AlphaVantageMock.news_sentiment,
    "CURRENCY_EXCHANGE_RATE": AlphaVantageMock.exchange_rate,
    **{name: AlphaVantageMock.fx_series for name in _FX_SERIES},
    "FX_INTRADAY": AlphaVantageMock.fx_intraday,
}


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    clock: MockClock | None = None,
    start: datetime | None = None,
    realtime: bool | None = None,
    vendor_faults: Iterable[AlphaVantageFault | Mapping[str, Any]] | None = None,
    **options: Any,
) -> MockApp:
    """The Alpha Vantage mock as an ASGI app.

    Args:
        seed: the data seed (same seed, same numbers).
        faults: the kit's HTTP-level fault rules (file path, rules as data, or a plan).
        clock: the simulated clock; without one, a clock starting at ``start`` (default: now) that follows
            wall time unless ``start`` is pinned, as the Alpaca mock's does, so served data looks live.
        start: simulated time at start.
        realtime: whether the clock runs with wall time (default: when ``start`` is not given).
        vendor_faults: Alpha Vantage in-body faults (``note``, ``information``, ``premium``, ``error``,
            ``empty``, ``non_json``, ``http_500``, ``stale``, ``latency``).
        **options: :class:`AlphaVantageMock` options (``symbols``, ``key_tiers``, ``default_tier``, ``tiers``,
            ``premium_functions``, ``history_start``).

    Returns:
        The app; ``app.state.mock`` is the :class:`AlphaVantageMock` (quotas, vendor faults, series).
    """
    if clock is None:
        if realtime is None:
            realtime = start is None
        clock = MockClock(start or datetime.now(UTC).replace(microsecond=0), realtime=realtime)
    mock = AlphaVantageMock(seed, vendor_faults, clock=clock, **options)
    app = MockApp(
        [
            Route("/query", mock.query, methods=["GET"]),
            Route("/__mock__/alpha_vantage/faults", mock.admin_faults, methods=["GET", "POST", "DELETE"]),
            Route("/__mock__/alpha_vantage/keys/{key}", mock.admin_key, methods=["GET", "POST"]),
        ],
        name="alpha_vantage",
        seed=seed,
        faults=faults,
        clock=clock,
    )
    app.state.mock = mock
    return app
