"""The Alpaca connector's manifest."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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

__all__ = ["SPEC", "AlpacaConnection"]


class AlpacaConnection(ConnectionSettings):
    """``connection`` of an Alpaca system."""

    feed: Literal["iex", "sip", "delayed_sip", "boats", "overnight"] = Field(
        default="iex", description="market data feed: iex (free plans) or sip (paid); also delayed_sip, boats, overnight"
    )
    backfill_limit: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="orders read by REST to back-fill order events missed while the stream was down",
    )

_S = Support.SUPPORTED

SPEC = ConnectorSpec(
    name="alpaca",
    display_name="Alpaca",
    kinds=(ConnectorKind.BROKERAGE, ConnectorKind.MARKET_DATA),
    description="Alpaca Trading API v2 (US equities, paper and live) and Market Data API v2 (stocks).",
    docs_url="https://docs.alpaca.markets/",
    environments=(
        Environment(
            name="paper",
            urls={
                "trading": "https://paper-api.alpaca.markets",
                "data": "https://data.alpaca.markets",
                "stream": "wss://paper-api.alpaca.markets/stream",
                "data_stream": "wss://stream.data.alpaca.markets/v2",
                "news_stream": "wss://stream.data.alpaca.markets/v1beta1/news",
            },
            description="Paper trading: simulated fills, separate keys from live.",
        ),
        Environment(
            name="live",
            urls={
                "trading": "https://api.alpaca.markets",
                "data": "https://data.alpaca.markets",
                "stream": "wss://api.alpaca.markets/stream",
                "data_stream": "wss://stream.data.alpaca.markets/v2",
                "news_stream": "wss://stream.data.alpaca.markets/v1beta1/news",
            },
            live_money=True,
            description="Live trading with real money.",
        ),
    ),
    default_environment="paper",
    auth=(
        AuthSchemeSpec(
            scheme="api_key_pair",
            credentials=(
                CredentialField(name="api_key_id", secret=True, description="API key id", env_var="ALPACA_API_KEY_ID"),
                CredentialField(
                    name="api_secret_key", secret=True, description="API secret key", env_var="ALPACA_API_SECRET_KEY"
                ),
            ),
            options={"key_header": "APCA-API-KEY-ID", "secret_header": "APCA-API-SECRET-KEY"},
            description="Key pair sent as APCA-API-KEY-ID / APCA-API-SECRET-KEY headers.",
        ),
        AuthSchemeSpec(
            scheme="api_key",
            credentials=(
                CredentialField(name="token", secret=True, description="OAuth access token", env_var="ALPACA_OAUTH_TOKEN"),
            ),
            options={"header": "Authorization", "prefix": "Bearer "},
            description="An OAuth access token (from Alpaca's OAuth flow) sent as a bearer token.",
        ),
    ),
    throttling=RateLimitPolicy(
        windows=(RateWindow(limit=200, period=60),),
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
            Capability.GET_ORDER: _S,
            Capability.GET_ORDER_BY_CLIENT_ID: _S,
            Capability.LIST_ORDERS: _S,
            Capability.GET_EXECUTIONS: _S,
            Capability.GET_CASH_MOVEMENTS: _S,
            Capability.GET_CORPORATE_ACTIONS: _S,
            Capability.GET_NEWS: _S,
            Capability.GET_BARS: _S,
            Capability.GET_QUOTES: _S,
            Capability.GET_TRADES: _S,
            Capability.GET_LATEST_QUOTES: _S,
            Capability.GET_LATEST_TRADES: _S,
            Capability.GET_SNAPSHOTS: _S,
            Capability.SEARCH_INSTRUMENTS: Support.EMULATED,
            Capability.SUBSCRIBE_QUOTES: _S,
            Capability.SUBSCRIBE_TRADES: _S,
            Capability.SUBSCRIBE_BARS: _S,
            Capability.SUBSCRIBE_NEWS: _S,
            Capability.SUBSCRIBE_ORDER_UPDATES: _S,
        },
        order_types=(OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP),
        time_in_force=(TimeInForce.DAY, TimeInForce.GTC, TimeInForce.OPG, TimeInForce.CLS, TimeInForce.IOC, TimeInForce.FOK),
        # US stocks and ETFs; Alpaca's crypto and options APIs are not covered by this connector yet
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
        fractional=True,
        notional_orders=True,
        extended_hours=True,
        max_symbols_per_request=100,
    ),
    streams=(StreamKind.QUOTES, StreamKind.TRADES, StreamKind.BARS, StreamKind.NEWS, StreamKind.ORDER_UPDATES),
    feature_flags={
        "market_data": (
            Capability.GET_BARS,
            Capability.GET_QUOTES,
            Capability.GET_TRADES,
            Capability.GET_LATEST_QUOTES,
            Capability.GET_LATEST_TRADES,
            Capability.GET_SNAPSHOTS,
            Capability.SUBSCRIBE_QUOTES,
            Capability.SUBSCRIBE_TRADES,
            Capability.SUBSCRIBE_BARS,
        ),
        "order_execution": (Capability.PLACE_ORDER, Capability.CANCEL_ORDER, Capability.REPLACE_ORDER),
        "position_reporting": (Capability.GET_POSITIONS,),
        "account_updates": (Capability.GET_ACCOUNT, Capability.SUBSCRIBE_ORDER_UPDATES),
    },
    mock=MockSpec(
        app="portico.mocks.alpaca:create_app",
        url_keys={"trading": "", "data": "", "stream": "/stream", "data_stream": "/v2", "news_stream": "/v1beta1/news"},
        description="Trading API v2, Market Data v2 and both streams over a simulated venue.",
        protocols=("http", "ws"),
    ),
    connection_settings=AlpacaConnection,
)
