"""The ``/v1`` session and token routes: login, logout, who am I, API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from portico.gateway._dependencies import SESSION_COOKIE, Caller, ObjectId, Routes
from portico.gateway._models import LoginIn, LoginOut, Me, TokenIn, TokenOut
from portico.gateway._problems import Problem, ProblemModel

__all__ = ["add_auth_routes"]


def add_auth_routes(api: APIRouter, routes: Routes) -> None:
    """Add these routes (in the order the OpenAPI document lists them)."""
    gateway, security, audit = routes.gateway, routes.security, routes.audit

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
