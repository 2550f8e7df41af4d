"""Schwab's REST calls over portico's shared API client, and Schwab's reading of its error answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from portico.errors import AuthError, NotFound, PayloadRejected, PorticoError, VenueRejected
from portico.http import ApiClient

__all__ = ["SchwabClient", "iso_millis", "order_id_from_location", "schwab_error_mapper"]

_LOCATION = re.compile(r"/trader/v1/accounts/(?P<account>\w+)/orders/(?P<order>\d+)/?$")


def iso_millis(value: datetime) -> str:
    """A timestamp as the Trader API takes it in query strings: ``2024-03-20T14:30:00.000Z``."""
    if value.tzinfo is None:
        raise ValueError("timestamps sent to Schwab must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def order_id_from_location(location: str | None, account_hash: str) -> str | None:
    """The order id in a placement's ``Location`` header, None when the header does not name one.

    Raises:
        PayloadRejected: the header names another account than the one the order was sent for.
    """
    if not location:
        return None
    # urlsplit, not httpx.URL: the path is all that is read, and a full URL parse (host encoding, IDNA,
    # percent-quoting) is a sixth of the placement path's own CPU
    match = _LOCATION.search(urlsplit(location).path)
    if match is None:
        return None
    if match.group("account") != account_hash:
        raise PayloadRejected("Schwab's Location header names another account than the order was placed in")
    return match.group("order")


def _message(body: Any) -> tuple[str | None, Any]:
    """The message of a Trader API ``{"message"}`` or Market Data ``{"errors": [...]}`` body."""
    if not isinstance(body, dict):
        return None, None
    if isinstance(body.get("message"), str):
        return body["message"], body.get("errors")
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        text = first.get("detail") or first.get("title")
        return (str(text) if text else None), errors
    if isinstance(body.get("error_description"), str):
        return body["error_description"], None
    return None, None


def schwab_error_mapper(response: httpx.Response) -> PorticoError | None:
    """Schwab's error answers as portico errors; None leaves the default map (429, 5xx)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    message, detail = _message(body)
    text = message or f"HTTP {status}"
    if status == 401:
        return AuthError(f"Schwab refused the credentials: {text}", status_code=status)
    if status == 403:
        return AuthError(f"Schwab forbids this call for the app or account: {text}", status_code=status)
    if status == 404:
        return NotFound(f"Schwab: {text}", status_code=status)
    if status in (400, 409, 422):
        return VenueRejected(f"Schwab refused: {text}", status_code=status, detail=detail)
    return None


class SchwabClient:
    """The Trader API and Market Data API calls of one system (both on the ``api`` URL).

    Args:
        api: the API client for the ``api`` URL.
    """

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def aclose(self) -> None:
        """Close the API client."""
        await self.api.aclose()

    # -- trader ----------------------------------------------------------------------------------

    async def account_numbers(self) -> Any:
        """GET /trader/v1/accounts/accountNumbers."""
        return await self.api.get_json(
            "/trader/v1/accounts/accountNumbers", endpoint="GET /trader/v1/accounts/accountNumbers"
        )

    async def account(self, account_hash: str, *, positions: bool) -> Any:
        """GET /trader/v1/accounts/{accountHash}.

        The query is part of the path, not ``params``: the API client keeps each path's parsed URL,
        and ``params`` would have it parse the URL again on every read."""
        path = f"/trader/v1/accounts/{account_hash}"
        return await self.api.get_json(
            f"{path}?fields=positions" if positions else path,
            endpoint="GET /trader/v1/accounts/{accountHash}",
        )

    async def place_order(self, account_hash: str, body: Mapping[str, Any]) -> httpx.Response:
        """POST /trader/v1/accounts/{accountHash}/orders, sent once: a lost answer raises ``OutcomeUnknown``
        for the caller to resolve by matching (a connect failure, where nothing left, is still retried)."""
        return await self.api.post(
            f"/trader/v1/accounts/{account_hash}/orders",
            json=dict(body),
            endpoint="POST /trader/v1/accounts/{accountHash}/orders",
            retry=False,
        )

    async def replace_order(
        self, account_hash: str, order_id: str, body: Mapping[str, Any]
    ) -> httpx.Response:
        """PUT /trader/v1/accounts/{accountHash}/orders/{orderId}, sent once (a repeat would replace the replacement)."""
        return await self.api.put(
            f"/trader/v1/accounts/{account_hash}/orders/{order_id}",
            json=dict(body),
            endpoint="PUT /trader/v1/accounts/{accountHash}/orders/{orderId}",
            retry=False,
        )

    async def cancel_order(self, account_hash: str, order_id: str) -> None:
        """DELETE /trader/v1/accounts/{accountHash}/orders/{orderId}; repeating it is harmless, so it is retried."""
        await self.api.delete(
            f"/trader/v1/accounts/{account_hash}/orders/{order_id}",
            endpoint="DELETE /trader/v1/accounts/{accountHash}/orders/{orderId}",
        )

    async def get_order(self, account_hash: str, order_id: str) -> Any:
        """GET /trader/v1/accounts/{accountHash}/orders/{orderId}."""
        return await self.api.get_json(
            f"/trader/v1/accounts/{account_hash}/orders/{order_id}",
            endpoint="GET /trader/v1/accounts/{accountHash}/orders/{orderId}",
        )

    async def list_orders(self, account_hash: str, params: Mapping[str, Any]) -> Any:
        """GET /trader/v1/accounts/{accountHash}/orders (``fromEnteredTime``/``toEnteredTime`` required)."""
        return await self.api.get_json(
            f"/trader/v1/accounts/{account_hash}/orders",
            params=dict(params),
            endpoint="GET /trader/v1/accounts/{accountHash}/orders",
        )

    async def transactions(self, account_hash: str, params: Mapping[str, Any]) -> Any:
        """GET /trader/v1/accounts/{accountHash}/transactions."""
        return await self.api.get_json(
            f"/trader/v1/accounts/{account_hash}/transactions",
            params=dict(params),
            endpoint="GET /trader/v1/accounts/{accountHash}/transactions",
        )

    async def user_preference(self) -> Any:
        """GET /trader/v1/userPreference (the streamer's URL and ids)."""
        return await self.api.get_json("/trader/v1/userPreference", endpoint="GET /trader/v1/userPreference")

    # -- market data -----------------------------------------------------------------------------

    async def quotes(self, symbols: list[str]) -> Any:
        """GET /marketdata/v1/quotes."""
        return await self.api.get_json(
            "/marketdata/v1/quotes",
            params={"symbols": ",".join(symbols), "fields": "quote,reference"},
            endpoint="GET /marketdata/v1/quotes",
        )

    async def price_history(self, params: Mapping[str, Any]) -> Any:
        """GET /marketdata/v1/pricehistory."""
        return await self.api.get_json(
            "/marketdata/v1/pricehistory", params=dict(params), endpoint="GET /marketdata/v1/pricehistory"
        )

    async def instruments(self, symbol: str, projection: str) -> Any:
        """GET /marketdata/v1/instruments."""
        return await self.api.get_json(
            "/marketdata/v1/instruments",
            params={"symbol": symbol, "projection": projection},
            endpoint="GET /marketdata/v1/instruments",
        )
