"""The Bloomberg connector's manifest: Data License REST (``/eap``) with OAuth 2 client credentials."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

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

__all__ = ["MAX_UNIVERSE", "RATE_LIMITS", "SPEC", "TOKEN_PATH", "BloombergConnection"]

TOKEN_PATH = "/ext/api/as/token.oauth2"
"""The token endpoint's path on the SSO host (Bloomberg's samples: ``bsso.blpprofessional.com``)."""

MAX_UNIVERSE = 5000
"""The largest universe portico puts in one request (larger ones are split)."""

RATE_LIMITS = RateLimitPolicy(
    # DL REST's published limits: 1200 calls a minute per application, 1000 a second per IP address
    windows=(RateWindow(limit=1200, period=60.0), RateWindow(limit=1000, period=1.0)),
    max_wait=60.0,
    retry=RetryPolicy(attempts=3, base_delay=1.0, max_delay=30.0, max_retry_after=65.0),
)


class BloombergConnection(ConnectionSettings):
    """``connection`` of a Bloomberg Data License system."""

    catalog: str | None = Field(
        default=None,
        description="the Data License account number (the catalog whose subscriptionType is 'scheduled'); "
        "found from /eap/catalogs/ when not set",
    )
    output_format: Literal["json", "csv"] = Field(
        default="json",
        description="the output file format asked for (outputMediaType application/json or text/csv)",
    )
    poll_interval: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="seconds between polls of content/responses while a request runs",
    )
    reply_timeout: float = Field(
        default=2700.0,
        gt=0,
        le=86400,
        description="seconds a request may take before it is given up (Bloomberg's samples wait 45 minutes)",
    )
    equity_yellow_key: str = Field(
        default="US Equity",
        description="appended to a bare ticker (AAPL -> 'AAPL US Equity'); symbols that already end in a "
        "yellow key (Equity, Curncy, Index, Comdty, Corp, Govt...) are sent as they are",
    )
    pricing_source: str | None = Field(
        default=None,
        description="a preferred pricing source mnemonic (BGN, BVAL, CMPN...), sent in pricingSourceOptions",
    )
    max_universe: int = Field(
        default=500, ge=1, le=MAX_UNIVERSE, description="securities per request; larger universes are split"
    )
    api: Literal["dl_rest", "blpapi"] = Field(
        default="dl_rest",
        description="dl_rest: Data License REST over HTTPS (tested against portico's mock); blpapi: the Desktop/Server "
        "API through the blpapi package, which must be installed from Bloomberg's index (tested only against an "
        "in-process fake)",
    )
    blpapi_host: str = Field(
        default="localhost", description="the Desktop API / Server API host (api: blpapi)"
    )
    blpapi_port: int = Field(
        default=8194, ge=1, le=65535, description="the Desktop API / Server API port (api: blpapi)"
    )
    blpapi_timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="seconds to wait for each BLPAPI event before a request is given up",
    )

    def endpoints(self, urls: dict[str, str]) -> dict[str, str]:
        """The environment's URLs, plus the BLPAPI socket (``tcp://host:port``) when ``api`` is ``blpapi``,
        so the transport check sees that plain TCP socket (allowed on loopback, where a Terminal runs)."""
        out = super().endpoints(urls)
        if self.api == "blpapi":
            out["blpapi"] = f"tcp://{self.blpapi_host}:{self.blpapi_port}"
        return out

    @field_validator("catalog")
    @classmethod
    def _account_number(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().isalnum():
            raise ValueError(f"must be a Data License account number (letters and digits), got {value!r}")
        return value.strip() if value else value

    @field_validator("equity_yellow_key")
    @classmethod
    def _yellow_key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a yellow key such as 'US Equity'")
        return " ".join(value.split())


_SUPPORTED = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="bloomberg",
    display_name="Bloomberg Data License",
    kinds=(ConnectorKind.DATA_SERVICE, ConnectorKind.MARKET_DATA),
    description="Reference data, price history and FX rates from Bloomberg Data License REST (/eap): a "
    "DataRequest or HistoryRequest per call, followed to its output file. DL REST is tested against portico's "
    "mock and Bloomberg's requests-oauthlib sample flow; with connection.api=blpapi the same calls go through "
    "the blpapi package (//blp/refdata), tested only against an in-process fake with blpapi's message shapes.",
    docs_url="https://developer.bloomberg.com/portal/products/dlrestapi",
    environments=(
        Environment(
            name="production",
            urls={"base": "https://api.bloomberg.com", "auth": "https://bsso.blpprofessional.com"},
            description="Data License REST and Bloomberg's SSO token endpoint; calls are billed by Data License.",
        ),
    ),
    default_environment="production",
    auth=(
        AuthSchemeSpec(
            scheme="oauth2_client_credentials",
            credentials=(
                CredentialField(
                    name="client_id",
                    description="client_id from the Enterprise Console credential file",
                    env_var="BLOOMBERG_DL_CLIENT_ID",
                ),
                CredentialField(
                    name="client_secret",
                    description="client_secret from the Enterprise Console credential file",
                    env_var="BLOOMBERG_DL_CLIENT_SECRET",
                ),
            ),
            # as Bloomberg's samples send it: requests-oauthlib's default HTTP Basic client authentication
            options={"token_url": "{auth}" + TOKEN_PATH, "token_endpoint_auth_method": "client_secret_basic"},
            description="OAuth 2 client credentials; the bearer token is a JWT and every call adds api-version: 2",
        ),
    ),
    throttling=RATE_LIMITS,
    health_check=HealthCheckSpec(
        call="GET /eap/catalogs/",
        description="Lists the catalogs: proves the token and finds the account's scheduled catalog; no data is billed.",
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_BARS: _SUPPORTED,
            Capability.GET_LATEST_QUOTES: _SUPPORTED,
            Capability.GET_FUNDAMENTALS: _SUPPORTED,
            Capability.GET_FX_RATE: _SUPPORTED,
            Capability.GET_FX_SERIES: _SUPPORTED,
        },
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF, AssetClass.FX),
        bar_intervals=(BarInterval.DAY, BarInterval.WEEK, BarInterval.MONTH),
        max_symbols_per_request=500,
    ),
    feature_flags={
        "daily_data": (Capability.GET_BARS,),
        "fundamental_data": (Capability.GET_FUNDAMENTALS,),
        "fx_data": (Capability.GET_FX_RATE, Capability.GET_FX_SERIES),
    },
    mock=MockSpec(
        app="portico.mocks.bloomberg:create_app",
        url_keys={"base": "", "auth": ""},
        description="DL REST: token endpoint, catalogs, requests, content responses, downloads, SSE, JSON:API errors",
    ),
    connection_settings=BloombergConnection,
)
"""The Bloomberg Data License manifest."""
