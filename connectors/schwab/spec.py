"""The Schwab connector's manifest."""

from __future__ import annotations

from pydantic import Field

from portico.models import AssetClass, BarInterval, OrderType, TimeInForce
from portico.sdk import (
    AuthSchemeSpec,
    Capability,
    CapabilitySet,
    ConnectionSettings,
    ConnectorKind,
    ConnectorSpec,
    CredentialField,
    Environment,
    MockSpec,
    RateLimitPolicy,
    RateWindow,
    RetryPolicy,
    StreamKind,
    Support,
)

__all__ = ["AUTH_SCHEME", "DEFAULT_ORDER_LIMIT", "SPEC", "SchwabConnection"]

AUTH_SCHEME = "schwab_oauth2"
"""Schwab's OAuth 2 authorization code flow (the scheme this plugin contributes)."""
DEFAULT_ORDER_LIMIT = 120
"""Order requests per minute: the app's "Order Limit" chosen at registration (schwab-py recommends 120)."""


class SchwabConnection(ConnectionSettings):
    """``connection`` of a Schwab system."""

    account_number: str | None = Field(
        default=None,
        pattern=r"^\d{4,12}$",
        description="the plain account number to trade (its hash is looked up); default: the first linked account",
    )
    order_limit_per_minute: int = Field(
        default=DEFAULT_ORDER_LIMIT,
        ge=1,
        le=120,
        description="the app's Order Limit: place, replace and cancel requests allowed per minute (set at app registration)",
    )
    order_match_window: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="seconds around a placement whose answer was lost in which a matching order is looked for",
    )
    order_tag: bool = Field(
        default=False,
        description="send a portico tag with each order so a lost answer is matched by tag as well "
        "(Schwab's order schema has a 'tag' field; whether the API keeps a client's tag is unconfirmed)",
    )
    stream_receive_timeout: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="seconds the streamer may stay silent (no data, no heartbeat 'notify') before its "
        "connection is taken as dead, closed and opened again (resubscribed, order events back-filled); "
        "Schwab sends heartbeats every few seconds between data [interval unconfirmed]",
    )
    stream_reconnect_attempts: int = Field(
        default=100,
        ge=1,
        description="failed streamer (re)connect attempts in a row, each after a backoff of at most 30 s, "
        "before the stream ends with the last error (a definite auth failure ends it at once)",
    )
    order_history_days: int = Field(
        default=60,
        ge=1,
        le=365,
        description="days of orders read when no window is given (Schwab's own default is 60, its maximum 365)",
    )


_S = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="schwab",
    display_name="Charles Schwab",
    kinds=(ConnectorKind.BROKERAGE, ConnectorKind.MARKET_DATA),
    description="Charles Schwab Trader API v1 (accounts by hash, orders, transactions) and Market Data v1 "
    "(quotes, price history, instruments); the successor of TD Ameritrade's API.",
    docs_url="https://developer.schwab.com/",
    environments=(
        Environment(
            name="live",
            urls={"api": "https://api.schwabapi.com"},
            live_money=True,
            description="Schwab has no sandbox or paper environment: every order is real. Use `mock: true` to test.",
        ),
    ),
    default_environment="live",
    auth=(
        AuthSchemeSpec(
            scheme=AUTH_SCHEME,
            credentials=(
                CredentialField(
                    name="client_id", secret=True, description="the app key", env_var="SCHWAB_APP_KEY"
                ),
                CredentialField(
                    name="client_secret",
                    secret=True,
                    description="the app secret",
                    env_var="SCHWAB_APP_SECRET",
                ),
            ),
            options={
                "authorize_url": "{api}/v1/oauth/authorize",
                "token_url": "{api}/v1/oauth/token",
                "redirect_uri": "https://127.0.0.1:8182",
                "refresh_skew": 300,
                "refresh_token_lifetime": 7 * 24 * 3600,
                "refresh_warning_hours": 24,
            },
            description="OAuth 2 authorization code: sign in once in the browser (callback on https://127.0.0.1 as "
            "Schwab requires); 30-minute access tokens are refreshed, the 7-day refresh token lives in the vault.",
        ),
    ),
    throttling=RateLimitPolicy(
        # Schwab does not publish a general limit; 120/min keeps well inside what users report [unconfirmed]
        windows=(RateWindow(limit=120, period=60),),
        max_wait=30.0,
        retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=10.0, max_retry_after=60.0),
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_ACCOUNT: _S,
            Capability.GET_POSITIONS: _S,
            Capability.PLACE_ORDER: _S,
            Capability.CANCEL_ORDER: _S,
            Capability.REPLACE_ORDER: _S,
            Capability.GET_ORDER: _S,
            # Schwab has no client order id: portico keeps the link from the intent it stored
            Capability.GET_ORDER_BY_CLIENT_ID: Support.EMULATED,
            Capability.LIST_ORDERS: _S,
            Capability.GET_EXECUTIONS: _S,
            Capability.GET_CASH_MOVEMENTS: _S,
            Capability.GET_BARS: _S,
            Capability.GET_LATEST_QUOTES: _S,
            Capability.SEARCH_INSTRUMENTS: _S,
            Capability.SUBSCRIBE_QUOTES: _S,
            Capability.SUBSCRIBE_BARS: _S,
            Capability.SUBSCRIBE_ORDER_UPDATES: _S,
        },
        order_types=(OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT),
        time_in_force=(TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK),
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF),
        bar_intervals=(
            BarInterval.MIN_1,
            BarInterval.MIN_5,
            BarInterval.MIN_15,
            BarInterval.MIN_30,
            BarInterval.DAY,
            BarInterval.WEEK,
            BarInterval.MONTH,
        ),
        fractional=False,
        extended_hours=True,
        max_symbols_per_request=500,
    ),
    streams=(StreamKind.QUOTES, StreamKind.BARS, StreamKind.ORDER_UPDATES),
    feature_flags={
        "market_data": (
            Capability.GET_BARS,
            Capability.GET_LATEST_QUOTES,
            Capability.SEARCH_INSTRUMENTS,
            Capability.SUBSCRIBE_QUOTES,
            Capability.SUBSCRIBE_BARS,
        ),
        "order_execution": (Capability.PLACE_ORDER, Capability.CANCEL_ORDER, Capability.REPLACE_ORDER),
        "position_reporting": (Capability.GET_POSITIONS,),
        "account_updates": (Capability.GET_ACCOUNT, Capability.SUBSCRIBE_ORDER_UPDATES),
    },
    mock=MockSpec(
        app="portico.mocks.schwab:create_app",
        url_keys={"api": ""},
        description="OAuth endpoints, Trader API v1, Market Data v1 and the streamer over a simulated venue.",
        protocols=("http", "ws"),
    ),
    connection_settings=SchwabConnection,
)
