"""The Refinitiv (LSEG Data Platform) connector's manifest, its settings and its throttling."""

from __future__ import annotations

from pydantic import Field

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
    StreamKind,
    Support,
)

__all__ = ["SNAPSHOTS_ENDPOINT", "SPEC", "THROTTLING", "RefinitivConnection"]

SNAPSHOTS_ENDPOINT = "GET /data/pricing/snapshots/v1/"

# LSEG's usage guideline: about 5 requests a second per session; 429 past it (the library itself retries
# 429 six times with backoff). The retry budget waits a throttle out for up to 30 s.
THROTTLING = RateLimitPolicy(
    windows=(RateWindow(limit=5, period=1.0),),
    max_wait=30.0,
    retry=RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0, max_retry_after=30.0),
)
"""The default throttling: 5 calls a second, 429s retried with backoff."""


class RefinitivConnection(ConnectionSettings):
    """``connection`` of a Refinitiv system: request sizes that keep each call under the platform's caps."""

    interday_rows_per_request: int = Field(
        default=3000,
        ge=1,
        le=10000,
        description="rows asked for in one interday-summaries call; longer histories are fetched page by page "
        "(LSEG's guideline caps interday answers at about 3,000 rows)",
    )
    intraday_rows_per_request: int = Field(
        default=5000,
        ge=1,
        le=10000,
        description="rows asked for in one intraday-summaries or events call (LSEG caps intraday answers at "
        "about 50,000 data points, rows times fields); longer ranges are fetched page by page",
    )
    rics_per_snapshot: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="RICs sent in one pricing-snapshots call; larger universes (the FX feed's 150+ pairs) are split",
    )
    cross_ric_suffix: str = Field(
        default="=R",
        pattern=r"^=[A-Z]{0,4}$",
        description="suffix of FX cross RICs (EURGBP=R for the composite cross); spot RICs against USD are "
        "always EUR= / JPY=",
    )
    max_pages: int = Field(
        default=200,
        ge=1,
        description="the most pages one history call fetches before stopping with an error (a guard against a "
        "venue that keeps answering the same page)",
    )


_SUPPORTED = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="refinitiv",
    display_name="Refinitiv (LSEG Data Platform)",
    kinds=(ConnectorKind.DATA_SERVICE, ConnectorKind.MARKET_DATA),
    description="LSEG Data Platform (RDP) REST: historical pricing (interday and intraday summaries, events), "
    "pricing snapshots (equities and FX spot RICs with bid/ask), datagrid reference and fundamental fields and "
    "discovery search.",
    docs_url="https://developers.lseg.com/en/api-catalog/refinitiv-data-platform/refinitiv-data-platform-apis",
    environments=(
        Environment(
            name="production",
            urls={"base": "https://api.refinitiv.com"},
            description="The LSEG Data Platform; v1 (password) or v2 (client credentials) OAuth sessions.",
        ),
    ),
    default_environment="production",
    auth=(
        AuthSchemeSpec(
            scheme="refinitiv_password",
            credentials=(
                CredentialField(
                    name="app_key",
                    description="the LSEG app key (client_id of the v1 grant)",
                    env_var="REFINITIV_APP_KEY",
                ),
                CredentialField(
                    name="username",
                    secret=False,
                    description="the LSEG platform user (machine id)",
                    env_var="REFINITIV_USERNAME",
                ),
                CredentialField(
                    name="password", description="the platform user's password", env_var="REFINITIV_PASSWORD"
                ),
            ),
            options={
                "token_url": "{base}/auth/oauth2/v1/token",
                "revocation_url": "{base}/auth/oauth2/v1/revoke",
                "scope": "trapi",
                "take_exclusive_sign_on": False,
                "max_token_requests_per_minute": 10,
            },
            description="v1 password grant (~300 s tokens, rotating refresh tokens, one session per user)",
        ),
        AuthSchemeSpec(
            scheme="oauth2_client_credentials",
            credentials=(
                CredentialField(
                    name="client_id",
                    description="the v2 service account's client id",
                    env_var="REFINITIV_CLIENT_ID",
                ),
                CredentialField(
                    name="client_secret",
                    description="the v2 service account's secret",
                    env_var="REFINITIV_CLIENT_SECRET",
                ),
            ),
            options={
                "token_url": "{base}/auth/oauth2/v2/token",
                "scope": "trapi",
                "token_endpoint_auth_method": "client_secret_post",
            },
            description="v2 client credentials (service accounts)",
        ),
    ),
    throttling=THROTTLING,
    health_check=HealthCheckSpec(
        call=SNAPSHOTS_ENDPOINT,
        params={"universe": "EUR=", "fields": "BID"},
        description="One snapshot of one field of one RIC: the smallest data call that proves the token works.",
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_BARS: _SUPPORTED,
            Capability.GET_QUOTES: _SUPPORTED,
            Capability.GET_TRADES: _SUPPORTED,
            Capability.GET_LATEST_QUOTES: _SUPPORTED,
            Capability.GET_SNAPSHOTS: _SUPPORTED,
            Capability.SEARCH_INSTRUMENTS: _SUPPORTED,
            Capability.GET_FUNDAMENTALS: _SUPPORTED,
            Capability.GET_FX_RATE: _SUPPORTED,
            Capability.GET_FX_SERIES: _SUPPORTED,
            Capability.SUBSCRIBE_QUOTES: _SUPPORTED,
            Capability.SUBSCRIBE_TRADES: _SUPPORTED,
        },
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF, AssetClass.FX),
        bar_intervals=(
            BarInterval.MIN_1,
            BarInterval.MIN_5,
            BarInterval.MIN_30,
            BarInterval.HOUR_1,
            BarInterval.DAY,
            BarInterval.WEEK,
            BarInterval.MONTH,
        ),
        max_symbols_per_request=100,
    ),
    streams=(StreamKind.QUOTES, StreamKind.TRADES),
    mock=MockSpec(
        sample_symbols=("AAPL.O", "MSFT.O", "IBM.N"),
        app="portico.mocks.refinitiv:create_app",
        url_keys={"base": ""},
        description="v1/v2 token service with session quota and login-rate protection, historical pricing "
        "(interday, intraday, events), pricing snapshots, the datagrid, discovery search and streaming pricing "
        "(OMM over WebSocket), over LSEG's wire format",
    ),
    connection_settings=RefinitivConnection,
)
"""The Refinitiv manifest."""
