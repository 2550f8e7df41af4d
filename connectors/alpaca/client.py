"""Alpaca's REST calls over portico's shared API client, and Alpaca's reading of its error answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from portico.errors import AuthError, NotFound, PorticoError, VenueRejected
from portico.http import ApiClient

__all__ = ["AlpacaClient", "alpaca_error_mapper", "rfc3339"]

# Alpaca's 403 is an auth refusal unless the body says the venue refused the order itself
_VENUE_403_WORDS = ("buying power", "insufficient", "not sufficient", "borrow", "shortable", "pattern day", "qty")


def rfc3339(value: datetime) -> str:
    """A timestamp as Alpaca takes it in query strings (UTC, ``Z``)."""
    if value.tzinfo is None:
        raise ValueError("timestamps sent to Alpaca must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alpaca_error_mapper(response: httpx.Response) -> PorticoError | None:
    """Alpaca's ``{"code", "message"}`` errors as portico errors; None leaves the default map (429, 5xx)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else None
    text = message or f"HTTP {status}"
    detail = {k: v for k, v in body.items() if k not in ("code", "message")} if isinstance(body, dict) else None
    if status == 401:
        return AuthError(f"Alpaca refused the credentials: {text}", venue_code=code, status_code=status)
    if status == 403:
        venue_refusal = (isinstance(code, int) and code == 40310000) or any(w in text.lower() for w in _VENUE_403_WORDS)
        if venue_refusal:
            return VenueRejected(f"Alpaca refused: {text}", venue_code=code, status_code=status, detail=detail)
        return AuthError(f"Alpaca forbids this call: {text}", venue_code=code, status_code=status)
    if status == 404:
        return NotFound(f"Alpaca: {text}", venue_code=code, status_code=status)
    if status in (400, 409, 422):
        return VenueRejected(f"Alpaca refused: {text}", venue_code=code, status_code=status, detail=detail)
    return None


class AlpacaClient:
    """The Trading API and Market Data API clients of one system.

    Args:
        trading: the API client for the ``trading`` URL.
        data: the API client for the ``data`` URL.
    """

    def __init__(self, trading: ApiClient, data: ApiClient) -> None:
        self.trading = trading
        self.data = data

    async def aclose(self) -> None:
        """Close both clients."""
        await self.trading.aclose()
        await self.data.aclose()

    # -- trading -------------------------------------------------------------------------------

    async def get_account(self) -> Any:
        """GET /v2/account."""
        return await self.trading.get_json("/v2/account", endpoint="GET /v2/account")

    async def list_positions(self) -> Any:
        """GET /v2/positions."""
        return await self.trading.get_json("/v2/positions", endpoint="GET /v2/positions")

    async def submit_order(self, body: Mapping[str, Any]) -> Any:
        """POST /v2/orders, sent once: a lost answer raises ``OutcomeUnknown`` for the caller to resolve
        by lookup (a connect failure, where nothing left, is still retried by the API client)."""
        response = await self.trading.post(
            "/v2/orders",
            json=dict(body),
            endpoint="POST /v2/orders",
            idempotency_key=str(body.get("client_order_id")),
            retry=False,
        )
        return response.json()

    async def get_order(self, order_id: str) -> Any:
        """GET /v2/orders/{order_id}."""
        return await self.trading.get_json(f"/v2/orders/{order_id}", endpoint="GET /v2/orders/{order_id}")

    async def get_order_by_client_id(self, client_order_id: str) -> Any:
        """GET /v2/orders:by_client_order_id."""
        return await self.trading.get_json(
            "/v2/orders:by_client_order_id",
            params={"client_order_id": client_order_id},
            endpoint="GET /v2/orders:by_client_order_id",
        )

    async def list_orders(self, params: Mapping[str, Any]) -> Any:
        """GET /v2/orders."""
        return await self.trading.get_json("/v2/orders", params=dict(params), endpoint="GET /v2/orders")

    async def cancel_order(self, order_id: str) -> None:
        """DELETE /v2/orders/{order_id} (204 on acceptance); repeating it is harmless, so it is retried."""
        await self.trading.delete(f"/v2/orders/{order_id}", endpoint="DELETE /v2/orders/{order_id}")

    async def replace_order(self, order_id: str, body: Mapping[str, Any]) -> Any:
        """PATCH /v2/orders/{order_id}, sent once (a repeat would replace the replacement)."""
        response = await self.trading.patch(
            f"/v2/orders/{order_id}", json=dict(body), endpoint="PATCH /v2/orders/{order_id}", retry=False
        )
        return response.json()

    async def activities(self, params: Mapping[str, Any]) -> Any:
        """GET /v2/account/activities/FILL."""
        return await self.trading.get_json(
            "/v2/account/activities/FILL", params=dict(params), endpoint="GET /v2/account/activities/{type}"
        )

    async def account_activities(self, params: Mapping[str, Any]) -> Any:
        """GET /v2/account/activities (``activity_types`` names which)."""
        return await self.trading.get_json(
            "/v2/account/activities", params=dict(params), endpoint="GET /v2/account/activities"
        )

    async def announcements(self, params: Mapping[str, Any]) -> Any:
        """GET /v2/corporate_actions/announcements."""
        return await self.trading.get_json(
            "/v2/corporate_actions/announcements",
            params=dict(params),
            endpoint="GET /v2/corporate_actions/announcements",
        )

    async def list_assets(self, params: Mapping[str, Any]) -> Any:
        """GET /v2/assets."""
        return await self.trading.get_json("/v2/assets", params=dict(params), endpoint="GET /v2/assets")

    async def get_asset(self, symbol: str) -> Any:
        """GET /v2/assets/{symbol}."""
        return await self.trading.get_json(f"/v2/assets/{symbol}", endpoint="GET /v2/assets/{symbol}")

    # -- market data ---------------------------------------------------------------------------

    async def market_data(self, path: str, params: Mapping[str, Any]) -> Any:
        """GET a market data endpoint (``/v2/stocks/bars``...)."""
        return await self.data.get_json(path, params=dict(params), endpoint=f"GET {path}")
