"""E*TRADE's wire models: the JSON envelopes of the Accounts, Market and Order APIs, parsed with
Decimal numbers. Unknown fields are ignored so a new field from E*TRADE never breaks parsing; a
single element where E*TRADE usually sends a list is accepted too."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "WireAccount",
    "WireBalance",
    "WireInstrument",
    "WireOrder",
    "WireOrderDetail",
    "WirePlaceResponse",
    "WirePosition",
    "WirePreviewResponse",
    "WireProduct",
    "WireQuote",
    "WireTransaction",
    "as_list",
]


def as_list(value: Any) -> list[Any]:
    """One element or many as a list (E*TRADE sends a lone object where it usually sends a list)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class WireProduct(_Wire):
    symbol: str
    security_type: str = Field(default="EQ", alias="securityType")


class WireAccount(_Wire):
    """``AccountListResponse.Accounts.Account[]``."""

    account_id: str = Field(alias="accountId")
    account_id_key: str = Field(alias="accountIdKey")
    account_mode: str | None = Field(default=None, alias="accountMode")
    account_desc: str | None = Field(default=None, alias="accountDesc")
    account_type: str | None = Field(default=None, alias="accountType")
    institution_type: str | None = Field(default=None, alias="institutionType")
    account_status: str | None = Field(default=None, alias="accountStatus")

    @field_validator("account_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class WireRealTimeValues(_Wire):
    total_account_value: Decimal | None = Field(default=None, alias="totalAccountValue")
    net_mv_long: Decimal | None = Field(default=None, alias="netMvLong")
    net_mv_short: Decimal | None = Field(default=None, alias="netMvShort")


class WireComputed(_Wire):
    cash_balance: Decimal | None = Field(default=None, alias="cashBalance")
    cash_available_for_investment: Decimal | None = Field(default=None, alias="cashAvailableForInvestment")
    margin_buying_power: Decimal | None = Field(default=None, alias="marginBuyingPower")
    cash_buying_power: Decimal | None = Field(default=None, alias="cashBuyingPower")
    real_time_values: WireRealTimeValues | None = Field(default=None, alias="RealTimeValues")


class WireBalance(_Wire):
    """``BalanceResponse``."""

    account_id: str = Field(alias="accountId")
    account_mode: str | None = Field(default=None, alias="accountMode")
    day_trader_status: str | None = Field(default=None, alias="dayTraderStatus")
    computed: WireComputed = Field(alias="Computed")

    @field_validator("account_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class WireQuick(_Wire):
    last_trade: Decimal | None = Field(default=None, alias="lastTrade")


class WirePosition(_Wire):
    """``PortfolioResponse.AccountPortfolio[].Position[]``."""

    product: WireProduct = Field(alias="Product")
    quantity: Decimal
    position_type: str = Field(default="LONG", alias="positionType")
    cost_per_share: Decimal | None = Field(default=None, alias="costPerShare")
    total_cost: Decimal | None = Field(default=None, alias="totalCost")
    market_value: Decimal | None = Field(default=None, alias="marketValue")
    total_gain: Decimal | None = Field(default=None, alias="totalGain")
    quick: WireQuick | None = Field(default=None, alias="Quick")


class WireInstrument(_Wire):
    product: WireProduct = Field(alias="Product")
    order_action: str = Field(alias="orderAction")
    ordered_quantity: Decimal | None = Field(default=None, alias="orderedQuantity")
    quantity: Decimal | None = None
    filled_quantity: Decimal = Field(default=Decimal(0), alias="filledQuantity")
    average_execution_price: Decimal | None = Field(default=None, alias="averageExecutionPrice")


class WireOrderDetail(_Wire):
    status: str = "OPEN"
    order_term: str = Field(alias="orderTerm")
    price_type: str = Field(alias="priceType")
    limit_price: Decimal | None = Field(default=None, alias="limitPrice")
    stop_price: Decimal | None = Field(default=None, alias="stopPrice")
    market_session: str = Field(default="REGULAR", alias="marketSession")
    placed_time: int | None = Field(default=None, alias="placedTime")
    executed_time: int | None = Field(default=None, alias="executedTime")
    instruments: list[WireInstrument] = Field(alias="Instrument")

    @field_validator("instruments", mode="before")
    @classmethod
    def _instruments(cls, value: Any) -> Any:
        return as_list(value)


class WireOrder(_Wire):
    """``OrdersResponse.Order[]``."""

    order_id: int = Field(alias="orderId")
    client_order_id: str | None = Field(default=None, alias="clientOrderId")
    order_type: str = Field(default="EQ", alias="orderType")
    details: list[WireOrderDetail] = Field(alias="OrderDetail")

    @field_validator("details", mode="before")
    @classmethod
    def _details(cls, value: Any) -> Any:
        return as_list(value)

    @field_validator("client_order_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class WirePreviewId(_Wire):
    preview_id: int = Field(alias="previewId")


class WirePreviewResponse(_Wire):
    """``PreviewOrderResponse``."""

    preview_ids: list[WirePreviewId] = Field(alias="PreviewIds", min_length=1)

    @field_validator("preview_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return as_list(value)


class WireOrderId(_Wire):
    order_id: int = Field(alias="orderId")


class WirePlaceResponse(_Wire):
    """``PlaceOrderResponse``."""

    order_ids: list[WireOrderId] = Field(alias="OrderIds", min_length=1)
    placed_time: int | None = Field(default=None, alias="placedTime")

    @field_validator("order_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return as_list(value)


class WireQuoteAll(_Wire):
    ask: Decimal | None = None
    ask_size: Decimal | None = Field(default=None, alias="askSize")
    bid: Decimal | None = None
    bid_size: Decimal | None = Field(default=None, alias="bidSize")
    last_trade: Decimal | None = Field(default=None, alias="lastTrade")
    total_volume: Decimal | None = Field(default=None, alias="totalVolume")
    change_close: Decimal | None = Field(default=None, alias="changeClose")
    change_close_percentage: Decimal | None = Field(default=None, alias="changeClosePercentage")
    previous_close: Decimal | None = Field(default=None, alias="previousClose")


class WireQuote(_Wire):
    """``QuoteResponse.QuoteData[]``."""

    date_time_utc: int = Field(alias="dateTimeUTC")
    quote_status: str | None = Field(default=None, alias="quoteStatus")
    all: WireQuoteAll = Field(alias="All")
    product: WireProduct = Field(alias="Product")


class WireBrokerage(_Wire):
    product: WireProduct | None = Field(default=None, alias="Product")
    quantity: Decimal | None = None
    price: Decimal | None = None
    fee: Decimal | None = None


class WireTransaction(_Wire):
    """``TransactionListResponse.Transaction[]``."""

    transaction_id: int = Field(alias="transactionId")
    transaction_date: int = Field(alias="transactionDate")
    amount: Decimal
    description: str = ""
    transaction_type: str = Field(default="", alias="transactionType")
    brokerage: WireBrokerage | None = Field(default=None, alias="Brokerage")
