"""E*TRADE's REST calls over portico's API client, the per-module throttles, and E*TRADE's reading of
its error answers (JSON/XML ``Error`` bodies, Tomcat pages with ``oauth_problem``, the HTML page that
means "rate limit")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import defusedxml.ElementTree as SafeXML
import httpx

from portico.connectors.etrade.auth import oauth_problem
from portico.connectors.etrade.spec import ModuleLimits
from portico.errors import AuthError, NotFound, PayloadRejected, PorticoError, RateLimited, VenueRejected
from portico.http import ApiClient, RateLimiter
from portico.sdk import RateLimitPolicy, RateWindow

__all__ = [
    "DUPLICATE_CLIENT_ORDER_ID",
    "NOT_FOUND_CODES",
    "EtradeClient",
    "etrade_error_mapper",
    "is_duplicate_client_order_id",
]

DUPLICATE_CLIENT_ORDER_ID = 1078
"""The code the mock (and the connector) use for "client order id already used"."""
NOT_FOUND_CODES = frozenset({100, 102, 5002})
"""Account key not the user's (100), invalid account key (102), unknown order number (5002)."""
_RATE_LIMIT_TEXT = "exceeded the rate limit"
_RATE_LIMIT_PAUSE = 1.0


def _error_body(response: httpx.Response) -> tuple[int | None, str | None]:
    """``(code, message)`` of an ``Error`` body in JSON or XML; ``(None, None)`` for anything else."""
    text = response.text if response.content else ""
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            data = json.loads(text)
        except ValueError:
            return None, None
        error = data.get("Error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("message")
            return (int(code) if isinstance(code, int | str) and str(code).isdigit() else None), (
                str(message) if message is not None else None
            )
        return None, None
    if "xml" in content_type:
        try:
            root = SafeXML.fromstring(text)
        except Exception:
            return None, None
        if root.tag == "Error":
            code = root.findtext("code")
            return (int(code) if code and code.isdigit() else None), root.findtext("message")
    return None, None


def is_duplicate_client_order_id(error: VenueRejected) -> bool:
    """Whether E*TRADE refused an order because its client order id was already used."""
    if error.venue_code == DUPLICATE_CLIENT_ORDER_ID:
        return True
    text = error.message.lower()
    return "client order id" in text and ("already" in text or "duplicate" in text)


def etrade_error_mapper(response: httpx.Response) -> PorticoError | None:
    """E*TRADE's answers as portico errors; None leaves the default map (5xx...)."""
    status = response.status_code
    if status == 401:
        problem = oauth_problem(response)
        hint = " (a new login is needed: portico credentials login)" if problem == "token_expired" else ""
        return AuthError(
            f"E*TRADE refused the OAuth credentials: oauth_problem={problem or 'unknown'}{hint}",
            venue_code=problem,
            status_code=status,
        )
    text = response.text[:2000] if response.content else ""
    if status == 400 and _RATE_LIMIT_TEXT in text.lower():
        return RateLimited(
            "E*TRADE: number of requests exceeded the rate limit set",
            retry_after=_RATE_LIMIT_PAUSE,
            status_code=status,
        )
    code, message = _error_body(response)
    if code is None and message is None:
        return None
    described = f"E*TRADE error {code}: {message}" if code is not None else f"E*TRADE: {message}"
    if code in NOT_FOUND_CODES or status == 404:
        return NotFound(described, venue_code=code, status_code=status)
    if 400 <= status < 500:
        return VenueRejected(described, venue_code=code, status_code=status)
    return None


def _limiter(limits: ModuleLimits, clock: Any, name: str) -> RateLimiter:
    policy = RateLimitPolicy(
        windows=(
            RateWindow(limit=limits.per_second, period=1),
            RateWindow(limit=limits.per_hour, period=3600),
        ),
        max_wait=60.0,
    )
    return RateLimiter(policy, clock=clock, name=name)


class EtradeClient:
    """The Accounts, Market and Order API calls of one system, each module under its own throttle.

    Args:
        api: the API client for the ``api`` URL.
        limits: per-module limits (``accounts``, ``market``, ``order``).
        clock: the time source throttle waits run on.
        name: the system id (named in throttle errors).
    """

    def __init__(self, api: ApiClient, limits: Mapping[str, ModuleLimits], *, clock: Any, name: str) -> None:
        self.api = api
        self.limiters = {
            module: _limiter(value, clock, f"{name}:{module}") for module, value in limits.items()
        }

    async def aclose(self) -> None:
        """Close the API client."""
        await self.api.aclose()

    async def _call(
        self,
        module: str,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        retry: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        limiter = self.limiters.get(module)
        if limiter is not None:
            await limiter.acquire()
        response = await self.api.request(
            method,
            path,
            params={k: v for k, v in (params or {}).items() if v is not None} or None,
            content=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"} if body is not None else None,
            endpoint=endpoint,
            retry=retry,
            idempotency_key=idempotency_key,
        )
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise PayloadRejected(f"{endpoint} did not answer JSON", request=endpoint) from None

    # -- accounts ------------------------------------------------------------------------------

    async def list_accounts(self) -> Any:
        """GET /v1/accounts/list.json."""
        return await self._call("accounts", "GET", "/v1/accounts/list.json", "GET /v1/accounts/list")

    async def balance(self, key: str) -> Any:
        """GET /v1/accounts/{accountIdKey}/balance.json."""
        return await self._call(
            "accounts",
            "GET",
            f"/v1/accounts/{key}/balance.json",
            "GET /v1/accounts/{accountIdKey}/balance",
            params={"instType": "BROKERAGE", "realTimeNAV": "true"},
        )

    async def portfolio(self, key: str, page: int, count: int = 50) -> Any:
        """GET /v1/accounts/{accountIdKey}/portfolio.json (one page)."""
        return await self._call(
            "accounts",
            "GET",
            f"/v1/accounts/{key}/portfolio.json",
            "GET /v1/accounts/{accountIdKey}/portfolio",
            params={"count": count, "pageNumber": page, "view": "QUICK"},
        )

    async def transactions(self, key: str, params: Mapping[str, Any]) -> Any:
        """GET /v1/accounts/{accountIdKey}/transactions.json (one page)."""
        return await self._call(
            "accounts",
            "GET",
            f"/v1/accounts/{key}/transactions.json",
            "GET /v1/accounts/{accountIdKey}/transactions",
            params=params,
        )

    # -- orders --------------------------------------------------------------------------------

    async def list_orders(self, key: str, params: Mapping[str, Any]) -> Any:
        """GET /v1/accounts/{accountIdKey}/orders.json (one page)."""
        return await self._call(
            "order",
            "GET",
            f"/v1/accounts/{key}/orders.json",
            "GET /v1/accounts/{accountIdKey}/orders",
            params=params,
        )

    async def preview(self, key: str, body: Mapping[str, Any]) -> Any:
        """POST /orders/preview: changes nothing at the venue, so it may be retried."""
        return await self._call(
            "order", "POST", f"/v1/accounts/{key}/orders/preview.json", "POST /v1/accounts/{accountIdKey}/orders/preview",
            body=body, retry=True,
        )  # fmt: skip

    async def place(self, key: str, body: Mapping[str, Any], client_order_id: str) -> Any:
        """POST /orders/place, sent once: a lost answer raises ``OutcomeUnknown`` for lookup."""
        return await self._call(
            "order", "POST", f"/v1/accounts/{key}/orders/place.json", "POST /v1/accounts/{accountIdKey}/orders/place",
            body=body, retry=False, idempotency_key=client_order_id,
        )  # fmt: skip

    async def change_preview(self, key: str, order_id: int, body: Mapping[str, Any]) -> Any:
        """PUT /orders/{orderId}/change/preview."""
        return await self._call(
            "order", "PUT", f"/v1/accounts/{key}/orders/{order_id}/change/preview.json",
            "PUT /v1/accounts/{accountIdKey}/orders/{orderId}/change/preview", body=body, retry=True,
        )  # fmt: skip

    async def change_place(self, key: str, order_id: int, body: Mapping[str, Any]) -> Any:
        """PUT /orders/{orderId}/change/place, sent once."""
        return await self._call(
            "order", "PUT", f"/v1/accounts/{key}/orders/{order_id}/change/place.json",
            "PUT /v1/accounts/{accountIdKey}/orders/{orderId}/change/place", body=body, retry=False,
        )  # fmt: skip

    async def cancel(self, key: str, order_id: int) -> Any:
        """PUT /orders/cancel; repeating a cancel is harmless, so it is retried."""
        return await self._call(
            "order", "PUT", f"/v1/accounts/{key}/orders/cancel.json", "PUT /v1/accounts/{accountIdKey}/orders/cancel",
            body={"CancelOrderRequest": {"orderId": order_id}}, retry=True,
        )  # fmt: skip

    # -- market --------------------------------------------------------------------------------

    async def quotes(self, symbols: list[str]) -> Any:
        """GET /v1/market/quote/{symbols}.json (at most 25 symbols)."""
        if not 1 <= len(symbols) <= 25:
            raise PayloadRejected("E*TRADE quotes take 1 to 25 symbols a call", field="symbols")
        return await self._call(
            "market", "GET", f"/v1/market/quote/{','.join(symbols)}.json", "GET /v1/market/quote/{symbols}",
            params={"detailFlag": "ALL"},
        )  # fmt: skip
