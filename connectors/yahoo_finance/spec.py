"""The Yahoo Finance connector's manifest: an unofficial API, declared for research use.

Yahoo publishes no API for these endpoints: no documentation, no terms for programmatic use, no SLA and no
published limits. Yahoo's terms of service allow personal, non-commercial use of its content. The connector
is for research (backfills, cross-checks, prototypes); production and client-facing flows belong on a
licensed provider (Polygon, Alpaca market data, Alpha Vantage), with this one at most a fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError

from portico.errors import ConfigurationError
from portico.models import AssetClass, BarInterval
from portico.sdk import (
    Capability,
    CapabilitySet,
    ConnectionSettings,
    ConnectorKind,
    ConnectorSpec,
    Environment,
    HealthCheckSpec,
    MockSpec,
    RateLimitPolicy,
    RateWindow,
    RetryPolicy,
    Support,
)

__all__ = ["SPEC", "TERMS_NOTICE", "YahooFinanceConnection", "rate_limit_policy", "settings_of"]

TERMS_NOTICE = (
    "Yahoo Finance has no official API: these endpoints are undocumented, come without terms for programmatic "
    "use or an SLA, change without notice and throttle at unpublished limits; Yahoo's terms allow personal, "
    "non-commercial use. Use this connector for research only."
)
"""What every user of the connector is told (manifest, environment, health check)."""

DEFAULT_REQUESTS_PER_MINUTE = 30
"""Yahoo publishes no limit; users report 429s from a few hundred requests a minute, so the default stays far below."""

# Yahoo's 429 carries no Retry-After; its throttles last minutes, so back off long, and not often
_RETRY = RetryPolicy(attempts=3, base_delay=5.0, max_delay=60.0, max_retry_after=120.0)


def rate_limit_policy(requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE) -> RateLimitPolicy:
    """The throttling for ``requests_per_minute``: that many a minute, at most a sixth of them in any 10 s,
    and no more than 1000 an hour (a sustained pace Yahoo tolerates per address, by users' reports)."""
    if not 1 <= requests_per_minute <= 600:
        raise ConfigurationError(
            f"requests_per_minute must be between 1 and 600, got {requests_per_minute}",
            path="connection.requests_per_minute",
        )
    windows = (
        RateWindow(limit=max(1, requests_per_minute // 6), period=10.0),
        RateWindow(limit=requests_per_minute, period=60.0),
        RateWindow(limit=1000, period=3600.0),
    )
    return RateLimitPolicy(windows=windows, max_wait=60.0, retry=_RETRY)


class YahooFinanceConnection(ConnectionSettings):
    """``connection`` of a Yahoo Finance system."""

    requests_per_minute: int = Field(
        default=DEFAULT_REQUESTS_PER_MINUTE,
        ge=1,
        le=600,
        description="the pace the system keeps with Yahoo (no published limit; 429s come from a few hundred a "
        "minute); sets the default throttling, throttling.* keys still override it",
    )
    region: str = Field(
        default="US", min_length=2, max_length=2, description="Yahoo's region parameter for quotes and search"
    )
    lang: str = Field(
        default="en-US", min_length=2, description="Yahoo's lang parameter for quotes and search"
    )
    include_prepost: bool = Field(
        default=False, description="include pre- and post-market bars in intraday series (includePrePost)"
    )


_SUPPORTED = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="yahoo_finance",
    display_name="Yahoo Finance (unofficial, research use)",
    kinds=(ConnectorKind.MARKET_DATA,),
    description="Bars (1 minute to monthly, with adjusted close, dividends and splits), latest quotes, "
    "company figures and search from Yahoo Finance's undocumented JSON endpoints. " + TERMS_NOTICE,
    docs_url="https://legal.yahoo.com/us/en/yahoo/terms/otos/index.html",
    environments=(
        Environment(
            name="production",
            urls={
                "query1": "https://query1.finance.yahoo.com",
                "query2": "https://query2.finance.yahoo.com",
                "cookie": "https://fc.yahoo.com",
            },
            description="Yahoo's public web endpoints, as its own pages use them; no SLA. " + TERMS_NOTICE,
        ),
    ),
    default_environment="production",
    throttling=rate_limit_policy(),
    health_check=HealthCheckSpec(
        call="GET /v8/finance/chart/{symbol}",
        params={"symbol": "SPY", "range": "1d", "interval": "1d"},
        description="The chart needs no cookie or crumb and answers one day of SPY in a small body.",
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_BARS: _SUPPORTED,
            Capability.GET_LATEST_QUOTES: _SUPPORTED,
            Capability.SEARCH_INSTRUMENTS: _SUPPORTED,
            Capability.GET_FUNDAMENTALS: _SUPPORTED,
            Capability.GET_CORPORATE_ACTIONS: _SUPPORTED,
            Capability.GET_NEWS: _SUPPORTED,
        },
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF, AssetClass.INDEX, AssetClass.FUND),
        bar_intervals=tuple(BarInterval),
        extended_hours=True,
        max_symbols_per_request=50,
    ),
    mock=MockSpec(
        app="portico.mocks.yahoo_finance:create_app",
        url_keys={"query1": "", "query2": "", "cookie": ""},
        description="Yahoo's cookie and crumb, v8 chart, v7 quote, v10 quoteSummary and search on one server "
        "routing on the Host header; Invalid Crumb, chart.error and 429 Too Many Requests",
    ),
    connection_settings=YahooFinanceConnection,
)
"""The Yahoo Finance manifest."""


def settings_of(connection: Mapping[str, Any]) -> YahooFinanceConnection:
    """A system's ``connection`` as typed settings (a clear error naming the key when invalid)."""
    try:
        return YahooFinanceConnection.model_validate(dict(connection))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        raise ConfigurationError(f"connection.{key}: {error['msg']}", path=f"connection.{key}") from None
