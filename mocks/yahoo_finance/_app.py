"""The Yahoo Finance mock: the hosts and paths yfinance and the portico connector call, in Yahoo's shapes.

Routes (on the Host header when it names a Yahoo host, so one server stands in for all of them):

* ``fc.yahoo.com /`` (any host's ``/``): sets the ``A3`` session cookie (Yahoo answers 404 there, with the cookie).
* ``query1|query2 /v1/test/getcrumb``: the crumb (plain text) bound to the ``A3`` cookie presented.
* ``/v8/finance/chart/{symbol}``: bars, events and ``meta``; no crumb needed (as at Yahoo).
* ``/v7/finance/quote?symbols=``: quotes; crumb needed.
* ``/v10/finance/quoteSummary/{symbol}?modules=``: fundamentals modules; crumb needed.
* ``/v1/finance/search?q=``: instrument search.
* ``/ws/fundamentals-timeseries/v1/finance/timeseries/{symbol}``: trailing key figures (yfinance's ``info``
  asks for ``trailingPegRatio`` there).

Failure modes: a missing or stale crumb answers 401 ``{"finance": {"result": null, "error": {"code":
"Unauthorized", "description": "Invalid Crumb"}}}``; an unknown symbol answers ``chart.error`` (404) or is left
out of quote results; past ``rate_limit`` requests per window every Yahoo path answers 429 ``Too Many
Requests`` (plain text, no ``Retry-After``, as Yahoo's edge does). Crumbs expire after ``crumb_ttl`` seconds of
mock time, or at once through ``DELETE /__mock__/yahoo_finance/crumbs``; ``GET|POST
/__mock__/yahoo_finance/throttle`` reads or sets the limit. The kit's HTTP faults and journal apply as well.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import (
    MarketDataGenerator,
    MockApp,
    MockClock,
    MockFaultSource,
    is_trading_day,
    json_response,
    session_bounds,
)
from portico.mocks._kit._news import NewsSource
from portico.mocks.yahoo_finance._chart import ChartError, build_chart, parse_request
from portico.mocks.yahoo_finance._series import Candle, PriceSeries
from portico.mocks.yahoo_finance._universe import DEFAULT_LISTINGS, Listing, search_score

__all__ = ["COOKIE_HOSTS", "DATA_HOSTS", "QUOTE_SUMMARY_MODULES", "YahooFinanceMock", "create_app"]

NEW_YORK = ZoneInfo("America/New_York")

COOKIE_HOSTS = frozenset({"fc.yahoo.com", "finance.yahoo.com"})
"""Hosts whose ``/`` hands out the session cookie."""

DATA_HOSTS = frozenset({"query1.finance.yahoo.com", "query2.finance.yahoo.com"})
"""Hosts serving the JSON APIs (Yahoo serves the same paths on both)."""

QUOTE_SUMMARY_MODULES = (
    "price", "summaryDetail", "assetProfile", "summaryProfile", "financialData", "quoteType",
    "defaultKeyStatistics", "calendarEvents",
)  # fmt: skip
"""The quoteSummary modules the mock fills; others named in ``modules`` are left out of the result."""

_CRUMB_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./"
_INVALID_CRUMB = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}
}
_INVALID_COOKIE = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Cookie"}}
}
_TOO_MANY = "Too Many Requests"


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()


def _text(value: bytes, length: int) -> str:
    return "".join(_CRUMB_ALPHABET[b % len(_CRUMB_ALPHABET)] for b in value[:length])


def _formatted(value: Any) -> Any:
    """A value as Yahoo writes it with ``formatted=true``: numbers become ``{"raw", "fmt"}``."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return {"raw": value, "fmt": f"{value:,}", "longFmt": f"{value:,}"}
    if isinstance(value, float):
        return {"raw": value, "fmt": f"{value:.2f}"}
    if isinstance(value, dict):
        return {k: _formatted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_formatted(v) for v in value]
    return value


def _last_session_before(day: date) -> date:
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


class YahooFinanceMock:
    """The mock's state: listings, prices, issued cookies and crumbs, the throttle and the clock.

    Args:
        seed: the data seed (same seed, same numbers).
        clock: the mock's clock.
        symbols: extra symbols the mock knows (beyond its default listings).
        history_start: the first day of data (``range=max`` starts there).
        rate_limit: requests allowed per ``rate_window`` seconds on Yahoo's paths (None: no limit).
        rate_window: the throttle's window in seconds.
        crumb_ttl: seconds a crumb stays valid (None: until expired by the admin endpoint).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        clock: MockClock | None = None,
        symbols: Iterable[str] = (),
        history_start: date = date(2016, 1, 4),
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        crumb_ttl: float | None = None,
    ) -> None:
        self.seed = seed
        self.clock = clock or MockClock()
        self.generator = MarketDataGenerator(seed)
        self.news = NewsSource(seed)
        self.series = PriceSeries(self.generator, history_start=history_start)
        self.listings: dict[str, Listing] = {item.symbol: item for item in DEFAULT_LISTINGS}
        for symbol in symbols:
            upper = symbol.upper()
            self.listings.setdefault(upper, Listing(upper, f"{upper} Holdings Inc.", f"{upper} Holdings"))
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.crumb_ttl = crumb_ttl
        self._served: deque[float] = deque()
        self.cookies: dict[str, datetime] = {}
        """Every ``A3`` cookie value issued, with when."""
        self.crumbs: dict[str, tuple[str, datetime]] = {}
        """The crumb bound to each cookie, with when it was issued."""
        self.throttled = 0
        """How many requests were answered 429."""
        self._charts: OrderedDict[tuple[Any, ...], bytes | memoryview] = OrderedDict()

    # -- guards ------------------------------------------------------------------------------

    @staticmethod
    def _host(request: Request) -> str:
        return request.headers.get("host", "").split(":")[0].lower()

    def _wrong_host(self, request: Request, hosts: frozenset[str]) -> Response | None:
        host = self._host(request)
        if host.endswith("yahoo.com") and host not in hosts:
            return Response("<html><body>Not Found</body></html>", 404, media_type="text/html")
        return None

    def _throttle(self) -> Response | None:
        if self.rate_limit is None:
            return None
        now = self.clock.now().timestamp()
        while self._served and self._served[0] <= now - self.rate_window:
            self._served.popleft()
        if len(self._served) >= self.rate_limit:
            self.throttled += 1
            return Response(_TOO_MANY, 429, media_type="text/plain")
        self._served.append(now)
        return None

    def _guard(self, request: Request, hosts: frozenset[str]) -> Response | None:
        return self._wrong_host(request, hosts) or self._throttle()

    def _crumb_ok(self, request: Request) -> bool:
        cookie = request.cookies.get("A3")
        crumb = request.query_params.get("crumb")
        if not cookie or not crumb or cookie not in self.crumbs:
            return False
        issued_crumb, issued_at = self.crumbs[cookie]
        if self.crumb_ttl is not None and self.clock.now() - issued_at > timedelta(seconds=self.crumb_ttl):
            return False
        return crumb == issued_crumb

    def expire_crumbs(self) -> int:
        """Invalidate every crumb issued (cookies stay valid); returns how many there were."""
        count = len(self.crumbs)
        self.crumbs.clear()
        return count

    # -- cookie and crumb --------------------------------------------------------------------

    async def cookie(self, request: Request) -> Response:
        """``GET /``: a new ``A3`` cookie for the ``.yahoo.com`` domain when a Yahoo host was asked."""
        host = self._host(request)
        refused = self._wrong_host(request, COOKIE_HOSTS)
        if refused is not None:
            return refused
        now = self.clock.now()
        n = len(self.cookies)
        value = (
            f"d=AQABBA{_text(_digest(self.seed, 'a3', n), 22)}&S=AQAAA{_text(_digest(self.seed, 's', n), 18)}"
        )
        value = value.replace("/", "Z").replace(".", "Q")  # cookie values stay free of separators
        self.cookies[value] = now
        expires = (now + timedelta(days=365)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        domain = "; Domain=.yahoo.com" if host.endswith("yahoo.com") else ""
        # fc.yahoo.com has no page: it answers 404 and sets the cookie all the same
        status = 404 if host == "fc.yahoo.com" else 200
        response = Response("<html><body>Yahoo</body></html>", status, media_type="text/html")
        response.headers.append(
            "set-cookie",
            f"A3={value}; Expires={expires}; Max-Age=31557600{domain}; Path=/; SameSite=None; Secure; HttpOnly",
        )
        return response

    async def getcrumb(self, request: Request) -> Response:
        """``GET /v1/test/getcrumb``: the crumb of the ``A3`` cookie presented (a new one after expiry)."""
        refused = self._guard(request, DATA_HOSTS)
        if refused is not None:
            return refused
        cookie = request.cookies.get("A3")
        if not cookie or cookie not in self.cookies:
            return json_response(_INVALID_COOKIE, 401)
        now = self.clock.now()
        current = self.crumbs.get(cookie)
        fresh = current is not None and (
            self.crumb_ttl is None or now - current[1] <= timedelta(seconds=self.crumb_ttl)
        )
        if not fresh:
            crumb = _text(_digest(self.seed, "crumb", cookie, now.isoformat(), len(self.crumbs)), 11)
            self.crumbs[cookie] = (crumb, now)
        return Response(self.crumbs[cookie][0], 200, media_type="text/plain")

    # -- chart -------------------------------------------------------------------------------

    async def chart(self, request: Request) -> Response:
        """``GET /v8/finance/chart/{symbol}``."""
        refused = self._guard(request, DATA_HOSTS)
        if refused is not None:
            return refused
        symbol = request.path_params["symbol"].upper()
        listing = self.listings.get(symbol)
        now = self.clock.now()
        try:
            if listing is None:
                raise ChartError(404, "Not Found", "No data found, symbol may be delisted")
            chart_request = parse_request(dict(request.query_params.items()), now, self.series.history_start)
        except ChartError as error:
            return json_response(error.body(), error.status)
        # the answer depends on the symbol, the query and the mock's time alone: kept while the clock stands
        # still (a pinned clock), so a benchmark of many series measures the client rather than the mock
        key = (symbol, tuple(sorted(request.query_params.multi_items())), now)
        body = self._charts.get(key)
        if body is None:
            result = build_chart(self.series, listing, chart_request, now)
            body = json_response({"chart": {"result": [result], "error": None}}).body
            self._charts[key] = body
            if len(self._charts) > 256:
                self._charts.popitem(last=False)
        return Response(body, media_type="application/json")

    # -- quotes ------------------------------------------------------------------------------

    def _sessions(self, symbol: str, now: datetime) -> tuple[Candle | None, Candle | None]:
        today = now.astimezone(NEW_YORK).date()
        days = self.series.days(symbol, today - timedelta(days=10), today, now)
        latest = days[-1] if days else None
        previous = days[-2] if len(days) > 1 else None
        return latest, previous

    @staticmethod
    def _market_state(now: datetime) -> str:
        day = now.astimezone(NEW_YORK).date()
        if not is_trading_day(day):
            return "CLOSED"
        open_, close = session_bounds(day)
        if open_ - timedelta(hours=5, minutes=30) <= now < open_:
            return "PRE"
        if open_ <= now < close:
            return "REGULAR"
        if close <= now < close + timedelta(hours=4):
            return "POST"
        return "CLOSED"

    def quote_row(self, listing: Listing, now: datetime) -> dict[str, Any]:
        """One ``quoteResponse.result`` item."""
        symbol = listing.symbol
        latest, previous = self._sessions(symbol, now)
        book = self.generator.quote(symbol, now)
        scale = self.generator.split_factor(symbol, now.astimezone(NEW_YORK).date())
        price = latest.close if latest else None
        prior = previous.close if previous else None
        change = round(price - prior, 4) if price is not None and prior is not None else None
        f = self.generator.fundamentals(symbol, now)
        market_time = min(now, session_bounds(latest.start.astimezone(NEW_YORK).date())[1]) if latest else now
        offset = now.astimezone(NEW_YORK).utcoffset() or timedelta(0)
        row: dict[str, Any] = {
            "language": "en-US",
            "region": "US",
            "quoteType": listing.quote_type,
            "typeDisp": listing.type_disp,
            "quoteSourceName": "Nasdaq Real Time Price",
            "triggerable": True,
            "currency": listing.currency,
            "exchange": listing.exchange,
            "shortName": listing.short_name,
            "longName": listing.long_name,
            "messageBoardId": f"finmb_{int.from_bytes(_digest(self.seed, symbol, 'board')[:4], 'big') % 10**8}",
            "exchangeTimezoneName": "America/New_York",
            "exchangeTimezoneShortName": now.astimezone(NEW_YORK).tzname(),
            "gmtOffSetMilliseconds": int(offset.total_seconds() * 1000),
            "market": "us_market",
            "esgPopulated": False,
            "marketState": self._market_state(now),
            "regularMarketPrice": price,
            "regularMarketTime": int(market_time.timestamp()),
            "regularMarketChange": change,
            "regularMarketChangePercent": round(change / prior * 100, 6)
            if change is not None and prior
            else None,
            "regularMarketOpen": latest.open if latest else None,
            "regularMarketDayHigh": latest.high if latest else None,
            "regularMarketDayLow": latest.low if latest else None,
            "regularMarketVolume": latest.volume if latest else None,
            "regularMarketPreviousClose": prior,
            "bid": round(book.bid_price / scale, 2),
            "ask": round(book.ask_price / scale, 2),
            "bidSize": book.bid_size // 100,
            "askSize": book.ask_size // 100,
            "fullExchangeName": listing.full_exchange_name,
            "financialCurrency": listing.currency,
            "marketCap": f["market_capitalization"],
            "sharesOutstanding": f["shares_outstanding"],
            "trailingPE": f["pe_ratio"],
            "epsTrailingTwelveMonths": f["eps"],
            "priceHint": 2,
            "sourceInterval": 15,
            "exchangeDataDelayedBy": 0,
            "tradeable": False,
            "cryptoTradeable": False,
            "firstTradeDateMilliseconds": int(self.series.first_trade().timestamp() * 1000),
            "symbol": symbol,
        }
        return row

    async def quote(self, request: Request) -> Response:
        """``GET /v7/finance/quote?symbols=A,B``: known symbols only, in the order asked; crumb needed."""
        refused = self._guard(request, DATA_HOSTS)
        if refused is not None:
            return refused
        if not self._crumb_ok(request):
            return json_response(_INVALID_CRUMB, 401)
        wanted = [s.strip().upper() for s in request.query_params.get("symbols", "").split(",") if s.strip()]
        if not wanted:
            return json_response(
                {"finance": {"result": None, "error": {"code": "Bad Request",
                                                        "description": "Missing required query parameter=symbols"}}},
                400,
            )  # fmt: skip
        now = self.clock.now()
        rows = [self.quote_row(self.listings[s], now) for s in wanted if s in self.listings]
        if request.query_params.get("formatted", "false").lower() == "true":
            rows = [_formatted(r) for r in rows]
        return json_response({"quoteResponse": {"result": rows, "error": None}})

    # -- quoteSummary ------------------------------------------------------------------------

    def summary_modules(self, listing: Listing, modules: list[str], now: datetime) -> dict[str, Any]:
        """The requested quoteSummary modules of ``listing`` (raw numbers)."""
        symbol = listing.symbol
        row = self.quote_row(listing, now)
        f = self.generator.fundamentals(symbol, now)
        today = now.astimezone(NEW_YORK).date()
        year = self.series.days(symbol, today - timedelta(days=366), today, now)
        closes = [c.close for c in year]
        dividends = self.series.dividends(symbol, today - timedelta(days=366), today)
        splits = self.series.splits(symbol, self.series.history_start, today)
        rate = round(sum(a for _, a in dividends), 4) if dividends else None
        price = row["regularMarketPrice"]
        first_trade = int(self.series.first_trade().timestamp())
        fifty = round(sum(closes[-50:]) / len(closes[-50:]), 4) if closes else None
        two_hundred = round(sum(closes[-200:]) / len(closes[-200:]), 4) if closes else None
        profile = {
            "address1": "1 Mock Way", "city": "New York", "state": "NY", "zip": "10001", "country": "United States",
            "phone": "212 555 0100", "website": f"https://www.{symbol.lower()}.example",
            "industry": listing.industry, "industryKey": listing.industry.lower().replace(" ", "-"),
            "sector": listing.sector, "sectorKey": listing.sector.lower().replace(" ", "-"),
            "longBusinessSummary": f"{listing.long_name} is an instrument simulated by the portico Yahoo Finance mock.",
            "fullTimeEmployees": 1000 + int.from_bytes(_digest(self.seed, symbol, "staff")[:2], "big"),
            "maxAge": 86400,
        }  # fmt: skip
        available: dict[str, dict[str, Any]] = {
            "price": {
                "maxAge": 1, "regularMarketPrice": price, "regularMarketChange": row["regularMarketChange"],
                "regularMarketChangePercent": (row["regularMarketChangePercent"] or 0) / 100,
                "regularMarketTime": row["regularMarketTime"], "regularMarketDayHigh": row["regularMarketDayHigh"],
                "regularMarketDayLow": row["regularMarketDayLow"], "regularMarketVolume": row["regularMarketVolume"],
                "regularMarketPreviousClose": row["regularMarketPreviousClose"],
                "regularMarketOpen": row["regularMarketOpen"], "exchange": listing.exchange,
                "exchangeName": listing.exch_disp, "quoteType": listing.quote_type, "symbol": symbol,
                "shortName": listing.short_name, "longName": listing.long_name, "currency": listing.currency,
                "currencySymbol": "$", "marketState": row["marketState"], "marketCap": f["market_capitalization"],
                "exchangeDataDelayedBy": 0, "priceHint": 2,
            },
            "summaryDetail": {
                "maxAge": 1, "priceHint": 2, "previousClose": row["regularMarketPreviousClose"],
                "open": row["regularMarketOpen"], "dayLow": row["regularMarketDayLow"],
                "dayHigh": row["regularMarketDayHigh"], "regularMarketPreviousClose": row["regularMarketPreviousClose"],
                "dividendRate": rate, "dividendYield": round(rate / price, 4) if rate and price else None,
                "exDividendDate": int(session_bounds(dividends[-1][0])[0].timestamp()) if dividends else None,
                "beta": f["beta"], "trailingPE": f["pe_ratio"], "volume": row["regularMarketVolume"],
                "averageVolume": int(sum(c.volume for c in year[-63:]) / max(1, len(year[-63:]))),
                "bid": row["bid"], "ask": row["ask"], "bidSize": row["bidSize"], "askSize": row["askSize"],
                "marketCap": f["market_capitalization"],
                "fiftyTwoWeekLow": min((c.low for c in year), default=None),
                "fiftyTwoWeekHigh": max((c.high for c in year), default=None),
                "fiftyDayAverage": fifty, "twoHundredDayAverage": two_hundred,
                "currency": listing.currency, "tradeable": False,
            },
            "assetProfile": {**profile, "companyOfficers": []},
            "summaryProfile": profile,
            "financialData": {
                "maxAge": 86400, "currentPrice": price, "totalRevenue": f["revenue"],
                "revenuePerShare": round(int(f["revenue"]) / int(f["shares_outstanding"]), 3),  # type: ignore[call-overload]
                "financialCurrency": listing.currency,
            },
            "quoteType": {
                "exchange": listing.exchange, "quoteType": listing.quote_type, "symbol": symbol,
                "underlyingSymbol": symbol, "shortName": listing.short_name, "longName": listing.long_name,
                "firstTradeDateEpochUtc": first_trade, "timeZoneFullName": "America/New_York",
                "timeZoneShortName": now.astimezone(NEW_YORK).tzname(), "messageBoardId": row["messageBoardId"],
                "gmtOffSetMilliseconds": row["gmtOffSetMilliseconds"], "maxAge": 1,
            },
            "defaultKeyStatistics": {
                "maxAge": 1, "sharesOutstanding": f["shares_outstanding"], "trailingEps": f["eps"],
                "beta": f["beta"], "enterpriseValue": f["market_capitalization"],
                "lastSplitFactor": f"{splits[-1][1]}:{splits[-1][2]}" if splits else None,
                "lastSplitDate": int(session_bounds(splits[-1][0])[0].timestamp()) if splits else None,
                "lastDividendValue": dividends[-1][1] if dividends else None,
                "lastDividendDate": int(session_bounds(dividends[-1][0])[0].timestamp()) if dividends else None,
            },
            "calendarEvents": {
                "maxAge": 1,
                "exDividendDate": int(session_bounds(dividends[-1][0])[0].timestamp()) if dividends else None,
            },
        }  # fmt: skip
        if listing.quote_type == "ETF":
            available.pop("financialData")
        return {name: available[name] for name in modules if name in available}

    async def quote_summary(self, request: Request) -> Response:
        """``GET /v10/finance/quoteSummary/{symbol}?modules=``: crumb needed."""
        refused = self._guard(request, DATA_HOSTS)
        if refused is not None:
            return refused
        if not self._crumb_ok(request):
            return json_response(_INVALID_CRUMB, 401)
        symbol = request.path_params["symbol"].upper()
        modules = [m for m in request.query_params.get("modules", "").split(",") if m]
        if not modules:
            return json_response(
                {"quoteSummary": {"result": None, "error": {"code": "Bad Request",
                                                            "description": "Missing value for the \"modules\" argument"}}},
                400,
            )  # fmt: skip
        listing = self.listings.get(symbol)
        if listing is None:
            return json_response(
                {"quoteSummary": {"result": None, "error": {"code": "Not Found",
                                                            "description": f"Quote not found for symbol: {symbol}"}}},
                404,
            )  # fmt: skip
        body = self.summary_modules(listing, modules, self.clock.now())
        if request.query_params.get("formatted", "true").lower() != "false":
            body = _formatted(body)
        return json_response({"quoteSummary": {"result": [body], "error": None}})

    # -- fundamentals timeseries -------------------------------------------------------------

    def _timeseries_value(self, symbol: str, kind: str, now: datetime) -> float | None:
        f = self.generator.fundamentals(symbol, now)
        values: dict[str, float] = {
            "trailingPegRatio": round(float(f["pe_ratio"]) / 12.5, 4),  # type: ignore[arg-type]
            "trailingPeRatio": float(f["pe_ratio"]),  # type: ignore[arg-type]
            "trailingMarketCap": float(f["market_capitalization"]),  # type: ignore[arg-type]
        }
        return values.get(kind)

    async def timeseries(self, request: Request) -> Response:
        """``GET /ws/fundamentals-timeseries/v1/finance/timeseries/{symbol}?type=``: the trailing key figures
        (``trailingPegRatio``, ``trailingPeRatio``, ``trailingMarketCap``); other types answer with ``meta``
        only, as Yahoo does for a type it has no data for."""
        refused = self._guard(request, DATA_HOSTS)
        if refused is not None:
            return refused
        symbol = request.path_params["symbol"].upper()
        kinds = [k for value in request.query_params.getlist("type") for k in value.split(",") if k]
        now = self.clock.now()
        results = []
        for kind in kinds:
            entry: dict[str, Any] = {"meta": {"symbol": [symbol], "type": [kind]}}
            value = self._timeseries_value(symbol, kind, now) if symbol in self.listings else None
            if value is not None:
                quarter_end = session_bounds(_last_session_before(now.astimezone(NEW_YORK).date()))[1]
                entry["timestamp"] = [int(quarter_end.timestamp())]
                entry[kind] = [
                    {
                        "dataId": 14021,
                        "asOfDate": quarter_end.astimezone(NEW_YORK).date().isoformat(),
                        "periodType": "TTM",
                        "currencyCode": "USD",
                        "reportedValue": {"raw": value, "fmt": f"{value:.2f}"},
                    }
                ]
            results.append(entry)
        return json_response({"timeseries": {"result": results, "error": None}})

    # -- search ------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        """``GET /v1/finance/search?q=&quotesCount=``: best matches first."""
        refused = self._guard(request, DATA_HOSTS)
        if refused is not None:
            return refused
        query = request.query_params.get("q", "")
        try:
            count = int(request.query_params.get("quotesCount", "7"))
        except ValueError:
            count = 7
        scored = sorted(
            ((search_score(query, item), item) for item in self.listings.values()),
            key=lambda pair: (-pair[0], pair[1].symbol),
        )
        quotes = [
            {
                "exchange": item.exchange, "shortname": item.short_name, "quoteType": item.quote_type,
                "symbol": item.symbol, "index": "quotes", "score": score, "typeDisp": item.type_disp,
                "longname": item.long_name, "exchDisp": item.exch_disp, "sector": item.sector or None,
                "industry": item.industry or None, "isYahooFinance": True,
            }
            for score, item in scored
            if score > 0
        ][: max(0, count)]  # fmt: skip
        try:
            news_count = max(0, int(request.query_params.get("newsCount", "8")))
        except ValueError:
            news_count = 8
        ticker = query.strip().upper()
        stories = []
        if news_count and ticker in self.listings:
            for a in self.news.articles(
                [ticker], start=None, end=None, now=self.clock.now(), limit=news_count
            ):
                stories.append({
                    "uuid": f"{a.id:08x}-{a.symbol.lower()}", "title": a.headline, "publisher": a.publisher,
                    "link": a.url, "providerPublishTime": int(a.published_at.timestamp()), "type": "STORY",
                    "relatedTickers": [a.symbol],
                })  # fmt: skip
        return json_response(
            {
                "explains": [], "count": len(quotes), "quotes": quotes, "news": stories, "nav": [], "lists": [],
                "researchReports": [], "screenerFieldResults": [], "totalTime": 12, "timeTakenForQuotes": 5,
                "timeTakenForNews": 0, "timeTakenForAlgowatchlist": 0, "timeTakenForPredefinedScreener": 0,
                "timeTakenForCrunchbase": 0, "timeTakenForNav": 0, "timeTakenForResearchReports": 0,
                "timeTakenForScreenerField": 0, "timeTakenForCulturalAssets": 0, "timeTakenForSearchLists": 0,
            }
        )  # fmt: skip

    # -- admin -------------------------------------------------------------------------------

    async def admin_throttle(self, request: Request) -> Response:
        """``GET|POST /__mock__/yahoo_finance/throttle``: ``{"limit": n or null, "window": seconds}``."""
        if request.method == "POST":
            body = await request.json()
            if not isinstance(body, dict):
                return json_response({"error": "expected an object"}, 400)
            limit = body.get("limit", self.rate_limit)
            window = body.get("window", self.rate_window)
            if (limit is not None and (not isinstance(limit, int) or limit < 0)) or not isinstance(
                window, int | float
            ):
                return json_response(
                    {"error": "limit must be a non-negative integer or null, window seconds"}, 400
                )
            self.rate_limit, self.rate_window = limit, float(window)
            self._served.clear()
        return json_response(
            {"limit": self.rate_limit, "window": self.rate_window, "throttled": self.throttled}
        )

    async def admin_crumbs(self, request: Request) -> Response:
        """``GET|DELETE /__mock__/yahoo_finance/crumbs``: how many cookies and crumbs; DELETE expires the crumbs."""
        if request.method == "DELETE":
            return json_response({"expired": self.expire_crumbs()})
        return json_response({"cookies": len(self.cookies), "crumbs": len(self.crumbs)})


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    clock: MockClock | None = None,
    start: datetime | None = None,
    realtime: bool | None = None,
    **options: Any,
) -> MockApp:
    """The Yahoo Finance mock as an ASGI app.

    Args:
        seed: the data seed (same seed, same numbers).
        faults: the kit's HTTP-level fault rules (file path, rules as data, or a plan).
        clock: the simulated clock; without one, a clock starting at ``start`` (default: now) that follows
            wall time unless ``start`` is pinned, so yfinance (which reads the wall clock) sees live data.
        start: simulated time at start.
        realtime: whether the clock runs with wall time (default: when ``start`` is not given).
        **options: :class:`YahooFinanceMock` options (``symbols``, ``history_start``, ``rate_limit``,
            ``rate_window``, ``crumb_ttl``).

    Returns:
        The app; ``app.state.mock`` is the :class:`YahooFinanceMock`.
    """
    if clock is None:
        if realtime is None:
            realtime = start is None
        clock = MockClock(start or datetime.now(UTC).replace(microsecond=0), realtime=realtime)
    mock = YahooFinanceMock(seed, clock=clock, **options)
    app = MockApp(
        [
            Route("/", mock.cookie, methods=["GET"]),
            Route("/v1/test/getcrumb", mock.getcrumb, methods=["GET"]),
            Route("/v8/finance/chart/{symbol}", mock.chart, methods=["GET"]),
            Route("/v7/finance/quote", mock.quote, methods=["GET"]),
            Route("/v10/finance/quoteSummary/{symbol}", mock.quote_summary, methods=["GET"]),
            Route("/v1/finance/search", mock.search, methods=["GET"]),
            Route(
                "/ws/fundamentals-timeseries/v1/finance/timeseries/{symbol}", mock.timeseries, methods=["GET"]
            ),
            Route("/__mock__/yahoo_finance/throttle", mock.admin_throttle, methods=["GET", "POST"]),
            Route("/__mock__/yahoo_finance/crumbs", mock.admin_crumbs, methods=["GET", "DELETE"]),
        ],
        name="yahoo_finance",
        seed=seed,
        faults=faults,
        clock=clock,
    )
    app.state.mock = mock
    return app
