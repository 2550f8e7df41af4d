"""The Example Venue's mock server: a real ASGI app with deterministic seeded prices."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

INSTRUMENTS = {
    "AAPL": "Apple Inc.",
    "MSFT": "Microsoft Corporation",
    "GOOGL": "Alphabet Inc. Class A",
}


def _series(symbol: str, seed: int, days: int) -> list[dict[str, Any]]:
    rng = random.Random(f"{seed}:{symbol}")
    price = 100.0 + rng.random() * 200
    start = date(2026, 1, 2)
    rows = []
    for i in range(days):
        day = start + timedelta(days=i)
        if day.weekday() >= 5:
            continue
        open_ = price
        close = max(1.0, open_ * (1 + rng.gauss(0, 0.01)))
        high = max(open_, close) * (1 + rng.random() * 0.005)
        low = min(open_, close) * (1 - rng.random() * 0.005)
        rows.append(
            {
                "date": day.isoformat(),
                "o": round(open_, 2),
                "h": round(high, 2),
                "l": round(low, 2),
                "c": round(close, 2),
                "v": rng.randint(10_000, 1_000_000),
            }
        )
        price = close
    for row in rows:
        row["h"] = max(row["h"], row["o"], row["c"])
        row["l"] = min(row["l"], row["o"], row["c"])
    return rows


def create_app(seed: int = 0, faults: Any = None, api_key: str | None = None) -> Starlette:
    """The mock venue. Any non-empty ``X-API-Key`` is accepted unless ``api_key`` pins one."""

    def authorised(request: Request) -> JSONResponse | None:
        key = request.headers.get("x-api-key")
        if not key or (api_key is not None and key != api_key):
            return JSONResponse({"error": "invalid api key"}, status_code=401)
        return None

    async def bars(request: Request) -> JSONResponse:
        if (denied := authorised(request)) is not None:
            return denied
        symbol = request.path_params["symbol"].upper()
        if symbol not in INSTRUMENTS:
            return JSONResponse({"error": f"unknown symbol {symbol}"}, status_code=404)
        limit = int(request.query_params.get("limit", "100"))
        rows = _series(symbol, seed, 400)
        return JSONResponse({"symbol": symbol, "bars": rows[-limit:]})

    async def quotes(request: Request) -> JSONResponse:
        if (denied := authorised(request)) is not None:
            return denied
        symbols = [s for s in request.query_params.get("symbols", "").upper().split(",") if s]
        unknown = [s for s in symbols if s not in INSTRUMENTS]
        if unknown:
            return JSONResponse({"error": f"unknown symbols {unknown}"}, status_code=404)
        now = datetime.now(UTC).isoformat()
        out = {}
        for symbol in symbols:
            last = _series(symbol, seed, 400)[-1]["c"]
            out[symbol] = {"bid": round(last - 0.01, 2), "ask": round(last + 0.01, 2), "last": last, "time": now}
        return JSONResponse({"quotes": out})

    async def search(request: Request) -> JSONResponse:
        if (denied := authorised(request)) is not None:
            return denied
        query = request.query_params.get("q", "").upper()
        hits = [{"symbol": s, "name": n} for s, n in INSTRUMENTS.items() if query in s or query in n.upper()]
        return JSONResponse({"results": hits})

    async def status(request: Request) -> JSONResponse:
        if (denied := authorised(request)) is not None:
            return denied
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/bars/{symbol}", bars),
            Route("/v1/quotes", quotes),
            Route("/v1/search", search),
            Route("/v1/status", status),
        ]
    )
