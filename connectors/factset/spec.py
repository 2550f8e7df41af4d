"""The FactSet connector's manifest: the Prices API under ``/content``, two auth modes, 25 requests/s."""

from __future__ import annotations

from typing import Literal

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
    Support,
)

__all__ = ["CALENDARS", "FREQUENCIES", "SPEC", "FactSetConnection"]

FREQUENCIES = ("D", "W", "M", "AM", "CQ", "FQ", "AY", "CY", "FY")
"""The Prices API's ``frequency`` values (daily, weekly, monthly, actual month end, quarters, years)."""
CALENDARS = ("FIVEDAY", "SEVENDAY", "LOCAL")
"""The Prices API's ``calendar`` values."""


class FactSetConnection(ConnectionSettings):
    """``connection`` of a FactSet system: calendar, price adjustment, batch handling, symbology cache."""

    calendar: Literal["FIVEDAY", "SEVENDAY", "LOCAL"] = Field(
        default="FIVEDAY",
        description="the Prices API calendar: FIVEDAY (weekdays), SEVENDAY or LOCAL (exchange days)",
    )
    adjust: Literal["SPLIT", "SPINOFF", "DIVADJ", "UNSPLIT"] = Field(
        default="SPLIT",
        description="price adjustment of bars: SPLIT (the API's default), SPINOFF, DIVADJ (splits, spin-offs and "
        "dividends) or UNSPLIT (as traded)",
    )
    batch_ids_over: int = Field(
        default=200,
        ge=1,
        le=2000,
        description="a request for more ids than this runs as a batch request (202, then polled until done)",
    )
    batch_poll_seconds: float = Field(
        default=2.0, gt=0, le=60, description="seconds between status polls of a running batch request"
    )
    batch_deadline_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="a batch request not done after this long is abandoned (an error)",
    )
    symbology_ttl_seconds: float = Field(
        default=86400.0, ge=0, description="how long a ticker's FactSet id stays cached (0: not cached)"
    )


_S = Support.SUPPORTED
_RETRY = RetryPolicy(attempts=3, base_delay=0.25, max_delay=5.0, max_retry_after=30.0)

SPEC = ConnectorSpec(
    name="factset",
    display_name="FactSet",
    kinds=(ConnectorKind.DATA_SERVICE, ConnectorKind.MARKET_DATA),
    description="FactSet Prices API: end-of-day prices, returns, dividends, splits, shares, market value and "
    "security references for tickers or FactSet permanent ids, in any currency and frequency, with batch "
    "requests for large id lists.",
    docs_url="https://developer.factset.com/api-catalog/factset-prices-api",
    environments=(
        Environment(
            name="production",
            urls={"base": "https://api.factset.com/content", "auth": "https://auth.factset.com"},
            description="FactSet's API gateway (content APIs under /content) and its authorization server.",
        ),
    ),
    default_environment="production",
    auth=(
        AuthSchemeSpec(
            scheme="basic",
            credentials=(
                CredentialField(
                    name="username",
                    secret=False,
                    description="USERNAME-SERIAL of the FactSet account the API key belongs to",
                    env_var="FACTSET_USERNAME",
                ),
                CredentialField(
                    name="password",
                    description="the API key created on FactSet's developer portal (HTTP Basic password)",
                    env_var="FACTSET_API_KEY",
                ),
            ),
            description="HTTP Basic: USERNAME-SERIAL and API key.",
        ),
        AuthSchemeSpec(
            scheme="factset_private_key_jwt",
            credentials=(
                CredentialField(
                    name="client_id",
                    secret=False,
                    description="the OAuth client id registered on FactSet's developer portal",
                    env_var="FACTSET_CLIENT_ID",
                ),
                CredentialField(
                    name="jwk",
                    description="the client's private RSA JWK (JSON with kty, alg, use, kid, n, e, d, p, q, dp, dq, qi)",
                    env_var="FACTSET_JWK",
                ),
            ),
            options={"well_known_uri": "{auth}/.well-known/openid-configuration"},
            description="OAuth 2.0 client credentials with an RS256 client assertion signed by the private JWK "
            "(private_key_jwt), endpoints from the authorization server's well-known document.",
        ),
    ),
    throttling=RateLimitPolicy(
        # "Rate limit is set to 25 requests per second"; the batch status polls count like any call
        windows=(RateWindow(limit=25, period=1.0),),
        max_wait=30.0,
        retry=_RETRY,
    ),
    health_check=HealthCheckSpec(
        call="GET /factset-prices/v1/references",
        params={"ids": "FDS-US"},
        description="One security's reference row: the smallest answer that proves the gateway accepts the "
        "credentials and the Prices API entitlement.",
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_BARS: _S,
            Capability.GET_FUNDAMENTALS: _S,
            Capability.GET_CORPORATE_ACTIONS: _S,
        },
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF, AssetClass.FUND, AssetClass.INDEX),
        bar_intervals=(BarInterval.DAY, BarInterval.WEEK, BarInterval.MONTH),
        max_symbols_per_request=2000,
    ),
    mock=MockSpec(
        sample_symbols=("AAPL-US", "MSFT-US", "FDS-US"),
        app="portico.mocks.factset:create_app",
        url_keys={"base": "/content", "auth": ""},
        description="Prices API under /content with FactSet's error envelope, the batch flow (202 then 200), "
        "HTTP Basic accounts, the well-known document and a token endpoint that verifies private_key_jwt "
        "assertions against registered public JWKs",
    ),
    connection_settings=FactSetConnection,
)
"""The FactSet manifest."""
