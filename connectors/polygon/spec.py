"""The Polygon.io (Massive) connector's manifest, and its throttling and entitlements per plan.

Polygon.io renamed itself Massive on 2025-10-30 (``api.massive.com``; the ``polygon-api-client`` package
became ``massive``). The connector keeps the name users know, ``polygon``; ``massive`` is its alias
(:data:`ALIASES`, the manifest's ``aliases``: ``connector: massive`` in a config finds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

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
    StreamKind,
    Support,
)

__all__ = [
    "ALIASES",
    "END_OF_DAY_PLANS",
    "PLANS",
    "PLAN_FEATURES",
    "SPEC",
    "PolygonConnection",
    "plan_of",
    "rate_limit_policy",
]

ALIASES = ("massive",)
"""Other names of this connector (the vendor's name since 2025)."""

Plan = Literal["free", "starter", "developer", "advanced"]

PLANS: dict[str, int | None] = {"free": 5, "starter": None, "developer": None, "advanced": None}
"""Calls per minute of each stocks plan (``None``: unlimited). The free plan is the vendor's "Basic"."""

PLAN_FEATURES: dict[str, frozenset[str]] = {
    "free": frozenset({"aggregates", "reference"}),
    "starter": frozenset({"aggregates", "reference", "snapshots", "stream"}),
    "developer": frozenset({"aggregates", "reference", "snapshots", "stream", "trades"}),
    "advanced": frozenset({"aggregates", "reference", "snapshots", "stream", "trades", "quotes"}),
}
"""What each plan may read: the connector refuses the rest before spending a call of the plan's budget."""

END_OF_DAY_PLANS = frozenset({"free"})
"""Plans that see a session's aggregates only once it has closed (the vendor refuses "today's data before
end of day"): bars without an ``end`` stop at the last closed session."""

# A 429 on the free plan means the minute's five calls are spent (another process shares the key):
# waiting for the window to slide is the only cure, so a retry may wait up to a minute.
_RETRY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=15.0, max_retry_after=65.0)


def rate_limit_policy(plan: str = "free") -> RateLimitPolicy:
    """The throttling of a stocks plan: ``free`` allows 5 calls a minute, paid plans are unlimited."""
    if plan not in PLANS:
        raise ConfigurationError(
            f"unknown Polygon plan {plan!r}; use one of {sorted(PLANS)}", path="connection.plan"
        )
    per_minute = PLANS[plan]
    windows = (RateWindow(limit=per_minute, period=60.0),) if per_minute else ()
    return RateLimitPolicy(windows=windows, max_wait=65.0, retry=_RETRY)


def plan_of(connection: Mapping[str, Any]) -> str:
    """The plan named by a system's ``connection.plan`` (``free`` when absent)."""
    plan = str(connection.get("plan", "free")).strip().lower()
    if plan not in PLANS:
        raise ConfigurationError(
            f"unknown Polygon plan {plan!r}; use one of {sorted(PLANS)}", path="connection.plan"
        )
    return plan


class PolygonConnection(ConnectionSettings):
    """``connection`` of a Polygon (Massive) system: the key's plan, paging bounds and stream feed."""

    plan: Plan = Field(
        default="free",
        description="the key's stocks plan: free (5 calls/minute; aggregates and reference data), starter "
        "(+ snapshots, stream), developer (+ trades) or advanced (+ quotes); sets the default throttling "
        "(throttling.* keys still override it) and which calls are refused before they are sent",
    )
    max_pages: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="the most next_url pages one call follows before it stops with what it has (on the free "
        "plan every page costs one of the minute's five calls)",
    )
    page_size: int = Field(
        default=5000,
        ge=1,
        le=50000,
        description="results asked per page (limit=) of aggregates, trades and quotes; the vendor caps it at 50000",
    )
    feed: Literal["realtime", "delayed"] = Field(
        default="realtime",
        description="the WebSocket feed: realtime (socket host) or delayed (15-minute delayed host, Starter plans)",
    )


_SUPPORTED = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="polygon",
    display_name="Polygon.io (Massive)",
    kinds=(ConnectorKind.MARKET_DATA,),
    aliases=ALIASES,
    description="US stocks market data from Polygon.io, renamed Massive in 2025 (alias: massive): aggregates "
    "for every timespan, trades, NBBO quotes, last trade and quote, snapshots, reference tickers, ticker "
    "details, dividends, splits, news, market status and the real-time WebSocket stream.",
    docs_url="https://massive.com/docs",
    environments=(
        Environment(
            name="production",
            urls={
                "base": "https://api.massive.com",
                "stream": "wss://socket.massive.com/stocks",
                "delayed_stream": "wss://delayed.massive.com/stocks",
            },
            description="Massive's API (formerly api.polygon.io, which still answers); the plan of the key "
            "sets the call limit and what may be read.",
        ),
    ),
    default_environment="production",
    auth=(
        AuthSchemeSpec(
            scheme="api_key",
            credentials=(
                CredentialField(
                    name="api_key",
                    description="Massive (Polygon.io) API key, sent as Authorization: Bearer (masked in logs)",
                    env_var="MASSIVE_API_KEY",
                ),
            ),
            # the vendor also takes ?apiKey=, but a header keeps the key out of every URL and log line
            options={"header": "Authorization", "prefix": "Bearer "},
            description="API key as a bearer token in the Authorization header",
        ),
    ),
    throttling=rate_limit_policy("free"),
    health_check=HealthCheckSpec(
        call="GET /v1/marketstatus/now",
        description="Needs a valid key on every plan and answers with a few hundred bytes.",
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_BARS: _SUPPORTED,
            Capability.GET_QUOTES: _SUPPORTED,
            Capability.GET_TRADES: _SUPPORTED,
            Capability.GET_LATEST_QUOTES: _SUPPORTED,
            Capability.GET_LATEST_TRADES: _SUPPORTED,
            Capability.GET_SNAPSHOTS: _SUPPORTED,
            Capability.SEARCH_INSTRUMENTS: _SUPPORTED,
            Capability.GET_FUNDAMENTALS: _SUPPORTED,
            Capability.GET_CORPORATE_ACTIONS: _SUPPORTED,
            Capability.GET_NEWS: _SUPPORTED,
            Capability.SUBSCRIBE_QUOTES: _SUPPORTED,
            Capability.SUBSCRIBE_TRADES: _SUPPORTED,
            Capability.SUBSCRIBE_BARS: _SUPPORTED,
        },
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF),
        bar_intervals=tuple(BarInterval),
        max_symbols_per_request=1,
    ),
    streams=(StreamKind.QUOTES, StreamKind.TRADES, StreamKind.BARS),
    feature_flags={
        "trades": (Capability.GET_TRADES, Capability.GET_LATEST_TRADES),
        "quotes": (Capability.GET_QUOTES, Capability.GET_LATEST_QUOTES),
        "snapshots": (Capability.GET_SNAPSHOTS,),
        "streaming": (Capability.SUBSCRIBE_QUOTES, Capability.SUBSCRIBE_TRADES, Capability.SUBSCRIBE_BARS),
    },
    mock=MockSpec(
        app="portico.mocks.polygon:create_app",
        url_keys={"base": "", "stream": "/stocks", "delayed_stream": "/stocks"},
        description="The stocks REST API (envelopes, next_url paging, plans, 401/403/404/429) and the /stocks "
        "WebSocket (auth, subscribe, T/Q/A/AM events)",
        protocols=("http", "ws"),
    ),
    connection_settings=PolygonConnection,
)
"""The Polygon (Massive) manifest."""
