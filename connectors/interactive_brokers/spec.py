"""The Interactive Brokers manifest: one connector, two transports.

``transport: web`` talks to the Client Portal Gateway (REST under ``/v1/api`` plus its WebSocket);
``transport: tws`` talks to TWS or IB Gateway over the socket API through ib_async (extra ``portico[ib]``).
The plan's configuration (``authentication.type: tws`` with ``connection.host/port/client_id``) selects
TWS. The manifest declares the union of both transports' capabilities; :data:`TRANSPORT_CAPABILITIES`
says which transport offers what, and a transport asked for something it lacks raises ``NotSupported``
naming the transport. :func:`transport_spec` gives the manifest as seen through one transport.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

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

__all__ = [
    "SPEC",
    "TRANSPORTS",
    "TRANSPORT_CAPABILITIES",
    "TWS_PACING",
    "WEB_ENDPOINT_PACING",
    "InteractiveBrokersConnection",
    "transport_spec",
]

TRANSPORTS = ("web", "tws")


class InteractiveBrokersConnection(ConnectionSettings):
    """``connection`` of an Interactive Brokers system (the plan's host, port and client_id, and more)."""

    transport: Literal["web", "tws"] | None = Field(
        default=None, description="web or tws (default: tws when authentication.type is tws or client_id is set, else web)"
    )
    host: str | None = Field(
        default=None,
        min_length=1,
        description="TWS / IB Gateway host (tws; default 127.0.0.1). A host other than loopback needs "
        "allow_insecure: the TWS API socket is not encrypted",
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="TWS / IB Gateway API port: 7497 paper, 7496 live, 4002/4001 IB Gateway (tws)"
    )
    client_id: int | None = Field(default=None, ge=0, description="API client id, unique per connection (tws; default 1)")
    account: str | None = Field(default=None, min_length=1, description="the account to trade (default: the first managed account)")
    ack_timeout: float = Field(
        default=5.0, gt=0, description="seconds to wait for the venue to acknowledge an order before resolving by lookup"
    )
    connect_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for the TWS handshake (tws)")
    confirm_warnings: bool | list[str] = Field(
        default=True, description="answer the Client Portal order questions: true, false, or a list of message ids (web)"
    )
    tickle_interval: float = Field(default=60.0, gt=0, description="seconds between Client Portal keep-alive tickles (web)")
    reauth_timeout: float = Field(default=15.0, gt=0, description="seconds to wait for a Client Portal re-authentication (web)")
    take_over_competing: bool = Field(
        default=False, description="take the brokerage session over from a competing login (web)"
    )
    flex_query_id: str | None = Field(
        default=None,
        pattern=r"^[0-9]+$",
        description="id of the Activity Flex query (Cash Transactions, Corporate Actions) behind get_cash_movements and "
        "get_corporate_actions; its token is credentials.flex_token",
    )
    flex_poll_interval: float = Field(default=2.0, gt=0, description="seconds between polls of a Flex statement being generated")
    flex_max_polls: int = Field(default=15, ge=1, description="polls of a Flex statement before giving up")
    flex_cache_seconds: float = Field(default=60.0, ge=0, description="seconds a fetched Flex statement answers again")
    verify_tls: bool = Field(
        default=False, description="verify the Client Portal Gateway's TLS certificate (it is self-signed by default) (web)"
    )

    @field_validator("transport", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    def endpoints(self, urls: dict[str, str]) -> dict[str, str]:
        """The environment's URLs, with the TWS socket moved to ``host``/``port`` when they are given."""
        out = super().endpoints(urls)
        if self.host or self.port:
            default_port = urlsplit(urls.get("tws") or "tcp://127.0.0.1:7497").port or 7497
            out["tws"] = f"tcp://{self.host or '127.0.0.1'}:{self.port or default_port}"
        return out

_C = Capability
_COMMON = {
    _C.GET_ACCOUNT: Support.SUPPORTED,
    _C.GET_POSITIONS: Support.SUPPORTED,
    _C.PLACE_ORDER: Support.SUPPORTED,
    _C.CANCEL_ORDER: Support.SUPPORTED,
    _C.REPLACE_ORDER: Support.SUPPORTED,
    _C.GET_ORDER: Support.SUPPORTED,
    _C.LIST_ORDERS: Support.SUPPORTED,
    _C.GET_EXECUTIONS: Support.SUPPORTED,
    _C.GET_BARS: Support.SUPPORTED,
    _C.GET_LATEST_QUOTES: Support.SUPPORTED,
    _C.SEARCH_INSTRUMENTS: Support.SUPPORTED,
    _C.SUBSCRIBE_QUOTES: Support.SUPPORTED,
    _C.SUBSCRIBE_ORDER_UPDATES: Support.SUPPORTED,
    # from the Flex Web Service (an Activity Flex query), whichever transport trades
    _C.GET_CASH_MOVEMENTS: Support.SUPPORTED,
    _C.GET_CORPORATE_ACTIONS: Support.SUPPORTED,
}

TRANSPORT_CAPABILITIES: dict[str, dict[Capability, Support]] = {
    # Client Portal: one snapshot call carries many conids; order lookup by cOID is emulated from the
    # live orders list (the API has no direct call).
    "web": {**_COMMON, _C.GET_ORDER_BY_CLIENT_ID: Support.EMULATED, _C.GET_SNAPSHOTS: Support.SUPPORTED},
    # TWS: orders are looked up by orderRef across open and completed orders. The socket API has no
    # multi-symbol snapshot with daily bars, so GET_SNAPSHOTS is web only.
    # News (reqHistoricalNews) and the fundamentals snapshot (reqFundamentalData) are socket API only.
    "tws": {
        **_COMMON,
        _C.GET_ORDER_BY_CLIENT_ID: Support.EMULATED,
        _C.GET_NEWS: Support.SUPPORTED,
        _C.GET_FUNDAMENTALS: Support.SUPPORTED,
    },
}

WEB_ENDPOINT_PACING: dict[str, RateWindow] = {
    "GET /iserver/marketdata/snapshot": RateWindow(limit=10, period=1),
    "GET /iserver/account/orders": RateWindow(limit=1, period=5),
    "GET /portfolio/accounts": RateWindow(limit=1, period=5),
    "GET /portfolio/subaccounts": RateWindow(limit=1, period=5),
    "POST /tickle": RateWindow(limit=1, period=1),
    "GET /iserver/account/trades": RateWindow(limit=1, period=5),
    "GET /iserver/marketdata/history": RateWindow(limit=5, period=1),
}
"""IB's per-endpoint pacing of the Client Portal Web API, on top of the global 10 requests per second
(exceeding either earns a 429 and a penalty box)."""

TWS_PACING: dict[str, RateWindow] = {
    "messages": RateWindow(limit=45, period=1),
    "historical": RateWindow(limit=60, period=600),
}
"""TWS pacing: at most 50 messages per second to TWS (ib_async throttles to 45) and at most 60 historical
data requests in any 10 minutes."""


def _capabilities(operations: dict[Capability, Support]) -> CapabilitySet:
    return CapabilitySet(
        operations=operations,
        order_types=(OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT),
        time_in_force=(TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.OPG),
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF),
        bar_intervals=(
            BarInterval.MIN_1,
            BarInterval.MIN_5,
            BarInterval.MIN_15,
            BarInterval.MIN_30,
            BarInterval.HOUR_1,
            BarInterval.DAY,
            BarInterval.WEEK,
            BarInterval.MONTH,
        ),
        fractional=False,
        extended_hours=True,
        max_symbols_per_request=50,
    )


_UNION = {**TRANSPORT_CAPABILITIES["tws"], **TRANSPORT_CAPABILITIES["web"]}

_FLEX_TOKEN = CredentialField(name="flex_token", required=False, env_var="IB_FLEX_TOKEN")
"""The Flex Web Service token (Client Portal: Reports > Flex Queries > Flex Web Service), for the
account's cash transactions and corporate actions over either transport."""

SPEC = ConnectorSpec(
    name="interactive_brokers",
    display_name="Interactive Brokers",
    kinds=(ConnectorKind.BROKERAGE, ConnectorKind.MARKET_DATA),
    description=(
        "Interactive Brokers through TWS / IB Gateway (socket API via ib_async, transport 'tws') or the "
        "Client Portal Gateway (REST + WebSocket, transport 'web'). get_snapshots is web only."
    ),
    docs_url="https://www.interactivebrokers.com/campus/ibkr-api-page/",
    environments=(
        Environment(
            name="paper",
            urls={
                "web": "https://localhost:5000/v1/api",
                "ws": "wss://localhost:5000/v1/api/ws",
                "tws": "tcp://127.0.0.1:7497",
                "flex": "https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService",
            },
            description="Paper trading: TWS paper port 7497 or a Client Portal Gateway logged in to a paper user",
        ),
        Environment(
            name="live",
            urls={
                "web": "https://localhost:5000/v1/api",
                "ws": "wss://localhost:5000/v1/api/ws",
                "tws": "tcp://127.0.0.1:7496",
                "flex": "https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService",
            },
            live_money=True,
            description="Live trading: TWS live port 7496 or a Client Portal Gateway logged in to a live user",
        ),
    ),
    default_environment="paper",
    auth=(
        AuthSchemeSpec(
            scheme="tws",
            credentials=(
                CredentialField(name="username", required=False, secret=False, env_var="IB_USERNAME"),
                CredentialField(name="password", required=False, env_var="IB_PASSWORD"),
                _FLEX_TOKEN,
            ),
            description=(
                "TWS / IB Gateway holds the login; the API connection identifies itself by client_id only. "
                "username/password are accepted (the plan configures them) but never sent over the API."
            ),
        ),
        AuthSchemeSpec(
            scheme="session",
            credentials=(
                CredentialField(name="username", required=False, secret=False, env_var="IB_USERNAME"),
                CredentialField(name="password", required=False, env_var="IB_PASSWORD"),
                CredentialField(name="totp_seed", required=False, env_var="IB_TOTP_SEED"),
                _FLEX_TOKEN,
            ),
            options={"base_url": "{web}", "tickle_interval": 60.0, "verify": False},
            description=(
                "Client Portal Gateway session, kept by the AuthenticationManager: auth status before use, "
                "/tickle keep-alive, re-authentication (credentials only for gateways that take a login "
                "call). The gateway's certificate is self-signed, hence verify false by default."
            ),
        ),
        AuthSchemeSpec(
            scheme="none",
            credentials=(_FLEX_TOKEN,),
            description=(
                "Client Portal Gateway without the AuthenticationManager: the connector itself checks "
                "auth status, tickles and re-authenticates."
            ),
        ),
    ),
    throttling=RateLimitPolicy(
        windows=(RateWindow(limit=10, period=1),),
        max_wait=30.0,
        retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=10.0),
    ),
    capabilities=_capabilities(_UNION),
    streams=(StreamKind.QUOTES, StreamKind.ORDER_UPDATES),
    feature_flags={
        "market_data": (_C.GET_BARS, _C.GET_LATEST_QUOTES, _C.SUBSCRIBE_QUOTES, _C.GET_SNAPSHOTS),
        "order_execution": (_C.PLACE_ORDER, _C.CANCEL_ORDER, _C.REPLACE_ORDER),
        "position_reporting": (_C.GET_POSITIONS,),
        "account_updates": (_C.GET_ACCOUNT, _C.SUBSCRIBE_ORDER_UPDATES),
    },
    mock=MockSpec(
        app="portico.mocks.interactive_brokers:create_app",
        url_keys={"web": "/v1/api", "ws": "ws:/v1/api/ws", "flex": "/AccountManagement/FlexWebService"},
        protocols=("http", "tws"),
        description="Client Portal Web API (REST + WebSocket) and a TWS socket server on one simulated venue",
    ),
    connection_settings=InteractiveBrokersConnection,
)


def transport_spec(transport: str) -> ConnectorSpec:
    """The manifest as one transport sees it: only that transport's capabilities."""
    if transport not in TRANSPORT_CAPABILITIES:
        raise ValueError(f"unknown transport {transport!r}; use one of {TRANSPORTS}")
    operations = TRANSPORT_CAPABILITIES[transport]
    flags = {flag: tuple(c for c in caps if c in operations) for flag, caps in SPEC.feature_flags.items()}
    return SPEC.model_copy(
        update={
            "capabilities": _capabilities(operations),
            "feature_flags": {k: v for k, v in flags.items() if v},
        }
    )
