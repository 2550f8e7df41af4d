"""Market Data API v2 routes for stocks: bars, quotes, trades, latest, snapshots, with page tokens.

``limit`` counts data points across all symbols of a request (1-10000, default 1000); results come
symbol by symbol, each in time order, and ``next_page_token`` resumes where the page stopped.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import NEW_YORK, BarData, json_response
from portico.mocks.alpaca._app import AlpacaMockApp, BadRequest, endpoint, parse_int, parse_time
from portico.mocks.alpaca._wire import bar_json, quote_json, trade_json

__all__ = ["market_routes", "parse_timeframe"]

_FEEDS = ("iex", "sip", "otc", "delayed_sip", "boats", "overnight")
_UNITS = {"min": "min", "t": "min", "hour": "hour", "h": "hour", "day": "day", "d": "day", "week": "week", "w": "week", "month": "month", "m": "month"}


def parse_timeframe(text: str | None) -> str:
    """Alpaca's ``1Min``/``15Min``/``1Hour``/``1Day``/``1Week``/``1Month`` as the generator's timeframe."""
    if not text:
        raise BadRequest("timeframe is required")
    digits = "".join(ch for ch in text if ch.isdigit())
    unit = _UNITS.get(text[len(digits) :].lower())
    if not digits or unit is None:
        raise BadRequest(f"invalid timeframe: {text!r}", status=400, code=40010001)
    amount = int(digits)
    limits = {"min": 59, "hour": 23, "day": 1, "week": 1, "month": 12}
    if not 1 <= amount <= limits[unit] or (unit == "month" and amount not in (1, 2, 3, 4, 6, 12)):
        raise BadRequest(f"invalid timeframe: {text!r}", status=400, code=40010001)
    if unit == "month" and amount != 1:
        raise BadRequest(f"timeframe {text!r} is not supported by this mock", status=400, code=40010001)
    return f"{amount}{unit}"


def _symbols(request: Request) -> list[str]:
    raw = request.path_params.get("symbol") or request.query_params.get("symbols", "")
    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise BadRequest("symbols is required", status=400, code=40010001)
    return symbols


def _feed(request: Request) -> str:
    feed = request.query_params.get("feed", "sip")
    if feed not in _FEEDS:
        raise BadRequest(f"invalid feed: {feed!r}", status=400, code=40010001)
    return feed


def _encode_token(symbol: str, stamp: datetime) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{stamp.isoformat()}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> tuple[str, datetime]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        symbol, _, stamp = raw.partition("|")
        return symbol, datetime.fromisoformat(stamp)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid page_token", status=400, code=40010001) from None


def _window(app: AlpacaMockApp, request: Request) -> tuple[datetime, datetime]:
    now = app.clock.now()
    start = parse_time(request.query_params.get("start"), "start")
    end = parse_time(request.query_params.get("end"), "end")
    if start is None:
        start = datetime.combine(now.astimezone(NEW_YORK).date(), time(0), NEW_YORK).astimezone(UTC)
    if end is not None and start > end:
        raise BadRequest("end should not be before start", status=422, code=42210000)
    # nothing after the simulated now exists yet; a window in the future is simply empty
    return start, min(end or now, now)


def _paged(
    app: AlpacaMockApp,
    request: Request,
    key: str,
    series: Callable[[str, datetime, datetime, bool], Iterator[tuple[datetime, dict[str, Any]]]],
) -> Response:
    """Run ``series(symbol, start, end, descending)`` per symbol, cut to ``limit`` with a page token."""
    symbols = _symbols(request)
    _feed(request)
    q = request.query_params
    limit = parse_int(q.get("limit"), "limit", default=1000, low=1, high=10000)
    sort = q.get("sort", "asc")
    if sort not in ("asc", "desc"):
        raise BadRequest(f"invalid sort: {sort!r}", status=400, code=40010001)
    start, end = _window(app, request)
    resume: tuple[str, datetime] | None = _decode_token(q["page_token"]) if q.get("page_token") else None
    out: dict[str, list[dict[str, Any]]] = {}
    count = 0
    next_token: str | None = None
    for symbol in sorted(set(symbols)):
        if resume is not None and symbol < resume[0]:
            continue
        lo, hi = start, end
        if resume is not None and symbol == resume[0]:
            if sort == "asc":
                lo = resume[1]
            else:
                hi = resume[1]
        for stamp, item in series(symbol, lo, hi, sort == "desc"):
            if count == limit:
                next_token = _encode_token(symbol, stamp)
                break
            out.setdefault(symbol, []).append(item)
            count += 1
        if next_token is not None:
            break
    if request.path_params.get("symbol"):
        symbol = symbols[0]
        return json_response({key: out.get(symbol, []), "symbol": symbol, "next_page_token": next_token})
    return json_response({key: out, "next_page_token": next_token, "currency": "USD"} if key == "bars" else {key: out, "next_page_token": next_token})


def _days(start: datetime, end: datetime, descending: bool) -> list[tuple[datetime, datetime]]:
    """``[start, end]`` cut at New York midnights, so intraday data is generated a day at a time."""
    first = start.astimezone(NEW_YORK).date()
    last = end.astimezone(NEW_YORK).date()
    spans = []
    for i in range((last - first).days + 1):
        day = first + timedelta(days=i)
        lo = max(start, datetime.combine(day, time(0), NEW_YORK).astimezone(UTC))
        hi = min(end, datetime.combine(day + timedelta(days=1), time(0), NEW_YORK).astimezone(UTC) - timedelta(microseconds=1))
        spans.append((lo, hi))
    return list(reversed(spans)) if descending else spans


@endpoint
async def bars(app: AlpacaMockApp, request: Request) -> Response:
    timeframe = parse_timeframe(request.query_params.get("timeframe"))
    adjustment = request.query_params.get("adjustment", "raw")
    if adjustment not in ("raw", "split", "dividend", "all"):
        raise BadRequest(f"invalid adjustment: {adjustment!r}", status=400, code=40010001)
    adjusted = adjustment in ("split", "all")
    now = app.clock.now()
    intraday = timeframe.endswith(("min", "hour"))

    def series(symbol: str, start: datetime, end: datetime, descending: bool) -> Iterator[tuple[datetime, dict[str, Any]]]:
        for lo, hi in _days(start, end, descending) if intraday else [(start, end)]:
            found: list[BarData] = app.data.bars(symbol, timeframe, lo, hi, adjusted=adjusted, until=now)
            for bar in reversed(found) if descending else found:
                if start <= bar.timestamp <= end:
                    yield bar.timestamp, bar_json(bar)

    return _paged(app, request, "bars", series)


def _ticks(
    make: Callable[[str, datetime, datetime], list[Any]], render: Callable[[Any], dict[str, Any]]
) -> Callable[[str, datetime, datetime, bool], Iterator[tuple[datetime, dict[str, Any]]]]:
    def series(symbol: str, start: datetime, end: datetime, descending: bool) -> Iterator[tuple[datetime, dict[str, Any]]]:
        for lo, hi in _days(start, end, descending):
            found = make(symbol, lo, hi)
            for item in reversed(found) if descending else found:
                stamp = item.timestamp.replace(microsecond=0)
                if start <= stamp <= end:
                    yield stamp, render(item)

    return series


@endpoint
async def quotes(app: AlpacaMockApp, request: Request) -> Response:
    return _paged(app, request, "quotes", _ticks(app.data.quotes, quote_json))


@endpoint
async def trades(app: AlpacaMockApp, request: Request) -> Response:
    return _paged(app, request, "trades", _ticks(app.data.trades, trade_json))


def _latest_bar(app: AlpacaMockApp, symbol: str) -> dict[str, Any] | None:
    now = app.clock.now()
    found = app.data.bars(symbol, "1min", now - timedelta(days=5), now, until=now)
    return bar_json(found[-1]) if found else None


@endpoint
async def latest_bars(app: AlpacaMockApp, request: Request) -> Response:
    _feed(request)
    out = {s: b for s in _symbols(request) if (b := _latest_bar(app, s)) is not None}
    return json_response({"bars": out})


@endpoint
async def latest_quotes(app: AlpacaMockApp, request: Request) -> Response:
    _feed(request)
    now = app.clock.now()
    return json_response({"quotes": {s: quote_json(app.data.quote(s, now)) for s in _symbols(request)}})


@endpoint
async def latest_trades(app: AlpacaMockApp, request: Request) -> Response:
    _feed(request)
    now = app.clock.now()
    return json_response({"trades": {s: trade_json(app.data.trade(s, now)) for s in _symbols(request)}})


def _snapshot(app: AlpacaMockApp, symbol: str) -> dict[str, Any]:
    now = app.clock.now()
    daily = app.data.bars(symbol, "1day", now - timedelta(days=10), now, until=now)
    return {
        "latestTrade": trade_json(app.data.trade(symbol, now)),
        "latestQuote": quote_json(app.data.quote(symbol, now)),
        "minuteBar": _latest_bar(app, symbol),
        "dailyBar": bar_json(daily[-1]) if daily else None,
        "prevDailyBar": bar_json(daily[-2]) if len(daily) > 1 else None,
    }


@endpoint
async def snapshots(app: AlpacaMockApp, request: Request) -> Response:
    _feed(request)
    symbols = _symbols(request)
    if request.path_params.get("symbol"):
        return json_response({"symbol": symbols[0], **_snapshot(app, symbols[0])})
    return json_response({s: _snapshot(app, s) for s in symbols})


@endpoint
async def news(app: AlpacaMockApp, request: Request) -> Response:
    """``GET /v1beta1/news``: articles about ``symbols`` in ``start``..``end``, ``sort`` desc by default,
    ``limit`` up to 50, paged by ``page_token`` (the last article's id, as text)."""
    from portico.mocks._kit._news import NewsSource

    q = request.query_params
    symbols = [s.strip().upper() for s in (q.get("symbols") or "").split(",") if s.strip()]
    if not symbols:
        raise BadRequest("symbols is required by this mock", status=400, code=40010001)
    limit = parse_int(q.get("limit"), "limit", default=10, low=1, high=50)
    sort = q.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise BadRequest(f"invalid sort: {sort!r}", status=400, code=40010001)
    source = getattr(app, "_news_source", None)
    if source is None:
        source = NewsSource(app.venue.seed)
        app._news_source = source  # type: ignore[attr-defined]
    found = source.articles(
        symbols, start=parse_time(q.get("start"), "start"), end=parse_time(q.get("end"), "end"),
        now=app.clock.now(), newest_first=sort == "desc",
    )  # fmt: skip
    token = q.get("page_token")
    if token:
        ids = [str(a.id) for a in found]
        found = found[ids.index(token) + 1 :] if token in ids else []
    page = found[:limit]
    items = [
        {
            "id": a.id, "headline": a.headline, "author": a.author,
            "created_at": a.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": a.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "summary": a.summary, "content": "", "images": [], "symbols": [a.symbol], "source": a.publisher.lower(),
            "url": a.url,
        }
        for a in page
    ]  # fmt: skip
    next_token = str(page[-1].id) if len(found) > limit else None
    return json_response({"news": items, "next_page_token": next_token})


def market_routes() -> list[Route]:
    """The Market Data v2 stock routes (multi-symbol and single-symbol forms)."""
    return [
        Route("/v1beta1/news", news, methods=["GET"]),
        Route("/v2/stocks/bars", bars, methods=["GET"]),
        Route("/v2/stocks/quotes", quotes, methods=["GET"]),
        Route("/v2/stocks/trades", trades, methods=["GET"]),
        Route("/v2/stocks/bars/latest", latest_bars, methods=["GET"]),
        Route("/v2/stocks/quotes/latest", latest_quotes, methods=["GET"]),
        Route("/v2/stocks/trades/latest", latest_trades, methods=["GET"]),
        Route("/v2/stocks/snapshots", snapshots, methods=["GET"]),
        Route("/v2/stocks/{symbol}/bars", bars, methods=["GET"]),
        Route("/v2/stocks/{symbol}/quotes", quotes, methods=["GET"]),
        Route("/v2/stocks/{symbol}/trades", trades, methods=["GET"]),
        Route("/v2/stocks/{symbol}/snapshot", snapshots, methods=["GET"]),
    ]
