"""The monitoring routes: ``/v1/metrics`` (per system the caller reads) and ``/v1/health`` (no login)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from portico.gateway._dependencies import Caller, Routes

__all__ = ["add_monitoring_routes"]


def add_monitoring_routes(app: FastAPI, api: APIRouter, routes: Routes) -> None:
    """Add these routes (in the order the OpenAPI document lists them)."""
    integration = routes.integration

    # -- metrics and health ------------------------------------------------------------------------

    @api.get("/metrics", tags=["monitoring"])
    async def metrics(p: Caller) -> dict[str, Any]:
        """Counts, errors, latency percentiles, throttling and breaker state of the systems the caller reads."""
        out = {}
        for sid in integration.systems:
            if p.can("systems", sid, "read"):
                out[sid] = await integration.get_integration_metrics(sid)
        result: dict[str, Any] = json.loads(json.dumps(out, default=str))
        return result

    @app.get(
        "/v1/health", tags=["monitoring"], responses={503: {"description": "A system is down or unchecked"}}
    )
    async def health() -> JSONResponse:
        """Readiness: 200 while healthy or degraded, 503 when down or not checked yet (no login needed)."""
        snapshot = integration.monitor.snapshot()
        body = {
            "status": snapshot["status"],
            "generated_at": snapshot["generated_at"],
            "systems": {s["system"]: s["status"] for s in snapshot["systems"]},
        }
        return JSONResponse(
            body,
            status_code=503 if body["status"] in {"down", "unknown"} else 200,
            headers={"Cache-Control": "no-store"},
        )
