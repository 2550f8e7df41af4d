"""The Alpha Vantage connector's manifest, and its throttling per subscription tier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from portico.errors import ConfigurationError
from portico.models import AssetClass, BarInterval
from portico.sdk import (
    AuthSchemeSpec,
    Capability,
    CapabilitySet,
    ConnectionSettings,
    ConnectorKind,
    ConnectorSpec,
    CredentialField,
    Environment,
    HealthCheckSpec,
    MockSpec,
    RateLimitPolicy,
    RateWindow,
    RetryPolicy,
    Support,
)

__all__ = ["SPEC", "TIERS", "AlphaVantageConnection", "rate_limit_policy", "tier_of"]

TIERS: dict[str, tuple[float | None, float | None]] = {
    "free": (5, 25),
    "premium_75": (75, None),
    "premium_150": (150, None),
    "premium_300": (300, None),
    "premium_600": (600, None),
    "premium_1200": (1200, None),
}
"""Calls per minute and per day of each Alpha Vantage plan (``None``: no limit of that kind)."""

# In-body throttles ("Note") ask for a minute's pause, so a retry may wait that long; the daily quota
# asks for hours and is never waited for (RateLimited is raised and a fallback provider serves).
_RETRY = RetryPolicy(attempts=3, base_delay=12.0, max_delay=60.0, max_retry_after=65.0)


def rate_limit_policy(tier: str = "free") -> RateLimitPolicy:
    """The throttling of an Alpha Vantage plan: ``free`` (5/minute, 25/day) or ``premium_<calls per minute>``."""
    if tier not in TIERS:
        raise ConfigurationError(
            f"unknown Alpha Vantage tier {tier!r}; use one of {sorted(TIERS)}", path="connection.tier"
        )
    per_minute, per_day = TIERS[tier]
    windows = [RateWindow(limit=per_minute, period=60.0)] if per_minute else []
    if per_day:
        windows.append(RateWindow(limit=per_day, period=86400.0))
    return RateLimitPolicy(windows=tuple(windows), max_wait=65.0, retry=_RETRY)


def tier_of(connection: Mapping[str, Any]) -> str:
    """The plan named by a system's ``connection.tier`` (``free`` when absent)."""
    tier = str(connection.get("tier", "free")).strip().lower()
    if tier not in TIERS:
        raise ConfigurationError(
            f"unknown Alpha Vantage tier {tier!r}; use one of {sorted(TIERS)}", path="connection.tier"
        )
    return tier




class AlphaVantageConnection(ConnectionSettings):
    """``connection`` of an Alpha Vantage system: the key's plan and data entitlement."""

    tier: str = Field(
        default="free",
        description="the key's plan: free (5/minute, 25/day), premium_75, premium_150, premium_300, premium_600 or "
        "premium_1200 (calls per minute, no daily cap); sets the default throttling, throttling.* keys still override it",
    )
    entitlement: Literal["realtime", "delayed"] | None = Field(
        default=None, description="premium US market data entitlement, passed to quote and intraday calls"
    )

    @field_validator("tier", mode="before")
    @classmethod
    def _known_tier(cls, value: Any) -> Any:
        tier = str(value).strip().lower()
        if tier not in TIERS:
            raise ValueError(f"unknown Alpha Vantage tier {value!r}; use one of {sorted(TIERS)}")
        return tier


_SUPPORTED = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="alpha_vantage",
    display_name="Alpha Vantage",
    kinds=(ConnectorKind.MARKET_DATA,),
    description="Equity time series (intraday to monthly, adjusted), quotes, symbol search, fundamentals, "
    "dividends and splits, news with sentiment and FX from Alpha Vantage's single /query endpoint.",
    docs_url="https://www.alphavantage.co/documentation/",
    environments=(
        Environment(
            name="production",
            urls={"base": "https://www.alphavantage.co/query"},
            description="Alpha Vantage's public API; the free key allows 5 calls a minute and 25 a day.",
        ),
    ),
    default_environment="production",
    auth=(
        AuthSchemeSpec(
            scheme="api_key",
            credentials=(
                CredentialField(
                    name="api_key",
                    description="Alpha Vantage API key (sent as the apikey query parameter, masked in logs)",
                    env_var="ALPHA_VANTAGE_API_KEY",
                ),
            ),
            # the vendor accepts the key only as a query parameter
            options={"location": "query", "param": "apikey"},
            description="API key in the apikey query parameter",
        ),
    ),
    throttling=rate_limit_policy("free"),
    health_check=HealthCheckSpec(
        call="SYMBOL_SEARCH",
        params={"keywords": "IBM"},
        description="Every call costs one unit of the quota; a search answers with the smallest body.",
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_BARS: _SUPPORTED,
            Capability.GET_LATEST_QUOTES: _SUPPORTED,
            Capability.SEARCH_INSTRUMENTS: _SUPPORTED,
            Capability.GET_FUNDAMENTALS: _SUPPORTED,
            Capability.GET_CORPORATE_ACTIONS: _SUPPORTED,
            Capability.GET_NEWS: _SUPPORTED,
            Capability.GET_FX_RATE: _SUPPORTED,
            Capability.GET_FX_SERIES: _SUPPORTED,
        },
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF, AssetClass.FX),
        bar_intervals=tuple(BarInterval),
        max_symbols_per_request=1,
    ),
    feature_flags={
        "intraday_data": (Capability.GET_BARS,),
        "daily_data": (Capability.GET_BARS,),
        "fundamental_data": (Capability.GET_FUNDAMENTALS, Capability.GET_CORPORATE_ACTIONS),
        "news_data": (Capability.GET_NEWS,),
        "fx_data": (Capability.GET_FX_RATE, Capability.GET_FX_SERIES),
    },
    mock=MockSpec(
        app="portico.mocks.alpha_vantage:create_app",
        url_keys={"base": "/query"},
        description="GET /query with the vendor's functions, quotas per API key and in-body errors",
    ),
    connection_settings=AlphaVantageConnection,
)
"""The Alpha Vantage manifest."""
