"""The E*TRADE connector's manifest."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from portico.models import AssetClass, OrderType, TimeInForce
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

__all__ = ["MODULE_LIMITS", "SPEC", "EtradeConnection", "ModuleLimits"]

SCHEME_NAME = "etrade_oauth1"
"""The auth scheme's name (defined here, not in ``auth``, so reading the manifest loads no OAuth library)."""


class ModuleLimits(BaseModel):
    """Requests per second and per hour for one E*TRADE API module (per consumer key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: float = Field(gt=0, description="requests per second this module allows")
    per_hour: float = Field(gt=0, description="requests per hour this module allows")


MODULE_LIMITS = {
    "accounts": ModuleLimits(per_second=2, per_hour=7_000),
    "market": ModuleLimits(per_second=4, per_hour=14_000),
    "order": ModuleLimits(per_second=2, per_hour=7_000),
}
"""E*TRADE's published limits per consumer key and module (its developer guide's rate-limit page)."""


class EtradeConnection(ConnectionSettings):
    """``connection`` of an E*TRADE system."""

    account_id_key: str | None = Field(
        default=None,
        description="accountIdKey of the account to trade (from GET /v1/accounts/list); the first brokerage account when unset",
    )
    rate_limits: dict[str, ModuleLimits] = Field(
        default_factory=lambda: dict(MODULE_LIMITS),
        description="per-module throttles (accounts, market, order) as per_second/per_hour; E*TRADE's published limits by default",
    )
    poll_interval: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="seconds between two order-list polls for order events (E*TRADE has no order stream)",
    )
    order_lookup_pages: int = Field(
        default=20,
        ge=1,
        le=1_000,
        description="order-list pages (100 orders each) searched when resolving an order by client order id",
    )


_S = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="etrade",
    display_name="E*TRADE",
    kinds=(ConnectorKind.BROKERAGE, ConnectorKind.MARKET_DATA),
    description="E*TRADE API v1: accounts, balances, portfolio, transactions, equity orders and quotes.",
    docs_url="https://apisb.etrade.com/docs/api/order/api-order-v1.html",
    environments=(
        Environment(
            name="sandbox",
            urls={
                "api": "https://apisb.etrade.com",
                "auth": "https://api.etrade.com",
                "authorize": "https://us.etrade.com",
            },
            description="E*TRADE's sandbox (apisb): canned data, sandbox consumer key.",
        ),
        Environment(
            name="live",
            urls={
                "api": "https://api.etrade.com",
                "auth": "https://api.etrade.com",
                "authorize": "https://us.etrade.com",
            },
            live_money=True,
            description="Live brokerage accounts with real money.",
        ),
    ),
    default_environment="sandbox",
    auth=(
        AuthSchemeSpec(
            scheme=SCHEME_NAME,
            credentials=(
                CredentialField(
                    name="consumer_key",
                    secret=True,
                    description="E*TRADE consumer key",
                    env_var="ETRADE_CONSUMER_KEY",
                ),
                CredentialField(
                    name="consumer_secret",
                    secret=True,
                    description="E*TRADE consumer secret",
                    env_var="ETRADE_CONSUMER_SECRET",
                ),
                CredentialField(
                    name="token",
                    secret=True,
                    required=False,
                    description="OAuth access token (written to the vault by `portico credentials login`)",
                ),
                CredentialField(
                    name="token_secret",
                    secret=True,
                    required=False,
                    description="OAuth access token secret (written to the vault by `portico credentials login`)",
                ),
            ),
            options={
                "request_token_url": "{auth}/oauth/request_token",
                "authorize_url": "{authorize}/e/t/etws/authorize",
                "access_token_url": "{auth}/oauth/access_token",
                "renew_url": "{auth}/oauth/renew_access_token",
                "revoke_url": "{auth}/oauth/revoke_access_token",
                "callback": "oob",
            },
            description="OAuth 1.0a (HMAC-SHA1) with E*TRADE's token lifecycle: renewed before two idle hours, "
            "expiring at midnight US Eastern.",
        ),
    ),
    throttling=RateLimitPolicy(
        # the whole consumer key; the per-module limits are applied by the connector on top
        windows=(RateWindow(limit=8, period=1), RateWindow(limit=28_000, period=3600)),
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
            Capability.GET_ORDER: Support.EMULATED,
            Capability.GET_ORDER_BY_CLIENT_ID: Support.EMULATED,
            Capability.LIST_ORDERS: _S,
            Capability.GET_CASH_MOVEMENTS: _S,
            Capability.GET_LATEST_QUOTES: _S,
            Capability.SUBSCRIBE_ORDER_UPDATES: Support.EMULATED,
        },
        order_types=(OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT),
        time_in_force=(TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK),
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF),
        extended_hours=True,
        max_symbols_per_request=25,
    ),
    streams=(StreamKind.ORDER_UPDATES,),
    feature_flags={
        "market_data": (Capability.GET_LATEST_QUOTES,),
        "order_execution": (Capability.PLACE_ORDER, Capability.CANCEL_ORDER, Capability.REPLACE_ORDER),
        "position_reporting": (Capability.GET_POSITIONS,),
        "account_updates": (Capability.GET_ACCOUNT, Capability.SUBSCRIBE_ORDER_UPDATES),
    },
    mock=MockSpec(
        app="portico.mocks.etrade:create_app",
        url_keys={"api": "", "auth": "", "authorize": ""},
        description="OAuth 1.0a with token lifecycle, Accounts, Market quotes and Order APIs (JSON and XML).",
    ),
    connection_settings=EtradeConnection,
)
