"""Schwab's OAuth endpoints: ``/v1/oauth/authorize`` (redirects with a code) and ``/v1/oauth/token``.

The token endpoint takes the app key and secret as HTTP Basic; grants are ``authorization_code``
and ``refresh_token``. Access tokens live 30 minutes, the refresh token 7 days from the login; a
refresh returns the same refresh token (its term does not restart), and once it has expired every
refresh is refused until the user signs in again.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portico.mocks._kit import json_response
from portico.mocks.schwab._app import SchwabMockApp

__all__ = ["oauth_routes"]

# the body Schwab was seen answering to a refresh with an expired or unknown refresh token
_REFRESH_REFUSED = {
    "error": "unsupported_token_type",
    "error_description": '400 Bad Request: "{"error_description":"Exception while authenticating refresh token '
    '[RefreshToken expired or invalid]","error":"refresh_token_authentication_error"}"',
}


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


async def authorize(request: Request) -> Response:
    """The sign-in page, approved at once: redirect to the callback with ``code`` (and ``session``)."""
    app: SchwabMockApp = request.app
    client_id = request.query_params.get("client_id", "")
    redirect_uri = request.query_params.get("redirect_uri", "")
    if not client_id or (app.clients is not None and client_id not in app.clients):
        return _oauth_error(400, "invalid_client", "Unknown client_id")
    if not redirect_uri or not app.callback_allowed(redirect_uri):
        return _oauth_error(400, "invalid_request", "redirect_uri does not match a registered callback URL")
    params: dict[str, Any] = {"code": app.issue_code(client_id, redirect_uri), "session": app.venue.new_id()}
    if "state" in request.query_params:
        params["state"] = request.query_params["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)


def _basic(request: Request) -> tuple[str | None, str | None]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None, None
    try:
        key, _, secret = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return key, secret


async def token(request: Request) -> Response:
    """``POST /v1/oauth/token``: the code and refresh grants, client authenticated by HTTP Basic."""
    app: SchwabMockApp = request.app
    key, secret = _basic(request)
    if not app.check_client(key, secret):
        return _oauth_error(401, "invalid_client", "Unauthorized")
    assert key is not None
    form = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True))
    grant_type = str(form.get("grant_type", ""))
    now = app.clock.now()
    if grant_type == "authorization_code":
        code = str(form.get("code", ""))
        grant = app.codes.pop(code, None)
        if grant is None or grant.client_id != key or grant.expires_at <= now:
            return _oauth_error(400, "invalid_grant", "Authorization code is invalid or has expired")
        if str(form.get("redirect_uri", "")) != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "redirect_uri does not match the authorization request")
        return json_response(app.issue_tokens(key))
    if grant_type == "refresh_token":
        refresh = str(form.get("refresh_token", ""))
        found = app.refresh_tokens.get(refresh)
        if found is None or found.client_id != key or found.expires_at <= now:
            return json_response(_REFRESH_REFUSED, 400)
        return json_response(app.issue_tokens(key, refresh_token=refresh))
    return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


async def expire(request: Request) -> Response:
    """Admin: ``POST /__mock__/schwab/expire {"access": true, "refresh": false}`` expires tokens now."""
    app: SchwabMockApp = request.app
    try:
        data = await request.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        return json_response({"message": "body must be a JSON object"}, 422)
    app.expire(access=bool(data.get("access", True)), refresh=bool(data.get("refresh", False)))
    return json_response(
        {"expired": {"access": bool(data.get("access", True)), "refresh": bool(data.get("refresh"))}}
    )


def oauth_routes() -> list[Route]:
    """The OAuth routes and the token-expiry admin route."""
    return [
        Route("/v1/oauth/authorize", authorize, methods=["GET"]),
        Route("/v1/oauth/token", token, methods=["POST"]),
        Route("/__mock__/schwab/expire", expire, methods=["POST"]),
    ]
