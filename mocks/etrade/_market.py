"""The Market API's quotes: ``/v1/market/quote/{symbols}``, at most 25 symbols a call (50 with
``overrideSymbolCount=true``); past that E*TRADE answers the first ones with a warning message."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import NEW_YORK, VenueError
from portico.mocks.etrade._guard import Call, api
from portico.mocks.etrade._wire import BadRequest, render

if TYPE_CHECKING:
    from portico.mocks.etrade._app import EtradeMockApp

__all__ = ["MAX_SYMBOLS", "MAX_SYMBOLS_OVERRIDE", "market_routes"]

MAX_SYMBOLS = 25
MAX_SYMBOLS_OVERRIDE = 50
_DETAIL_FLAGS = {"ALL", "FUNDAMENTAL", "INTRADAY", "OPTIONS", "WEEK_52", "MF_DETAIL"}
_CENT = Decimal("0.01")


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _quote(app: EtradeMockApp, symbol: str) -> dict[str, Any]:
    now = app.clock.now()
    data = app.venue.data
    q = data.quote(symbol, now)
    last = app.venue.price(symbol)
    prev = app.venue.lastday_price(symbol)
    day: date = now.astimezone(NEW_YORK).date()
    bar = app.daily_bar(symbol, day) or app.daily_bar(symbol, day - timedelta(days=1))
    change = last - prev
    local = now.astimezone(NEW_YORK)
    quote: dict[str, Any] = {
        "dateTime": local.strftime("%H:%M:%S %Z %m-%d-%Y"),
        "dateTimeUTC": int(now.timestamp()),
        "quoteStatus": "REALTIME",
        "ahFlag": "false",
        "All": {
            "adjustedFlag": False,
            "ask": _money(q.ask_price),
            "askSize": q.ask_size,
            "askTime": local.strftime("%H:%M:%S %Z %m-%d-%Y"),
            "bid": _money(q.bid_price),
            "bidExchange": q.bid_exchange,
            "bidSize": q.bid_size,
            "bidTime": local.strftime("%H:%M:%S %Z %m-%d-%Y"),
            "changeClose": change,
            "changeClosePercentage": (change / prev * 100).quantize(_CENT) if prev else Decimal(0),
            "companyName": f"{symbol} INC COM",
            "high": _money(bar.high) if bar else last,
            "low": _money(bar.low) if bar else last,
            "open": _money(bar.open) if bar else last,
            "lastTrade": last,
            "previousClose": prev,
            "totalVolume": int(bar.volume) if bar else 0,
            "primaryExchange": app.venue.asset(symbol).exchange,
            "symbolDescription": f"{symbol} INC COM",
            "timeOfLastTrade": int(now.timestamp()),
        },
        "Product": {"symbol": symbol, "securityType": "EQ"},
    }
    return quote


async def quote(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    raw = request.path_params["symbols"].removesuffix(".json")
    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise BadRequest(10033, "At least one symbol is required")
    flag = request.query_params.get("detailFlag") or request.query_params.get("detailflag") or "ALL"
    if flag.upper() not in _DETAIL_FLAGS:
        raise BadRequest(163, f"detailFlag must be one of {', '.join(sorted(_DETAIL_FLAGS))}")
    override = request.query_params.get("overrideSymbolCount", "false").lower() == "true"
    limit = MAX_SYMBOLS_OVERRIDE if override else MAX_SYMBOLS
    messages: list[dict[str, Any]] = []
    if len(symbols) > limit:
        messages.append(
            {
                "description": f"You have requested {len(symbols)} symbols; only the first {limit} are answered.",
                "code": 1019,
                "type": "WARNING",
            }
        )
        symbols = symbols[:limit]
    found: list[dict[str, Any]] = []
    for symbol in symbols:
        try:
            found.append(_quote(app, symbol))
        except VenueError:
            messages.append(
                {"description": f"{symbol} is not a valid symbol.", "code": 10033, "type": "WARNING"}
            )
    body: dict[str, Any] = {}
    if found:
        body["QuoteData"] = found
    if messages:
        body["Messages"] = {"Message": messages}
    return render({"QuoteResponse": body}, call.as_json)


def market_routes() -> list[Route]:
    """The Market API routes (quotes; ``.json`` is part of the symbols segment)."""
    return [Route("/v1/market/quote/{symbols}", api(quote), methods=["GET"])]
