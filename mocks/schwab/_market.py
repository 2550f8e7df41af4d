"""Market Data v1: quotes, price history (every period and frequency the API takes), instruments."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import VenueError, json_response
from portico.mocks.schwab._app import BadRequest, SchwabMockApp, market_endpoint
from portico.mocks.schwab._app import cusip_of as _cusip

__all__ = ["PERIODS", "market_routes"]

PERIODS: dict[str, tuple[tuple[int, ...], int, tuple[str, ...], str]] = {
    # periodType: (allowed periods, default period, allowed frequency types, default frequency type)
    "day": ((1, 2, 3, 4, 5, 10), 10, ("minute",), "minute"),
    "month": ((1, 2, 3, 6), 1, ("daily", "weekly"), "weekly"),
    "year": ((1, 2, 3, 5, 10, 15, 20), 1, ("daily", "weekly", "monthly"), "monthly"),
    "ytd": ((1,), 1, ("daily", "weekly"), "weekly"),
}
_MINUTE_FREQUENCIES = (1, 5, 10, 15, 30)
_TIMEFRAME = {"daily": "1day", "weekly": "1week", "monthly": "1month"}
_SPAN = {"day": timedelta(days=1), "month": timedelta(days=31), "year": timedelta(days=366)}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _quote(app: SchwabMockApp, symbol: str) -> dict[str, Any]:
    now = app.clock.now()
    data = app.venue.data
    asset = app.venue.asset(symbol)
    quote = data.quote(asset.symbol, now)
    trade = data.trade(asset.symbol, now)
    close = float(app.venue.lastday_price(asset.symbol))
    # today's bar so far (never the minutes still to come)
    today = data.bars(asset.symbol, "1day", now - timedelta(days=1), now, until=now)
    day = today[-1] if today else None
    last = float(trade.price)
    return {
        "assetMainType": "EQUITY",
        "assetSubType": "COE",
        "quoteType": "NBBO",
        "realtime": True,
        "ssid": int(asset.id[:8], 16),
        "symbol": asset.symbol,
        "quote": {
            "52WeekHigh": round(close * 1.25, 2),
            "52WeekLow": round(close * 0.75, 2),
            "askMICId": "XNAS",
            "askPrice": quote.ask_price,
            "askSize": quote.ask_size // 100,
            "askTime": _ms(quote.timestamp),
            "bidMICId": "XNAS",
            "bidPrice": quote.bid_price,
            "bidSize": quote.bid_size // 100,
            "bidTime": _ms(quote.timestamp),
            "closePrice": close,
            "highPrice": day.high if day else last,
            "lastMICId": "XNAS",
            "lastPrice": last,
            "lastSize": trade.size,
            "lowPrice": day.low if day else last,
            "mark": last,
            "markChange": round(last - close, 4),
            "markPercentChange": round((last - close) / close * 100, 4),
            "netChange": round(last - close, 4),
            "netPercentChange": round((last - close) / close * 100, 4),
            "openPrice": day.open if day else last,
            "postMarketChange": 0.0,
            "postMarketPercentChange": 0.0,
            "quoteTime": _ms(quote.timestamp),
            "securityStatus": "Normal",
            "totalVolume": day.volume if day else 0,
            "tradeTime": _ms(trade.timestamp),
        },
        "reference": {
            "cusip": _cusip(asset.id),
            "description": asset.name,
            "exchange": "Q" if asset.exchange == "NASDAQ" else "N",
            "exchangeName": asset.exchange,
            "isHardToBorrow": False,
            "isShortable": True,
        },
    }


@market_endpoint
async def quotes(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /marketdata/v1/quotes?symbols=A,B``: quotes by symbol, unknown ones listed under ``errors``."""
    raw = request.query_params.get("symbols", "")
    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise BadRequest("symbols is required")
    if len(symbols) > 500:
        raise BadRequest("at most 500 symbols per request")
    out: dict[str, Any] = {}
    invalid: list[str] = []
    for symbol in dict.fromkeys(symbols):
        try:
            out[symbol] = _quote(app, symbol)
        except VenueError:
            invalid.append(symbol)
    if invalid:
        out["errors"] = {"invalidSymbols": invalid}
    return json_response(out)


@market_endpoint
async def single_quote(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /marketdata/v1/{symbol}/quotes``."""
    symbol = request.path_params["symbol"].upper()
    try:
        return json_response({symbol: _quote(app, symbol)})
    except VenueError:
        return json_response({"errors": {"invalidSymbols": [symbol]}})


def _int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {value!r}") from None


@market_endpoint
async def price_history(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /marketdata/v1/pricehistory``: candles with ms-epoch ``datetime``."""
    symbol = request.query_params.get("symbol", "").upper()
    if not symbol:
        raise BadRequest("symbol is required")
    period_type = request.query_params.get("periodType", "day")
    if period_type not in PERIODS:
        raise BadRequest(f"periodType {period_type!r} is not one of day, month, year, ytd")
    periods, default_period, frequency_types, default_frequency_type = PERIODS[period_type]
    period = _int(request, "period") or default_period
    if period not in periods:
        raise BadRequest(f"period {period} is not valid for periodType {period_type}")
    frequency_type = request.query_params.get("frequencyType", default_frequency_type)
    if frequency_type not in frequency_types:
        raise BadRequest(f"frequencyType {frequency_type!r} is not valid for periodType {period_type}")
    frequency = _int(request, "frequency") or 1
    if frequency_type == "minute":
        if frequency not in _MINUTE_FREQUENCIES:
            raise BadRequest(f"frequency {frequency} is not valid for frequencyType minute")
        timeframe = f"{frequency}min"
    else:
        if frequency != 1:
            raise BadRequest(f"frequency {frequency} is not valid for frequencyType {frequency_type}")
        timeframe = _TIMEFRAME[frequency_type]
    now = app.clock.now()
    end_ms, start_ms = _int(request, "endDate"), _int(request, "startDate")
    end = datetime.fromtimestamp(end_ms / 1000, UTC) if end_ms is not None else now
    if start_ms is not None:
        start = datetime.fromtimestamp(start_ms / 1000, UTC)
    elif period_type == "ytd":
        start = datetime(end.year, 1, 1, tzinfo=UTC)
    else:
        # a day period counts trading days: look back far enough over weekends and holidays
        unit = _SPAN[period_type]
        start = (
            end
            - unit * period
            - (timedelta(days=4 + period // 5 * 3) if period_type == "day" else timedelta(0))
        )
    if start > end:
        raise BadRequest("startDate must not be after endDate")
    # the mock keeps a bounded history (schwab-py asks from 1971 for "every day")
    depth = app.minute_history if frequency_type == "minute" else app.daily_history
    start = max(start, now - depth)
    try:
        asset = app.venue.asset(symbol)
    except VenueError:
        return json_response({"symbol": symbol, "empty": True, "candles": []})
    bars = app.venue.data.bars(asset.symbol, timeframe, start, end, until=now)
    if period_type == "day" and start_ms is None:
        days = sorted({b.timestamp.date() for b in bars})[-period:]
        bars = [b for b in bars if b.timestamp.date() in days]
    candles = [
        {
            "open": b.open,
            "high": b.high,
            "low": b.low,
            "close": b.close,
            "volume": b.volume,
            "datetime": _ms(b.timestamp),
        }
        for b in bars
    ]
    body: dict[str, Any] = {"symbol": asset.symbol, "empty": not candles, "candles": candles}
    if request.query_params.get("needPreviousClose", "").lower() == "true" or candles:
        previous = float(app.venue.lastday_price(asset.symbol))
        body["previousClose"] = previous
        body["previousCloseDate"] = _ms(
            (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        )
    return json_response(body)


def _instrument(app: SchwabMockApp, symbol: str) -> dict[str, Any]:
    asset = app.venue.asset(symbol)
    return {
        "cusip": _cusip(asset.id),
        "symbol": asset.symbol,
        "description": asset.name,
        "exchange": asset.exchange,
        "assetType": "ETF" if asset.symbol in ("SPY", "QQQ") else "EQUITY",
    }


@market_endpoint
async def instruments(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /marketdata/v1/instruments?symbol&projection``: symbol/description search or regex."""
    term = request.query_params.get("symbol", "")
    projection = request.query_params.get("projection", "")
    if not term:
        raise BadRequest("symbol is required")
    choices = ("symbol-search", "symbol-regex", "desc-search", "desc-regex", "search", "fundamental")
    if projection not in choices:
        raise BadRequest(f"projection must be one of {', '.join(choices)}")
    universe = [_instrument(app, a.symbol) for a in app.venue.assets()]
    if projection in ("symbol-search", "fundamental"):
        wanted = {s.strip().upper() for s in term.split(",")}
        found = [i for i in universe if i["symbol"] in wanted]
    elif projection in ("symbol-regex", "desc-regex"):
        try:
            pattern = re.compile(term, re.IGNORECASE)
        except re.error:
            raise BadRequest(f"invalid regular expression {term!r}") from None
        key = "symbol" if projection == "symbol-regex" else "description"
        found = [
            i
            for i in universe
            if pattern.fullmatch(i[key]) or (key == "description" and pattern.search(i[key]))
        ]
    else:
        needle = term.upper()
        found = [i for i in universe if needle in i["description"].upper() or needle in i["symbol"]]
    return json_response({"instruments": found})


@market_endpoint
async def instrument_by_cusip(app: SchwabMockApp, request: Request, client_id: str) -> Response:
    """``GET /marketdata/v1/instruments/{cusip}``."""
    cusip = request.path_params["cusip"].upper()
    for asset in app.venue.assets():
        if _cusip(asset.id) == cusip:
            return json_response({"instruments": [_instrument(app, asset.symbol)]})
    raise VenueError("not_found", f"no instrument with cusip {cusip}")


def market_routes() -> list[Route]:
    """The Market Data routes."""
    base = "/marketdata/v1"
    return [
        Route(f"{base}/quotes", quotes, methods=["GET"]),
        Route(f"{base}/pricehistory", price_history, methods=["GET"]),
        Route(f"{base}/instruments", instruments, methods=["GET"]),
        Route(f"{base}/instruments/{{cusip}}", instrument_by_cusip, methods=["GET"]),
        Route(f"{base}/{{symbol}}/quotes", single_quote, methods=["GET"]),
    ]
