"""The ``/v1`` REST and WebSocket API (FastAPI): the application, assembled from the route modules.

Every route names the resource and verb it needs. Reading an object the caller may not read answers
404 (its existence is not revealed); writing one the caller may read but not write answers 403.
Every write is appended to the hash-chained audit log with the user, whatever its outcome.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from portico.gateway._dependencies import PROBLEMS, SESSION_COOKIE, Routes
from portico.gateway._problems import ProblemModel, install_problem_handlers
from portico.gateway._routes_auth import add_auth_routes
from portico.gateway._routes_credentials import add_credential_routes
from portico.gateway._routes_events import add_event_routes
from portico.gateway._routes_jobs import add_job_routes
from portico.gateway._routes_market_data import add_market_data_routes
from portico.gateway._routes_monitoring import add_monitoring_routes
from portico.gateway._routes_orders import add_order_routes
from portico.gateway._routes_systems import add_system_routes

if TYPE_CHECKING:
    from portico.gateway._server import Gateway

__all__ = ["SESSION_COOKIE", "build_app"]


def build_app(gateway: Gateway) -> FastAPI:
    """The FastAPI application of ``gateway`` (its runtime, security store, event log...)."""
    app = FastAPI(
        title="portico gateway",
        version="1.0.0",
        description="portico as a service: systems, orders, positions, accounts, market data, reconciliation, "
        "jobs, quarantine, imports and exports, metrics and health, an event stream, and inbound webhooks.",
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = gateway
    install_problem_handlers(app)
    api = APIRouter(prefix="/v1", responses=PROBLEMS)
    routes = Routes(gateway)
    # the order of the routes is the order of the OpenAPI document's operations: keep it
    add_auth_routes(api, routes)
    add_system_routes(api, routes)
    add_order_routes(api, routes)
    add_market_data_routes(api, routes)
    add_job_routes(api, routes)
    add_credential_routes(api, routes)
    add_monitoring_routes(app, api, routes)
    add_event_routes(app, routes)
    app.include_router(api)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_media_types(
                get_openapi(
                    title=app.title, version=app.version, description=app.description, routes=app.routes
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problem_media_types(document: dict[str, Any]) -> dict[str, Any]:
    """Every error answer is documented as ``application/problem+json`` with the problem schema (FastAPI
    would describe them as ``application/json`` and its own validation error shape)."""
    problem = {"schema": {"$ref": "#/components/schemas/ProblemModel"}}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for code, answer in operation.get("responses", {}).items():
                if code.isdigit() and int(code) >= 400:
                    answer["content"] = {"application/problem+json": problem}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "ProblemModel", ProblemModel.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    text = json.dumps(document)
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in text.replace(f'"{unused}":', ""):
            schemas.pop(unused, None)
    return document
