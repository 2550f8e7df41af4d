"""The ``/v1/systems/{system}/market-data`` routes: bars and latest quotes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from portico.gateway._dependencies import Caller, Routes, Symbols, SystemId
from portico.gateway._models import MarketDataOut
from portico.gateway._problems import Problem

__all__ = ["add_market_data_routes"]


def add_market_data_routes(api: APIRouter, routes: Routes) -> None:
    """Add these routes (in the order the OpenAPI document lists them)."""
    integration = routes.integration
    known_system = routes.known_system

    # -- market data -------------------------------------------------------------------------------

    def market_out(result: Any) -> MarketDataOut:
        def dump(value: Any) -> Any:
            if isinstance(value, list):
                return [dump(v) for v in value]
            return value.model_dump(mode="json") if isinstance(value, BaseModel) else value

        return MarketDataOut(
            system=result.system,
            data_type=result.data_type,
            data={k: dump(v) for k, v in result.data.items()},
            providers=dict(result.providers),
            errors={k: getattr(e, "message", str(e)) for k, e in result.errors.items()},
        )

    @api.get("/systems/{system}/market-data/history", response_model=MarketDataOut, tags=["market data"])
    async def history(
        system: SystemId,
        symbols: Symbols,
        p: Caller,
        interval: Annotated[
            Literal["1min", "5min", "15min", "30min", "1hour", "1day", "1week", "1month"], Query()
        ] = "1day",
        start: date | None = None,
        end: date | None = None,
        limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    ) -> MarketDataOut:
        """Bars, oldest first."""
        known_system(p, system)
        if start and end and start > end:
            raise Problem(
                422,
                "Invalid request",
                "start: must not be after end",
                kind="invalid-request",
                field="query.start",
            )
        params: dict[str, Any] = {"interval": interval}
        if start:
            params["start"] = start.isoformat()
        if end:
            params["end"] = end.isoformat()
        if limit:
            params["limit"] = limit
        return market_out(await integration.get_market_data(system, symbols, "bars", params))

    @api.get("/systems/{system}/market-data/latest", response_model=MarketDataOut, tags=["market data"])
    async def latest(system: SystemId, symbols: Symbols, p: Caller) -> MarketDataOut:
        """The latest quote of each symbol."""
        known_system(p, system)
        return market_out(await integration.get_market_data(system, symbols, "latest_quote"))
