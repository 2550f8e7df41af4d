"""Schwab's JSON as pydantic models (only the fields portico reads; everything else is ignored).

Numbers arrive as JSON floats; they are read as ``Decimal`` through their shortest repr, so ``170.1``
stays ``170.1``. Schwab's timestamps look like ``2024-03-20T14:30:00+0000``; candle and quote times
are epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "WireAccountNumber",
    "WireBalances",
    "WireCandle",
    "WireExecutionLeg",
    "WireInstrument",
    "WireOrder",
    "WireOrderActivity",
    "WireOrderLeg",
    "WirePosition",
    "WirePriceHistory",
    "WireQuote",
    "WireQuoteBlock",
    "WireSearchResult",
    "WireSecuritiesAccount",
    "WireTransaction",
    "WireTransferItem",
    "parse_schwab_time",
]


def _decimal(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def parse_schwab_time(value: Any) -> Any:
    """``2024-03-20T14:30:00+0000`` (or ISO with ``Z``), or epoch milliseconds, as an aware datetime."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        text = value.replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


Num = Annotated[Decimal, BeforeValidator(_decimal)]
Time = Annotated[datetime, BeforeValidator(parse_schwab_time)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class WireAccountNumber(_Wire):
    account_number: str = Field(alias="accountNumber")
    hash_value: str = Field(alias="hashValue")


class WireInstrument(_Wire):
    asset_type: str = Field(default="EQUITY", alias="assetType")
    symbol: str = ""
    cusip: str | None = None
    description: str | None = None
    exchange: str | None = None


class WirePosition(_Wire):
    long_quantity: Num = Field(default=Decimal(0), alias="longQuantity")
    short_quantity: Num = Field(default=Decimal(0), alias="shortQuantity")
    average_price: Num | None = Field(default=None, alias="averagePrice")
    market_value: Num | None = Field(default=None, alias="marketValue")
    long_open_pnl: Num | None = Field(default=None, alias="longOpenProfitLoss")
    short_open_pnl: Num | None = Field(default=None, alias="shortOpenProfitLoss")
    instrument: WireInstrument


class WireBalances(_Wire):
    cash_balance: Num | None = Field(default=None, alias="cashBalance")
    buying_power: Num | None = Field(default=None, alias="buyingPower")
    equity: Num | None = None
    liquidation_value: Num | None = Field(default=None, alias="liquidationValue")
    long_market_value: Num | None = Field(default=None, alias="longMarketValue")
    short_market_value: Num | None = Field(default=None, alias="shortMarketValue")
    maintenance_requirement: Num | None = Field(default=None, alias="maintenanceRequirement")


class WireSecuritiesAccount(_Wire):
    type: str | None = None
    account_number: str = Field(alias="accountNumber")
    is_day_trader: bool | None = Field(default=None, alias="isDayTrader")
    is_closing_only_restricted: bool | None = Field(default=None, alias="isClosingOnlyRestricted")
    positions: list[WirePosition] = Field(default_factory=list)
    current_balances: WireBalances = Field(default_factory=WireBalances, alias="currentBalances")


class WireOrderLeg(_Wire):
    instruction: str
    quantity: Num
    instrument: WireInstrument


class WireExecutionLeg(_Wire):
    leg_id: int | None = Field(default=None, alias="legId")
    quantity: Num
    price: Num
    time: Time


class WireOrderActivity(_Wire):
    activity_type: str | None = Field(default=None, alias="activityType")
    activity_id: int | None = Field(default=None, alias="activityId")
    execution_type: str | None = Field(default=None, alias="executionType")
    quantity: Num | None = None
    execution_legs: list[WireExecutionLeg] = Field(default_factory=list, alias="executionLegs")


class WireOrder(_Wire):
    order_id: int = Field(alias="orderId")
    session: str = "NORMAL"
    duration: str = "DAY"
    order_type: str = Field(alias="orderType")
    order_strategy_type: str = Field(default="SINGLE", alias="orderStrategyType")
    quantity: Num | None = None
    filled_quantity: Num = Field(default=Decimal(0), alias="filledQuantity")
    remaining_quantity: Num | None = Field(default=None, alias="remainingQuantity")
    price: Num | None = None
    stop_price: Num | None = Field(default=None, alias="stopPrice")
    status: str
    status_description: str | None = Field(default=None, alias="statusDescription")
    entered_time: Time | None = Field(default=None, alias="enteredTime")
    close_time: Time | None = Field(default=None, alias="closeTime")
    tag: str | None = None
    account_number: str | int | None = Field(default=None, alias="accountNumber")
    order_leg_collection: list[WireOrderLeg] = Field(default_factory=list, alias="orderLegCollection")
    order_activity_collection: list[WireOrderActivity] = Field(
        default_factory=list, alias="orderActivityCollection"
    )
    replacing_order_collection: list[dict[str, Any]] = Field(
        default_factory=list, alias="replacingOrderCollection"
    )


class WireTransferItem(_Wire):
    instrument: WireInstrument = Field(default_factory=WireInstrument)
    amount: Num = Decimal(0)
    cost: Num = Decimal(0)
    price: Num | None = None
    fee_type: str | None = Field(default=None, alias="feeType")
    position_effect: str | None = Field(default=None, alias="positionEffect")


class WireTransaction(_Wire):
    activity_id: int = Field(alias="activityId")
    time: Time
    type: str
    status: str | None = None
    account_number: str | None = Field(default=None, alias="accountNumber")
    order_id: int | None = Field(default=None, alias="orderId")
    net_amount: Num | None = Field(default=None, alias="netAmount")
    transfer_items: list[WireTransferItem] = Field(default_factory=list, alias="transferItems")


class WireQuote(_Wire):
    bid_price: Num | None = Field(default=None, alias="bidPrice")
    bid_size: Num | None = Field(default=None, alias="bidSize")
    ask_price: Num | None = Field(default=None, alias="askPrice")
    ask_size: Num | None = Field(default=None, alias="askSize")
    last_price: Num | None = Field(default=None, alias="lastPrice")
    close_price: Num | None = Field(default=None, alias="closePrice")
    net_change: Num | None = Field(default=None, alias="netChange")
    net_percent_change: Num | None = Field(default=None, alias="netPercentChange")
    total_volume: Num | None = Field(default=None, alias="totalVolume")
    quote_time: Time | None = Field(default=None, alias="quoteTime")
    trade_time: Time | None = Field(default=None, alias="tradeTime")


class WireQuoteBlock(_Wire):
    symbol: str
    asset_main_type: str | None = Field(default=None, alias="assetMainType")
    quote: WireQuote


class WireCandle(_Wire):
    open: Num
    high: Num
    low: Num
    close: Num
    volume: Num = Decimal(0)
    datetime: Time


class WirePriceHistory(_Wire):
    symbol: str
    empty: bool = False
    candles: list[WireCandle] = Field(default_factory=list)


class WireSearchResult(_Wire):
    instruments: list[WireInstrument] = Field(default_factory=list)
