"""The FIX 4.4 connector's manifest and ``connection`` settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field

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

__all__ = ["SPEC", "FixConnection"]


class FixConnection(ConnectionSettings):
    """``connection`` of a FIX 4.4 system: the session's identity, schedule and timers."""

    host: str | None = Field(
        default=None,
        min_length=1,
        description="the counterparty's FIX host (default: the environment's fix URL)",
    )
    port: int | None = Field(default=None, ge=1, le=65535, description="the counterparty's FIX port")
    sender_comp_id: str = Field(default="PORTICO", min_length=1, description="SenderCompID (49) of this side")
    target_comp_id: str = Field(
        default="VENUE", min_length=1, description="TargetCompID (56) of the counterparty"
    )
    account: str | None = Field(default=None, min_length=1, description="Account (1) sent on every order")
    heartbeat_interval: int = Field(default=30, ge=1, le=3600, description="HeartBtInt (108) in seconds")
    reconnect_interval: int = Field(
        default=5,
        ge=1,
        le=3600,
        description="seconds before the second connection attempt; each later pause doubles",
    )
    reconnect_max_interval: int = Field(
        default=60, ge=1, le=3600, description="the longest pause between connection attempts"
    )
    logon_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for the Logon answer")
    ack_timeout: float = Field(
        default=5.0,
        gt=0,
        description="seconds to wait for an order's first ExecutionReport before resolving by OrderStatusRequest",
    )
    start_time: str = Field(
        default="00:00:00", pattern=r"^\d\d:\d\d:\d\d$", description="session StartTime (HH:MM:SS)"
    )
    end_time: str = Field(
        default="00:00:00",
        pattern=r"^\d\d:\d\d:\d\d$",
        description="session EndTime (HH:MM:SS; equal to start: a 24h session)",
    )
    time_zone: str = Field(
        default="UTC", min_length=1, description="TimeZone of start_time/end_time (an IANA name)"
    )
    reset_on_logon: bool = Field(
        default=False,
        description="send ResetSeqNumFlag (141=Y) on every Logon (counterparties that reset daily)",
    )
    drop_copy_comp_id: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "SenderCompID of a second, listen-only drop-copy session on the same counterparty: its execution"
            " reports of orders placed elsewhere are adopted into tracking (none: no drop copy)"
        ),
    )
    data_dictionary: str | None = Field(
        default=None,
        description="path of the FIX44.xml data dictionary (default: see portico.connectors.fix.dictionary)",
    )

    def endpoints(self, urls: dict[str, str]) -> dict[str, str]:
        out = super().endpoints(urls)
        if self.host or self.port:
            default_port = urlsplit(urls.get("fix") or "tcp://127.0.0.1:9878").port or 9878
            out["fix"] = f"tcp://{self.host or '127.0.0.1'}:{self.port or default_port}"
        return out


_S = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="fix",
    display_name="FIX 4.4",
    kinds=(ConnectorKind.BROKERAGE,),
    description="Any FIX 4.4 counterparty: order routing over a QuickFIX initiator session (extra portico[fix]).",
    docs_url="https://www.fixtrading.org/standards/fix-4-4/",
    environments=(
        Environment(
            name="uat",
            urls={"fix": "tcp://127.0.0.1:9878"},
            description="The counterparty's test (UAT) session.",
        ),
        Environment(
            name="production",
            urls={"fix": "tcp://127.0.0.1:9878"},
            live_money=True,
            description="The counterparty's production session: set connection.host and port.",
        ),
    ),
    default_environment="uat",
    auth=(
        AuthSchemeSpec(
            scheme="fix_logon",
            credentials=(
                CredentialField(
                    name="username",
                    secret=True,
                    description="Username (553) sent on Logon",
                    env_var="FIX_USERNAME",
                ),
                CredentialField(
                    name="password",
                    secret=True,
                    description="Password (554) sent on Logon",
                    env_var="FIX_PASSWORD",
                ),
            ),
            description="Username and password carried in the Logon (A) message.",
        ),
    ),
    throttling=RateLimitPolicy(
        windows=(RateWindow(limit=100, period=1),),
        max_wait=10.0,
        retry=RetryPolicy(attempts=1, base_delay=0.5, max_delay=5.0, max_retry_after=10.0),
    ),
    capabilities=CapabilitySet(
        operations={
            Capability.PLACE_ORDER: _S,
            Capability.CANCEL_ORDER: _S,
            Capability.REPLACE_ORDER: _S,
            Capability.GET_ORDER_BY_CLIENT_ID: _S,
            Capability.GET_POSITIONS: _S,
            Capability.SUBSCRIBE_ORDER_UPDATES: _S,
        },
        order_types=(OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT),
        time_in_force=(TimeInForce.DAY, TimeInForce.GTC, TimeInForce.OPG, TimeInForce.IOC, TimeInForce.FOK),
        asset_classes=(AssetClass.EQUITY, AssetClass.ETF),
    ),
    streams=(StreamKind.ORDER_UPDATES,),
    feature_flags={
        "order_execution": (Capability.PLACE_ORDER, Capability.CANCEL_ORDER, Capability.REPLACE_ORDER),
        "account_updates": (Capability.SUBSCRIBE_ORDER_UPDATES,),
    },
    mock=MockSpec(
        app="portico.mocks.fix:create_app",
        url_keys={"admin": ""},
        description="A FIX 4.4 acceptor (QuickFIX) over the simulated venue, with session fault injection.",
        protocols=("http", "fix"),
    ),
    connection_settings=FixConnection,
)
