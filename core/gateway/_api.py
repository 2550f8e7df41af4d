"""The ``/v1`` REST and WebSocket API (FastAPI): routes, authentication and authorization.

Every route names the resource and verb it needs. Reading an object the caller may not read answers
404 (its existence is not revealed); writing one the caller may read but not write answers 403.
Every write is appended to the hash-chained audit log with the user, whatever its outcome.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import tempfile
import uuid
from collections.abc import Awaitable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Header, Query, Request, UploadFile, WebSocket
from fastapi import Path as PathParam
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.websockets import WebSocketDisconnect

from portico.errors import OutcomeUnknown, PorticoError
from portico.gateway._config import Resource
from portico.gateway._events import TOPICS, GatewayEvent
from portico.gateway._idempotency import StoredAnswer, request_hash
from portico.gateway._models import (
    CancelAnswer,
    CredentialIn,
    JobRun,
    LoginIn,
    LoginOut,
    MarketDataOut,
    Me,
    OrderIn,
    OrderOut,
    OrderPage,
    ReconcileIn,
    ReplaceAnswer,
    ReplaceIn,
    ReplayIn,
    SystemOut,
    TokenIn,
    TokenOut,
)
from portico.gateway._problems import Problem, ProblemModel, install_problem_handlers, problem_for_error
from portico.gateway._security import Principal, Verb
from portico.gateway._webhooks import WebhookRefused
from portico.home import portico_home
from portico.models import OrderStatus

if TYPE_CHECKING:
    from portico.gateway._server import Gateway

__all__ = ["SESSION_COOKIE", "build_app"]

SESSION_COOKIE = "portico_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="An API token: ``pt_<id>_<secret>``.")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The session cookie set by /v1/auth/login."
)
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemModel, "description": text}
    for code, text in (
        (401, "Not authenticated"),
        (429, "Too many requests (per user); see Retry-After"),
        (403, "Not allowed"),
        (404, "Not found (or not visible to the caller)"),
        (422, "Invalid request; ``field`` names the input at fault"),
    )
}
SystemId = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
CredentialName = Annotated[
    str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
]
ObjectId = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]


def _cursor_encode(record_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": record_id}).encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
        if not isinstance(after, str):
            raise TypeError(after)
        return after
    except (ValueError, KeyError, TypeError):
        raise Problem(
            422,
            "Invalid request",
            "cursor: not a cursor this API returned",
            kind="invalid-request",
            field="query.cursor",
        ) from None


async def principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    security = request.app.state.gateway.security
    found: Principal | None = None
    if bearer is not None:
        found = security.token_principal(bearer.credentials)
    elif session:
        found = security.session_principal(session)
        if found is not None and request.method not in _SAFE_METHODS:
            sent = request.headers.get("x-csrf-token", "")
            if not found.csrf or not _same(sent, found.csrf):
                raise Problem(
                    403,
                    "Forbidden",
                    "writes with the session cookie need the X-CSRF-Token header from login",
                    field="header.X-CSRF-Token",
                )
    if found is None:
        raise Problem(
            401,
            "Unauthorized",
            "a valid API token (Authorization: Bearer) or session is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    wait = security.request_limiter.retry_after(found.user)
    if wait is not None:
        raise Problem(
            429,
            "Too many requests",
            f"at most {security.config.requests_per_minute} requests a minute per user",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    return found


Caller = Annotated[Principal, Depends(principal)]
Symbols = Annotated[
    list[Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9.\-/^=]+$")]],
    Query(min_length=1, max_length=50),
]


def build_app(gateway: Gateway) -> FastAPI:
    """The FastAPI application of ``gateway`` (its runtime, security store, event log...)."""
    integration = gateway.integration
    security = gateway.security
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
    api = APIRouter(prefix="/v1", responses=_PROBLEMS)

    # -- authentication ----------------------------------------------------------------------------

    def need(p: Principal, resource: Resource, obj: str, verb: Verb) -> None:
        """404 when the caller cannot even read the object, 403 when they can read but not write it."""
        if p.can(resource, obj, verb):
            return
        if verb == "write":  # a refused write is a write attempt: audited too
            audit(p, "access", "denied", resource=resource, object=obj, verb=verb)
        if verb == "write" and p.can(resource, obj, "read"):
            raise Problem(403, "Forbidden", f"no WRITE permission on {resource} {obj!r}")
        raise Problem(404, "Not found", f"no {resource.rstrip('s')} {obj!r}", kind="not-found")

    def known_system(p: Principal, system: str, verb: Verb = "read") -> None:
        if system not in integration.systems:
            raise Problem(404, "Not found", f"no system {system!r}", kind="not-found")
        need(p, "systems", system, verb)

    def audit(p: Principal, action: str, outcome: str, *, system: str | None = None, **detail: Any) -> None:
        integration.audit.append(system, p.actor, f"gateway.{action}", outcome, detail=detail)

    async def audited(
        p: Principal, action: str, call: Awaitable[Any], *, system: str | None = None, **detail: Any
    ) -> Any:
        try:
            result = await call
        except Problem as exc:
            audit(p, action, "refused", system=system, status=exc.status, **detail)
            raise
        except PorticoError as exc:
            audit(p, action, "failed", system=system, error=type(exc).__name__, **detail)
            raise
        audit(p, action, "success", system=system, **detail)
        return result

    # -- session and tokens ------------------------------------------------------------------------

    @api.post("/auth/login", response_model=LoginOut, tags=["auth"], responses={429: {"model": ProblemModel}})
    async def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
        """Open an 8-hour session (sets an HttpOnly, SameSite=Strict cookie)."""
        client = request.client.host if request.client else "?"
        session_id, expires, csrf = await gateway.login(body.username, body.password, client)
        gateway.set_session_cookie(response, session_id, expires)
        return LoginOut(user=body.username, expires_at=expires, csrf_token=csrf)

    @api.post("/auth/logout", status_code=204, tags=["auth"])
    async def logout(p: Caller, request: Request) -> Response:
        """End the current session."""
        session = request.cookies.get(SESSION_COOKIE)
        if session:
            security.close_session(session)
        audit(p, "logout", "success")
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @api.get("/me", response_model=Me, tags=["auth"])
    async def me(p: Caller) -> Me:
        """Who the caller is and what they may do."""
        return Me(
            user=p.user,
            groups=list(p.groups),
            grants=list(p.grants),
            via=p.via,
            scopes=None if p.scopes is None else list(p.scopes),
        )

    @api.post("/tokens", status_code=201, response_model=TokenOut, tags=["auth"])
    async def create_token(body: TokenIn, p: Caller) -> TokenOut:
        """Create an API token whose scopes narrow the caller's own permissions (shown once)."""
        for i, scope in enumerate(body.scopes):
            if not any(
                g.resource == scope.resource
                and (g.permission.value == "READ_WRITE" or g.permission == scope.permission)
                for g in p.grants
            ):
                audit(p, "token.create", "refused", scope=i)
                raise Problem(
                    403,
                    "Forbidden",
                    f"scopes[{i}]: you hold no {scope.permission.value} grant on {scope.resource}",
                    field=f"body.scopes.{i}",
                )
        token, described = security.create_token(p.user, body.name, body.scopes, body.expires_in_days)
        gateway.monitor_redactor_add(token)
        audit(p, "token.create", "success", token_id=described["id"], name=body.name)
        return TokenOut(**described, token=token)

    @api.get("/tokens", response_model=list[TokenOut], tags=["auth"])
    async def list_tokens(p: Caller) -> list[TokenOut]:
        """The caller's tokens (never their secrets)."""
        return [TokenOut(**t) for t in security.list_tokens(p.user)]

    @api.delete("/tokens/{token_id}", status_code=204, tags=["auth"])
    async def revoke_token(token_id: ObjectId, p: Caller) -> Response:
        """Revoke one of the caller's tokens."""
        if not security.revoke_token(p.user, token_id):
            audit(p, "token.revoke", "refused", token_id=token_id)
            raise Problem(404, "Not found", f"no token {token_id!r}", kind="not-found")
        audit(p, "token.revoke", "success", token_id=token_id)
        return Response(status_code=204)

    # -- systems, accounts, positions --------------------------------------------------------------

    async def system_out(system_id: str) -> SystemOut:
        status = await integration.get_external_system_status(system_id)
        return SystemOut.model_validate(status.model_dump(include=set(SystemOut.model_fields)))

    @api.get("/systems", response_model=list[SystemOut], tags=["systems"])
    async def list_systems(p: Caller) -> list[SystemOut]:
        """The systems the caller may read, with their state."""
        return [await system_out(sid) for sid in integration.systems if p.can("systems", sid, "read")]

    @api.get("/systems/{system}", response_model=SystemOut, tags=["systems"])
    async def get_system(system: SystemId, p: Caller) -> SystemOut:
        """One system's state."""
        known_system(p, system)
        return await system_out(system)

    @api.get("/systems/{system}/accounts/{account_id}", tags=["accounts"])
    async def get_account(system: SystemId, account_id: ObjectId, p: Caller) -> dict[str, Any]:
        """An account's balances at the venue."""
        known_system(p, system)
        need(p, "accounts", f"{system}/{account_id}", "read")
        account = await integration.get_external_account(system, account_id)
        result: dict[str, Any] = account.model_dump(mode="json")
        return result

    @api.get("/systems/{system}/accounts/{account_id}/positions", tags=["accounts"])
    async def get_positions(system: SystemId, account_id: ObjectId, p: Caller) -> list[dict[str, Any]]:
        """An account's positions at the venue."""
        known_system(p, system)
        need(p, "accounts", f"{system}/{account_id}", "read")
        positions = await integration.get_external_positions(system, account_id)
        return [pos.model_dump(mode="json") for pos in positions]

    # -- orders ------------------------------------------------------------------------------------

    def trading_key(p: Principal, key: str) -> str:
        return "gw-" + hashlib.sha256(f"{p.user}\x1f{key}".encode()).hexdigest()[:40]

    @api.post(
        "/systems/{system}/orders",
        status_code=201,
        response_model=OrderOut,
        tags=["orders"],
        responses={409: {"model": ProblemModel, "description": "Idempotency-Key reused with another body"}},
    )
    async def place_order(
        system: SystemId,
        body: OrderIn,
        p: Caller,
        idempotency_key: Annotated[
            str | None,
            Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"),
        ] = None,
    ) -> Response:
        """Place an order. With ``Idempotency-Key``, the same key and body replay the first answer, and
        the same key with another body is 409."""
        known_system(p, system, "write")
        if body.account_id is not None:
            need(p, "accounts", f"{system}/{body.account_id}", "write")
        operation = f"POST /v1/systems/{system}/orders"
        digest = request_hash(operation, body.model_dump(mode="json", exclude_none=True))
        if idempotency_key is not None:
            stored = gateway.idempotency.get(p.user, idempotency_key)
            if stored is not None:
                if stored.request_hash != digest:
                    audit(p, "orders.place", "refused", system=system, reason="idempotency_conflict")
                    raise Problem(
                        409,
                        "Idempotency conflict",
                        "this Idempotency-Key was used with another request",
                        field="header.Idempotency-Key",
                    )
                return JSONResponse(
                    stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
                )
        key = trading_key(p, idempotency_key or uuid.uuid4().hex)
        try:
            client_order_id = await integration.place_external_order(
                system, body.to_request(), idempotency_key=key
            )
            record = integration.trading.get_order(client_order_id, system_id=system)
            status, answer = 201, OrderOut.of(record).model_dump(mode="json")
            audit(p, "orders.place", "success", system=system, order_id=record.id, status=record.status.value)
        except PorticoError as exc:
            problem = problem_for_error(exc)
            audit(p, "orders.place", "failed", system=system, error=type(exc).__name__)
            if problem.status >= 500 or idempotency_key is None:
                raise  # not definitive: a retry with the same key may still succeed, so nothing is stored
            status, answer = problem.status, problem.body(f"/v1/systems/{system}/orders")
        if idempotency_key is not None:
            kept = gateway.idempotency.put(
                p.user, idempotency_key, StoredAnswer(operation, digest, status, answer)
            )
            status, answer = kept.status_code, kept.body
        media = "application/json" if status < 400 else "application/problem+json"
        return JSONResponse(answer, status_code=status, media_type=media)

    @api.get("/orders", response_model=OrderPage, tags=["orders"])
    async def list_orders(
        p: Caller,
        system: Annotated[str | None, Query(max_length=128)] = None,
        status: Annotated[list[str] | None, Query(max_length=20)] = None,
        symbol: Annotated[str | None, Query(max_length=32)] = None,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> OrderPage:
        """Orders of the systems the caller may read, oldest first, a page at a time."""
        statuses = None
        if status:
            valid = {s.value for s in OrderStatus}
            bad = [s for s in status if s not in valid]
            if bad:
                raise Problem(
                    422,
                    "Invalid request",
                    f"status: {bad[0]!r} is not one of {', '.join(sorted(valid))}",
                    kind="invalid-request",
                    field="query.status",
                )
            statuses = status
        records = integration.trading.list_orders(system_id=system, statuses=statuses)
        records = [
            r
            for r in records
            if p.can("systems", r.system, "read") and (symbol is None or r.request.symbol == symbol.upper())
        ]
        if cursor is not None:
            after = _cursor_decode(cursor)
            ids = [r.id for r in records]
            records = records[ids.index(after) + 1 :] if after in ids else []
        page = records[:limit]
        next_cursor = _cursor_encode(page[-1].id) if len(records) > limit else None
        return OrderPage(items=[OrderOut.of(r) for r in page], next_cursor=next_cursor)

    @api.get("/systems/{system}/orders/{order_id}", response_model=OrderOut, tags=["orders"])
    async def get_order(system: SystemId, order_id: ObjectId, p: Caller) -> OrderOut:
        """One order (by portico id, client order id or venue id), looked up at the venue when unresolved."""
        known_system(p, system)
        record = await integration.trading.get_order_status(system, order_id)
        return OrderOut.of(record)

    @api.post(
        "/systems/{system}/orders/{order_id}/cancel",
        status_code=202,
        response_model=CancelAnswer,
        tags=["orders"],
    )
    async def cancel_order(system: SystemId, order_id: ObjectId, p: Caller) -> CancelAnswer:
        """Ask the venue to cancel; the order is ``pending_cancel`` until the venue confirms."""
        known_system(p, system, "write")
        integration.trading.get_order(order_id, system_id=system)  # 404 before anything is audited as sent
        await audited(
            p,
            "orders.cancel",
            integration.cancel_external_order(system, order_id),
            system=system,
            order_id=order_id,
        )
        return CancelAnswer(order=OrderOut.of(integration.trading.get_order(order_id, system_id=system)))

    @api.post(
        "/systems/{system}/orders/{order_id}/replace",
        status_code=201,
        response_model=ReplaceAnswer,
        tags=["orders"],
        responses={
            409: {
                "model": ProblemModel,
                "description": "Idempotency-Key reused with another body, or the order cannot be replaced "
                "(filled, cancelled, replaced, or a replace of it is still unresolved)",
            }
        },
    )
    async def replace_order(
        system: SystemId,
        order_id: ObjectId,
        body: ReplaceIn,
        p: Caller,
        idempotency_key: Annotated[
            str | None,
            Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"),
        ] = None,
    ) -> Response:
        """Replace an open order (new quantity, limit or stop price, time in force): the replace is stored
        before it is sent and the answer names the order that now stands. With ``Idempotency-Key``, the
        same key and body replay the first answer, and the same key with another body is 409."""
        known_system(p, system, "write")
        original = integration.trading.get_order(order_id, system_id=system)  # 404 before anything is audited
        if original.account_id is not None:
            need(p, "accounts", f"{system}/{original.account_id}", "write")
        operation = f"POST /v1/systems/{system}/orders/{original.id}/replace"
        digest = request_hash(operation, body.canonical())
        if idempotency_key is not None:
            stored = gateway.idempotency.get(p.user, idempotency_key)
            if stored is not None:
                if stored.request_hash != digest:
                    audit(p, "orders.replace", "refused", system=system, reason="idempotency_conflict")
                    raise Problem(
                        409,
                        "Idempotency conflict",
                        "this Idempotency-Key was used with another request",
                        field="header.Idempotency-Key",
                    )
                return JSONResponse(
                    stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
                )
        key = trading_key(p, idempotency_key or uuid.uuid4().hex)
        try:
            client_order_id = await integration.replace_external_order(
                system, original.id, body.changes(), idempotency_key=key
            )
            record = integration.trading.get_order(client_order_id, system_id=system)
            replaced = integration.trading.get_order(original.id)
            status = 201
            answer = ReplaceAnswer(order=OrderOut.of(record), replaced=OrderOut.of(replaced)).model_dump(
                mode="json"
            )
            audit(
                p,
                "orders.replace",
                "success",
                system=system,
                order_id=record.id,
                replaces=original.id,
                status=record.status.value,
            )
        except PorticoError as exc:
            problem = problem_for_error(exc)
            audit(
                p, "orders.replace", "failed", system=system, replaces=original.id, error=type(exc).__name__
            )
            from portico.trading import OrderNotReplaceable  # lazy: on use, as the trading service is loaded

            # not definitive: a retry with the same key may still succeed (the original's outcome or an
            # earlier replace is resolved meanwhile), so nothing is stored under the key
            transient = isinstance(exc, OutcomeUnknown | OrderNotReplaceable)
            if problem.status >= 500 or idempotency_key is None or transient:
                raise
            status, answer = problem.status, problem.body(f"/v1/systems/{system}/orders/{order_id}/replace")
        if idempotency_key is not None:
            kept = gateway.idempotency.put(
                p.user, idempotency_key, StoredAnswer(operation, digest, status, answer)
            )
            status, answer = kept.status_code, kept.body
        media = "application/json" if status < 400 else "application/problem+json"
        return JSONResponse(answer, status_code=status, media_type=media)

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

    # -- reconciliation ----------------------------------------------------------------------------

    @api.post("/reconciliations", status_code=201, tags=["reconciliation"])
    async def run_reconciliation(body: ReconcileIn, p: Caller) -> dict[str, Any]:
        """Reconcile positions, trades and cash against the book now; returns the run's summary and breaks."""
        need(p, "jobs", "reconciliation", "write")
        for sid in body.systems or []:
            known_system(p, sid)
        # all systems means all the caller may read: a report names positions of every system in it
        systems = body.systems or [sid for sid in integration.systems if p.can("systems", sid, "read")]
        if not systems:
            raise Problem(
                422,
                "Invalid request",
                "systems: you may read no system to reconcile",
                kind="invalid-request",
                field="body.systems",
            )
        report = await audited(p, "reconciliation.run", integration.reconcile(systems), systems=systems)
        return {"summary": report.summary(), "breaks": report.to_rows()}

    @api.get("/reconciliations/breaks", tags=["reconciliation"])
    async def reconciliation_breaks(
        p: Caller, run_id: Annotated[str | None, Query(max_length=64)] = None
    ) -> list[dict[str, Any]]:
        """Stored breaks (of one run, or every run), oldest first."""
        need(p, "jobs", "reconciliation", "read")
        rows: list[dict[str, Any]] = integration.trading.reconciler().stored_breaks(run_id)
        return [r for r in rows if r.get("system") is None or p.can("systems", str(r.get("system")), "read")]

    # -- jobs, quarantine, imports, exports --------------------------------------------------------

    @api.get("/jobs", tags=["jobs"])
    async def list_jobs(p: Caller) -> list[dict[str, Any]]:
        """Scheduled jobs the caller may read, with their next run and last status."""
        jobs = [j for j in await integration.list_jobs() if p.can("jobs", str(j.get("job_id", "")), "read")]
        return [_masked(integration, j) for j in jobs]

    def job_known(p: Principal, jobs: list[dict[str, Any]], job_id: str, verb: Verb) -> None:
        if not any(str(j.get("job_id")) == job_id for j in jobs):
            raise Problem(404, "Not found", f"no job {job_id!r}", kind="not-found")
        need(p, "jobs", job_id, verb)

    @api.get("/jobs/{job_id}/history", tags=["jobs"])
    async def job_history(
        job_id: ObjectId, p: Caller, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> list[dict[str, Any]]:
        """Runs of a job, newest first."""
        job_known(p, await integration.list_jobs(), job_id, "read")
        return [_masked(integration, run) for run in await integration.job_history(job_id, limit=limit)]

    @api.post("/jobs/{job_id}/runs", status_code=202, response_model=JobRun, tags=["jobs"])
    async def run_job(job_id: ObjectId, p: Caller) -> JSONResponse:
        """Run a job now; answers 202 at once with the URL of the run's status."""
        job_known(p, await integration.list_jobs(), job_id, "write")
        run = gateway.start_job_run(job_id, p)
        audit(p, "jobs.run", "started", job=job_id, ticket=run.ticket)
        return JSONResponse(
            run.model_dump(mode="json"), status_code=202, headers={"Location": run.status_url}
        )

    @api.get("/jobs/{job_id}/runs/{ticket}", response_model=JobRun, tags=["jobs"])
    async def job_run_status(job_id: ObjectId, ticket: ObjectId, p: Caller) -> JobRun:
        """The status of a run started through the API."""
        need(p, "jobs", job_id, "read")
        run = gateway.job_runs.get(ticket)
        if run is None or run.job_id != job_id:
            raise Problem(404, "Not found", f"no run {ticket!r}", kind="not-found")
        return run

    def dlq() -> Any:
        from portico.jobs import DeadLetterQueue  # lazy: cold start

        return DeadLetterQueue(integration.jobs.importer)

    @api.get("/quarantine", tags=["quarantine"])
    async def quarantine(
        p: Caller,
        data_type: Annotated[str | None, Query(max_length=64)] = None,
        status: Annotated[Literal["open", "replayed", "discarded"], Query()] = "open",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Quarantined (dead-letter) records of imports."""
        need(p, "jobs", "quarantine", "read")
        rows: list[dict[str, Any]] = dlq().list(status=status, data_type=data_type, limit=limit)
        return json.loads(json.dumps(rows, default=str))

    @api.post("/quarantine/replay", tags=["quarantine"])
    async def quarantine_replay(body: ReplayIn, p: Caller) -> dict[str, Any]:
        """Re-map and load quarantined records; answers which loaded and which still fail, and why."""
        need(p, "jobs", "quarantine", "write")
        queue = dlq()
        known = {e["id"] for e in queue.list(status=None, limit=1_000_000)}
        missing = [i for i in body.ids if i not in known]
        if missing:
            raise Problem(
                404, "Not found", f"no quarantined record {missing[0]}", kind="not-found", field="body.ids"
            )
        result: dict[str, Any] = await audited(
            p, "quarantine.replay", asyncio.to_thread(queue.replay, body.ids), ids=body.ids
        )
        return json.loads(json.dumps(result, default=str))

    @api.post(
        "/imports/{data_type}", status_code=201, tags=["imports"], responses={413: {"model": ProblemModel}}
    )
    async def import_upload(
        data_type: Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")],
        file: Annotated[
            UploadFile, File(description="The file to import (CSV, JSON, XLSX... by its extension).")
        ],
        p: Caller,
    ) -> dict[str, Any]:
        """Import an uploaded file: every record loaded, rejected with a reason, or quarantined."""
        need(p, "jobs", f"import:{data_type}", "write")
        name = Path(file.filename or "upload").name
        suffix = "".join(Path(name).suffixes[-2:]) or ".csv"
        if not all(c.isalnum() or c in "._-" for c in suffix):
            raise Problem(
                422,
                "Invalid request",
                "file: the file name's extension is not valid",
                kind="invalid-request",
                field="body.file",
            )
        folder = portico_home() / "gateway-uploads"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=suffix, delete=False) as tmp:
            size = 0
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > security.config.max_upload_bytes:
                    tmp.close()
                    Path(tmp.name).unlink(missing_ok=True)
                    raise Problem(
                        413,
                        "Upload too large",
                        f"file: at most {security.config.max_upload_bytes} bytes",
                        field="body.file",
                    )
                tmp.write(chunk)
        try:
            result = await audited(
                p,
                "imports.upload",
                integration.import_data(tmp.name, data_type),
                data_type=data_type,
                file=name,
            )
        finally:
            Path(tmp.name).unlink(missing_ok=True)
        out = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        for key in ("source", "source_key", "feed"):  # the server's temporary path is nobody's business
            if key in out:
                out[key] = name
        answer: dict[str, Any] = json.loads(json.dumps(out, default=str))
        return answer

    @api.get("/exports/{data_type}", tags=["exports"], response_class=FileResponse)
    async def export_download(
        data_type: Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")],
        p: Caller,
        format: Annotated[Literal["csv", "json", "xlsx", "parquet"], Query()] = "csv",
    ) -> FileResponse:
        """Export data and download the file."""
        need(p, "jobs", f"export:{data_type}", "read")
        folder = portico_home() / "exports" / "gateway"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{data_type}-{uuid.uuid4().hex}.{format}"
        await audited(
            p,
            "exports.download",
            integration.export_data(data_type, target.as_uri(), {"format": format}),
            data_type=data_type,
        )
        if not target.exists():
            raise Problem(404, "Not found", f"the {data_type} export wrote no file", kind="not-found")
        return FileResponse(target, filename=f"{data_type}.{format}", background=_unlink_after(target))

    # -- credentials -------------------------------------------------------------------------------

    def vault() -> Any:
        found = getattr(integration.auth, "vault", None)
        if found is None:
            raise Problem(
                409, "Vault not configured", "set PORTICO_VAULT_PASSPHRASE to use the credential vault"
            )
        return found

    @api.get("/credentials", tags=["credentials"])
    async def list_credentials(p: Caller) -> list[dict[str, Any]]:
        """Credential names and metadata the caller may read (never their values)."""
        if not p.can_any("credentials", "read"):
            return []
        infos = vault().list() if vault().exists() else []
        out = []
        for info in infos:
            data = (
                info.model_dump(mode="json")
                if isinstance(info, BaseModel)
                else dict(getattr(info, "__dict__", {}))
            )
            data.pop("value", None)
            if p.can("credentials", str(data.get("name")), "read"):
                out.append(json.loads(json.dumps(data, default=str)))
        return out

    @api.put(
        "/credentials/{name:path}",
        status_code=204,
        tags=["credentials"],
        responses={409: {"model": ProblemModel}},
    )
    async def set_credential(name: CredentialName, body: CredentialIn, p: Caller) -> Response:
        """Store a credential in the vault (write-only: it is never answered back)."""
        need(p, "credentials", name, "write")
        gateway.monitor_redactor_add(body.value)
        store = vault()
        await audited(p, "credentials.set", asyncio.to_thread(store.set, name, body.value), name=name)
        return Response(status_code=204)

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

    # -- inbound webhooks --------------------------------------------------------------------------

    @app.post(
        "/v1/webhooks/{system}",
        tags=["webhooks"],
        responses={401: {"model": ProblemModel}, 404: {"model": ProblemModel}, 422: {"model": ProblemModel}},
    )
    async def webhook(
        system: SystemId,
        request: Request,
        x_portico_timestamp: Annotated[str | None, Header(max_length=20)] = None,
        x_portico_delivery: Annotated[str | None, Header(max_length=200)] = None,
        x_portico_signature: Annotated[str | None, Header(max_length=200)] = None,
    ) -> dict[str, Any]:
        """A vendor's push (order update, file ready), signed with the system's HMAC secret; a delivery
        seen before is acknowledged and not processed again."""
        body = await request.body()
        try:
            fresh = gateway.webhooks.verify(
                system, x_portico_timestamp, x_portico_delivery, x_portico_signature, body
            )
        except WebhookRefused as exc:
            integration.audit.append(
                system, "webhook", "gateway.webhook", "refused", detail={"reason": exc.reason}
            )
            raise Problem(exc.status, "Webhook refused", exc.reason) from None
        if not fresh:
            return {"status": "duplicate", "delivery": x_portico_delivery}
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError:
            gateway.webhooks.forget(system, str(x_portico_delivery))
            raise Problem(
                422, "Invalid request", "body: expected a JSON object", kind="invalid-request", field="body"
            ) from None
        try:
            outcome = await gateway.handle_webhook(system, str(x_portico_delivery), payload)
        except Exception:
            gateway.webhooks.forget(system, str(x_portico_delivery))  # not processed: the sender's retry is
            raise
        integration.audit.append(
            system,
            "webhook",
            "gateway.webhook",
            "accepted",
            detail={"delivery": x_portico_delivery, "kind": payload.get("type")},
        )
        return {"status": "accepted", "delivery": x_portico_delivery, **outcome}

    # -- the event stream --------------------------------------------------------------------------

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        """Order events, market data, alerts and webhooks; ``?topics=orders,alerts&last_event_id=N``
        resumes after event N with nothing missed and nothing doubled."""
        found: Principal | None = None
        header = websocket.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            found = security.token_principal(header[7:].strip())
        elif websocket.cookies.get(SESSION_COOKIE):
            origin = websocket.headers.get("origin")
            if origin is None or origin in gateway.same_origins():
                found = security.session_principal(websocket.cookies[SESSION_COOKIE])
        if found is None:
            # accepted then closed, so the client reads why (a refused handshake is a bare 403)
            await websocket.accept()
            await websocket.close(code=4401, reason="authentication required")
            return
        p = found
        topics_param = websocket.query_params.get("topics", ",".join(TOPICS))
        topics = [t for t in topics_param.split(",") if t]
        try:
            last = int(websocket.query_params.get("last_event_id", "0"))
        except ValueError:
            last = -1
        if last < 0 or not topics or any(t not in TOPICS for t in topics):
            await websocket.accept()
            await websocket.close(
                code=4422,
                reason="topics: a comma list of " + ",".join(TOPICS) + "; last_event_id: an integer >= 0",
            )
            return
        await websocket.accept()

        def visible(event: GatewayEvent) -> bool:
            if event.topic not in topics:
                return False
            if event.system is None:
                return p.can_any("systems", "read")
            return p.can("systems", event.system, "read")

        subscriptions: list[tuple[str, str]] = []
        try:
            with gateway.events.subscribe(visible) as live:
                while True:  # the backlog, page by page (live events queue up meanwhile)
                    page = gateway.events.since(last, topics)
                    for event in page:
                        if visible(event):
                            await websocket.send_json(event.to_json())
                        last = event.id
                    if len(page) < 1000:
                        break
                receiver = asyncio.create_task(_client_messages(websocket, p, gateway, subscriptions))
                try:
                    while True:
                        getter = asyncio.create_task(live.queue.get())
                        done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                        if receiver in done:
                            getter.cancel()
                            receiver.result()
                            return
                        event = getter.result()
                        if event.id <= last:
                            continue
                        await websocket.send_json(event.to_json())
                        last = event.id
                        if live.overflowed and live.queue.empty():
                            await websocket.close(
                                code=1013, reason="too far behind: reconnect with last_event_id"
                            )
                            return
                finally:
                    receiver.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await receiver
        except WebSocketDisconnect:
            return
        finally:
            for system, sub_id in subscriptions:
                with contextlib.suppress(Exception):
                    await integration.unsubscribe_market_data(system, sub_id)

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


async def _client_messages(
    websocket: WebSocket, p: Principal, gateway: Gateway, subscriptions: list[tuple[str, str]]
) -> None:
    """Handle what a stream client sends: ``{"action": "subscribe_market_data", "system": ..., "symbols": [...]}``."""
    while True:
        try:
            message = await websocket.receive_json()
        except (WebSocketDisconnect, RuntimeError):
            return
        except ValueError:
            await websocket.send_json({"error": "expected a JSON object"})
            continue
        if not isinstance(message, dict) or message.get("action") != "subscribe_market_data":
            await websocket.send_json({"error": "action: expected 'subscribe_market_data'"})
            continue
        system, symbols = message.get("system"), message.get("symbols")
        data_type = message.get("data_type", "latest_quote")
        if (
            not isinstance(system, str)
            or system not in gateway.integration.systems
            or not p.can("systems", system, "read")
        ):
            await websocket.send_json({"error": f"system: no system {system!r}"})
            continue
        if (
            not isinstance(symbols, list)
            or not symbols
            or not all(isinstance(s, str) and 0 < len(s) <= 32 for s in symbols)
        ):
            await websocket.send_json({"error": "symbols: expected a list of 1 to 50 symbols"})
            continue
        try:
            sub_id = await gateway.subscribe_market_data(system, symbols[:50], str(data_type))
        except PorticoError as exc:
            await websocket.send_json({"error": exc.message})
            continue
        subscriptions.append((system, sub_id))
        await websocket.send_json({"subscribed": sub_id, "system": system, "symbols": symbols[:50]})


_URL_PASSWORD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]+):[^@/\s]+@")


def _masked(integration: Any, value: dict[str, Any]) -> dict[str, Any]:
    """A stored job or run as JSON, with secrets masked: known secret values and secret-looking keys (the
    monitor's redactor) and the password of any URL (``sftp://user:pw@host`` -> ``sftp://user:***@host``)."""
    text = json.dumps(value, default=str)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}:***@", text)
    data: dict[str, Any] = json.loads(text)
    redactor = getattr(integration.monitor, "redactor", None)
    if redactor is not None:
        data = redactor.redact(data)
    return data


def _unlink_after(path: Path) -> Any:
    from starlette.background import BackgroundTask

    return BackgroundTask(path.unlink, missing_ok=True)


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())
