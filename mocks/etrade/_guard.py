"""The guard every API route passes: OAuth signature and access-token checks, the per-module rate
limit, and E*TRADE's error bodies for refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from portico.mocks._kit import VenueError
from portico.mocks.etrade._oauth import OAuthProblem, SignedRequest
from portico.mocks.etrade._wire import (
    BadRequest,
    error_response,
    oauth_problem_page,
    rate_limit_page,
    wants_json,
)

if TYPE_CHECKING:
    from portico.mocks.etrade._app import EtradeMockApp

__all__ = ["VENUE_ERRORS", "Call", "api", "api_module"]

# the venue's neutral refusals as E*TRADE error codes (the codes E*TRADE documents where it does;
# the others are the mock's own, listed in the connector's client so both sides agree)
VENUE_ERRORS: dict[str, tuple[int, str]] = {
    "insufficient_buying_power": (1038, "There are insufficient funds in this account to cover this order."),
    "insufficient_qty": (1039, "You do not hold enough shares to sell."),
    "not_found": (5002, "The order number you entered does not exist."),
    "duplicate_client_order_id": (
        1078,
        "The client order id was already used for another order in this account.",
    ),
    "invalid": (1001, "The order is not valid."),
    "unknown_asset": (10033, "The symbol you entered is not valid."),
    "not_cancelable": (5001, "This order cannot be cancelled."),
    "not_replaceable": (5003, "This order cannot be changed."),
}

Handler = Callable[[Request, "Call"], Awaitable[Response]]


class Call:
    """One authenticated API call: who made it, its body and the format to answer in."""

    def __init__(self, signed: SignedRequest, body: bytes, as_json: bool) -> None:
        self.signed = signed
        self.body = body
        self.as_json = as_json


def api_module(path: str) -> str:
    if path.startswith("/v1/market"):
        return "market"
    if "/orders" in path:
        return "order"
    return "accounts"


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Guard an API route: verify the OAuth signature and access token, rate-limit, map refusals."""

    @wraps(handler)
    async def guarded(request: Request) -> Response:
        app: EtradeMockApp = request.app
        body = await request.body()
        as_json = wants_json(request)
        try:
            signed = app.oauth.verify(
                request.method, str(request.url), request.headers, body, token_kind="access"
            )
            app.oauth.use(signed)
        except OAuthProblem as exc:
            return oauth_problem_page(exc.problem, exc.status)
        if not app.throttle(signed.consumer_key, api_module(request.url.path)):
            return rate_limit_page()
        try:
            return await handler(request, Call(signed, body, as_json))
        except BadRequest as exc:
            return error_response(exc.code, exc.message, as_json, exc.status)
        except VenueError as exc:
            code, message = VENUE_ERRORS.get(exc.reason, (1001, exc.message))
            return error_response(code, message, as_json, 400)

    return guarded
