"""RFC 9457 problem details: every error the API answers, naming the field at fault where there is one."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from portico.errors import (
    AuthError,
    CircuitOpen,
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    PayloadRejected,
    PorticoError,
    RateLimited,
    TransportError,
    VenueRejected,
)
from portico.monitor import get_logger

__all__ = ["Problem", "ProblemModel", "install_problem_handlers", "problem_for_error"]

MEDIA_TYPE = "application/problem+json"
_log = get_logger("portico.gateway")


class FieldError(BaseModel):
    """One invalid input."""

    field: str
    message: str


class ProblemModel(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    field: str | None = Field(
        default=None, description="The input at fault (``body.quantity``, ``query.cursor``)."
    )
    errors: list[FieldError] | None = None


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document."""
        out: dict[str, Any] = {
            "type": f"urn:portico:problem:{self.kind}",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            out["detail"] = self.detail
        if instance:
            out["instance"] = instance
        if self.field:
            out["field"] = self.field
        out.update(self.extra)
        return out

    def response(self, instance: str | None = None) -> JSONResponse:
        """The problem as an HTTP answer."""
        return JSONResponse(
            self.body(instance), status_code=self.status, headers=self.headers, media_type=MEDIA_TYPE
        )


def problem_for_error(exc: PorticoError) -> Problem:
    """The HTTP answer for a portico error (the error's message is already redacted)."""
    # imported here: the trading service is loaded on first use by the runtime, not by the gateway's import
    from portico.auth import VaultError  # lazy: cold start
    from portico.trading import (  # lazy: cold start
        IdempotencyConflict,
        OrderNotReplaceable,
        OrderRejected,
        RecoveryIncomplete,
    )

    message = exc.message
    if isinstance(exc, VaultError):
        return Problem(409, "Vault refused", message, kind="vault-refused")
    if isinstance(exc, IdempotencyConflict):
        return Problem(409, "Idempotency conflict", message, field="Idempotency-Key")
    if isinstance(exc, OrderNotReplaceable):
        return Problem(
            409,
            "Order not replaceable",
            message,
            kind="not-replaceable",
            extra={"order_status": exc.status.value},
        )
    if isinstance(exc, PayloadRejected):
        return Problem(422, "Invalid request", message, kind="invalid-request", field=exc.field)
    if isinstance(exc, ConfigurationError):
        if message.startswith("unknown system"):
            return Problem(404, "Not found", message, kind="not-found")
        return Problem(422, "Invalid request", message, kind="invalid-request", field=exc.path)
    if isinstance(exc, NotSupported):
        return Problem(422, "Not supported", message, field=exc.capability)
    if isinstance(exc, NotFound):
        return Problem(404, "Not found", message, kind="not-found")
    if isinstance(exc, OrderRejected):
        record = getattr(exc, "record", None)
        extra = {"order_id": record.id, "reject_reason": record.reject_reason} if record is not None else {}
        return Problem(422, "Order rejected", message, extra=extra)
    if isinstance(exc, VenueRejected):
        return Problem(422, "Rejected by the venue", message, kind="venue-rejected")
    if isinstance(exc, OutcomeUnknown):
        return Problem(409, "Outcome unknown", message, kind="outcome-unknown")
    if isinstance(exc, RateLimited | CircuitOpen):
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(max(1, round(retry)))} if retry else {}
        return Problem(503, "System unavailable", message, kind="unavailable", headers=headers)
    if isinstance(exc, RecoveryIncomplete):
        return Problem(503, "System recovering", message, kind="recovering", headers={"Retry-After": "5"})
    if isinstance(exc, AuthError):
        return Problem(502, "Venue authentication failed", message, kind="venue-auth")
    if isinstance(exc, TransportError):
        return Problem(502, "Venue unreachable", message, kind="venue-unreachable")
    return Problem(500, "Internal error", "the request failed; see the server log", kind="internal")


def _field_path(loc: Any) -> str:
    return ".".join(str(p) for p in loc)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error as a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_path(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()
        ]
        first = errors[0]["field"] if errors else None
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        problem = Problem(
            422, "Invalid request", detail, kind="invalid-request", field=first, extra={"errors": errors}
        )
        return problem.response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}
        title = titles.get(exc.status_code, "HTTP error")
        problem = Problem(
            exc.status_code, title, str(exc.detail) if exc.detail else None, headers=dict(exc.headers or {})
        )
        return problem.response(request.url.path)

    @app.exception_handler(PorticoError)
    async def _portico(request: Request, exc: PorticoError) -> JSONResponse:
        problem = problem_for_error(exc)
        if problem.status >= 500:
            _log.warning("gateway.error", path=request.url.path, error=type(exc).__name__, detail=exc.message)
        return problem.response(request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error("gateway.unexpected", path=request.url.path, error=type(exc).__name__, exc_info=exc)
        return Problem(
            500, "Internal error", "the request failed; see the server log", kind="internal"
        ).response(request.url.path)
