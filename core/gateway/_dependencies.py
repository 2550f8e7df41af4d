"""What every ``/v1`` route shares: the caller (:func:`principal`), path and query types, pagination
cursors, and :class:`Routes`, the access checks, audit helpers and the write preamble the route modules use.

Reading an object the caller may not read answers 404 (its existence is not revealed); writing one the
caller may read but not write answers 403. Every write is appended to the hash-chained audit log with the
user, whatever its outcome.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from portico.errors import PorticoError
from portico.gateway._config import Resource
from portico.gateway._idempotency import StoredAnswer, request_hash
from portico.gateway._problems import Problem, ProblemModel
from portico.gateway._security import Principal, Verb

if TYPE_CHECKING:
    from portico.gateway._server import Gateway

__all__ = [
    "PROBLEMS",
    "SESSION_COOKIE",
    "Caller",
    "CredentialName",
    "DataType",
    "IdempotencyKey",
    "ObjectId",
    "Routes",
    "Symbols",
    "SystemId",
    "Write",
    "cursor_decode",
    "cursor_encode",
    "principal",
]

SESSION_COOKIE = "portico_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_bearer = HTTPBearer(auto_error=False, description="An API token: ``pt_<id>_<secret>``.")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The session cookie set by /v1/auth/login."
)
PROBLEMS: dict[int | str, dict[str, Any]] = {
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
DataType = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"),
]


def cursor_encode(record_id: str) -> str:
    """An opaque page cursor: the next page starts after ``record_id``."""
    return base64.urlsafe_b64encode(json.dumps({"after": record_id}).encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> str:
    """The record id a cursor of :func:`cursor_encode` names (422 on anything else)."""
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
    """The caller, by API token or session cookie (a write by cookie needs the CSRF header); 401 if
    neither is valid, 429 past the per-user request limit."""
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


class Routes:
    """The gateway as the route modules see it: access checks and audit helpers. The runtime and the
    security store are read when a request comes (the OpenAPI document is built without either)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    @property
    def integration(self) -> Any:
        return self.gateway.integration

    @property
    def security(self) -> Any:
        return self.gateway.security

    def need(self, p: Principal, resource: Resource, obj: str, verb: Verb) -> None:
        """404 when the caller cannot even read the object, 403 when they can read but not write it."""
        if p.can(resource, obj, verb):
            return
        if verb == "write":  # a refused write is a write attempt: audited too
            self.audit(p, "access", "denied", resource=resource, object=obj, verb=verb)
        if verb == "write" and p.can(resource, obj, "read"):
            raise Problem(403, "Forbidden", f"no WRITE permission on {resource} {obj!r}")
        raise Problem(404, "Not found", f"no {resource.rstrip('s')} {obj!r}", kind="not-found")

    def known_system(self, p: Principal, system: str, verb: Verb = "read") -> None:
        """404 for a system that does not exist, then :meth:`need` on it."""
        if system not in self.integration.systems:
            raise Problem(404, "Not found", f"no system {system!r}", kind="not-found")
        self.need(p, "systems", system, verb)

    def audit(
        self, p: Principal, action: str, outcome: str, *, system: str | None = None, **detail: Any
    ) -> None:
        """Append ``gateway.<action>`` with its outcome to the audit log."""
        self.integration.audit.append(system, p.actor, f"gateway.{action}", outcome, detail=detail)

    async def audited(
        self, p: Principal, action: str, call: Awaitable[Any], *, system: str | None = None, **detail: Any
    ) -> Any:
        """Await ``call``, auditing it as a success, refused (a problem answer) or failed (an error)."""
        try:
            result = await call
        except Problem as exc:
            self.audit(p, action, "refused", system=system, status=exc.status, **detail)
            raise
        except PorticoError as exc:
            self.audit(p, action, "failed", system=system, error=type(exc).__name__, **detail)
            raise
        self.audit(p, action, "success", system=system, **detail)
        return result

    def write(self, p: Principal, system: str, action: str, idempotency_key: str | None = None) -> Write:
        """The preamble of every write on a system: the system exists and the caller may write it (404 or
        403 first, audited), then the :class:`Write` that carries the idempotency of the rest."""
        self.known_system(p, system, "write")
        return Write(self, p, system, action, idempotency_key)


class Write:
    """One write on a system, after :meth:`Routes.write`: account checks, the ``Idempotency-Key`` replay
    (same key and body: the first answer again; same key, another body: 409), the key the trading
    service dedupes by, audit entries, and the answer (stored under the key when it is definitive)."""

    def __init__(
        self, routes: Routes, p: Principal, system: str, action: str, idempotency_key: str | None
    ) -> None:
        self.routes = routes
        self.p = p
        self.system = system
        self.action = action
        self.idempotency_key = idempotency_key
        self._operation = ""
        self._digest = ""

    def account(self, account_id: str | None) -> None:
        """The caller may write the account (when the write names one)."""
        if account_id is not None:
            self.routes.need(self.p, "accounts", f"{self.system}/{account_id}", "write")

    def replay(self, operation: str, canonical: Any) -> JSONResponse | None:
        """The stored answer of this key and request (``Idempotent-Replayed: true``), or None to go on;
        409 when the key was used with another request."""
        self._operation = operation
        self._digest = request_hash(operation, canonical)
        if self.idempotency_key is None:
            return None
        stored = self.routes.gateway.idempotency.get(self.p.user, self.idempotency_key)
        if stored is None:
            return None
        if stored.request_hash != self._digest:
            self.audit("refused", reason="idempotency_conflict")
            raise Problem(
                409,
                "Idempotency conflict",
                "this Idempotency-Key was used with another request",
                field="header.Idempotency-Key",
            )
        return JSONResponse(
            stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
        )

    def trading_key(self) -> str:
        """The trading service's idempotency key: the caller's key (or a fresh one) scoped to the user."""
        key = self.idempotency_key or uuid.uuid4().hex
        return "gw-" + hashlib.sha256(f"{self.p.user}\x1f{key}".encode()).hexdigest()[:40]

    def audit(self, outcome: str, **detail: Any) -> None:
        """Audit this write's action on its system."""
        self.routes.audit(self.p, self.action, outcome, system=self.system, **detail)

    def answer(self, status: int, body: dict[str, Any]) -> JSONResponse:
        """The answer; with a key, stored first (a concurrent first answer under the key wins)."""
        if self.idempotency_key is not None:
            kept = self.routes.gateway.idempotency.put(
                self.p.user, self.idempotency_key, StoredAnswer(self._operation, self._digest, status, body)
            )
            status, body = kept.status_code, kept.body
        media = "application/json" if status < 400 else "application/problem+json"
        return JSONResponse(body, status_code=status, media_type=media)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
