"""The Morningstar connector's manifest: the Morningstar Data API behind ``morningstar-data``.

What was verified against the package (``morningstar_data`` 1.13.0, read in its source) and what is assumed:

Verified: the base ``{MD_API}`` (default ``https://www.us-api.morningstar.com/md-api/``), the functions
``POST v1/get_investment_data``, ``POST v1/get_holdings_task``, ``POST v1/get_holding_dates``,
``GET v1/search_security``, ``GET v1/task/{id}``; their JSON bodies (the package's request dataclasses);
the task envelope (``status`` ``success|pending|failure``, ``poll_url``, ``next_poll_delay_milliseconds``,
``task_timeout_seconds``, ``result.dataframe_file_url`` / ``result.pages[].url``); feather and gzipped
JSON-lines result files fetched without the bearer token; the error body ``{error_class, error_message}``;
the bearer JWT from ``MD_AUTH_TOKEN`` and its user id claim; the data point ids ``get_returns`` sends per
frequency (``HS793``, ``HP002``, ``HP010``, ``HP020``, ``HS803``).

Assumed: request limits (the vendor publishes a daily *cell* quota per user, not a request rate; the
windows below are conservative), HTTP statuses of errors, result column names beyond those the package's
documentation prints, and the keys inside ``holdingDetails``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portico.models import AssetClass
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

__all__ = ["RATE_LIMIT_POLICY", "SPEC", "MorningstarConnection"]

RATE_LIMIT_POLICY = RateLimitPolicy(
    # [assumed] Morningstar meters cells per day, not requests; these windows keep a task's polling and
    # several systems sharing one token well below anything an interactive Analytics Lab user sends.
    windows=(RateWindow(limit=5, period=1.0), RateWindow(limit=120, period=60.0)),
    # a status poll is a small GET; a new task spends the user's daily cells
    endpoint_costs={"GET v1/task/{id}": 0.25, "GET result file": 0.25},
    max_wait=30.0,
    retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=8.0, max_retry_after=60.0),
)
"""Default throttling of one Morningstar token."""


class MorningstarConnection(ConnectionSettings):
    """``connection`` of a Morningstar system: how long to wait for tasks and how much to accept."""

    task_timeout: float = Field(
        default=900.0,
        gt=0,
        le=10_000,
        description="the longest wait, in seconds, for an asynchronous task (investment data, holdings) to "
        "finish; the service's own task_timeout_seconds shortens it, never lengthens it",
    )
    max_result_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="the largest result file accepted, after decompression, in bytes; a larger one is refused "
        "rather than read into memory",
    )
    unmatched_investment_behavior: Literal["WARNING", "IGNORE", "FAIL"] = Field(
        default="WARNING",
        description="what the service does with investments it cannot find: WARNING (skip them, report a "
        "warning), IGNORE (skip silently) or FAIL (fail the whole request); all unknown always fails",
    )
    token_hosts: tuple[str, ...] = Field(
        default=("morningstar.com",),
        description="hosts (each with its subdomains) a task's poll URL may name, over HTTPS; the bearer token "
        "is sent to no other host (the API's own origin is always allowed)",
    )
    mock_sign_in: bool = Field(
        default=False,
        description="sign in on portico's Morningstar mock by asking its token route (as a user copies a token "
        "from Analytics Lab), instead of the configured token; refused unless the API is on a loopback address",
    )
    symbol_cache_size: int = Field(
        default=4096,
        ge=0,
        description="how many ticker/ISIN/CUSIP to SecId resolutions are kept (0: resolve on every call)",
    )


_SUPPORTED = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="morningstar",
    display_name="Morningstar Direct (Data API)",
    kinds=(ConnectorKind.DATA_SERVICE, ConnectorKind.MARKET_DATA),
    description="Fund and ETF data points, total returns and portfolio holdings from Morningstar Direct / "
    "Analytics Lab through the Morningstar Data API that the morningstar-data package calls (asynchronous "
    "tasks, results as feather or gzipped JSON-lines files).",
    docs_url="https://docs-analyticslab.morningstar.com/latest/",
    environments=(
        Environment(
            name="production",
            urls={"base": "https://www.us-api.morningstar.com/md-api/"},
            description="Morningstar's Data API (the package's MD_API default); needs a Direct licence and "
            "a token copied from Analytics Lab.",
        ),
    ),
    default_environment="production",
    auth=(
        AuthSchemeSpec(
            scheme="api_key",
            credentials=(
                CredentialField(
                    name="token",
                    description="the bearer JWT copied from Analytics Lab (Copy Authentication Token); it expires "
                    "and must then be copied again",
                    env_var="MD_AUTH_TOKEN",
                ),
            ),
            options={"header": "Authorization", "prefix": "Bearer "},
            description="Authorization: Bearer <Analytics Lab token>",
        ),
    ),
    throttling=RATE_LIMIT_POLICY,
    health_check=HealthCheckSpec(
        call="GET v1/search_security",
        params={"ticker": "SPY", "count": "1"},
        description="A security lookup spends no data cells and proves the token is accepted.",
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.SEARCH_INSTRUMENTS: _SUPPORTED,
            Capability.GET_FUNDAMENTALS: _SUPPORTED,
        },
        asset_classes=(AssetClass.FUND, AssetClass.ETF, AssetClass.EQUITY),
        max_symbols_per_request=500,
    ),
    feature_flags={
        "fund_data": (Capability.GET_FUNDAMENTALS,),
        "lookup": (Capability.SEARCH_INSTRUMENTS,),
    },
    mock=MockSpec(
        app="portico.mocks.morningstar:create_app",
        url_keys={"base": "/md-api/", "jwks": "/.well-known/jwks.json"},
        description="the md-api v1 functions, task polling, signed result files and the JWKS verifying its tokens. "
        "Verified against morningstar-data 1.13.0 (its source): paths, request bodies, the task envelope, feather "
        "and gzipped JSON-lines results fetched without the token, the error body, the RS256 token and its JWKS "
        "user id claim. Assumed (no public catalogue): result column names beyond the package's documentation, "
        "the keys inside holdingDetails, error statuses, and request limits.",
    ),
    connection_settings=MorningstarConnection,
)
"""The Morningstar manifest. Returns and holdings are connector methods beyond the shared capabilities
(:meth:`~portico.connectors.morningstar.MorningstarConnector.get_returns`, ``get_holdings``, ``get_fund_data``)."""
