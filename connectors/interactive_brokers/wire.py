"""Client Portal Web API payloads as pydantic models (only the fields the connector reads).

Unknown fields are ignored, because IB adds fields freely; the live orders list and the order status
endpoint spell the same facts differently (``orderId``/``order_id``, ``status``/``order_status``), so
one :class:`WebOrder` reads both.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AuthStatus",
    "OrderQuestion",
    "OrderSubmitted",
    "Tickle",
    "WebAccount",
    "WebBar",
    "WebHistory",
    "WebOrder",
    "WebOrderMessage",
    "WebOrders",
    "WebPosition",
    "WebSecdef",
    "WebSecdefSection",
    "WebTrade",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AuthStatus(_Wire):
    """``POST iserver/auth/status`` (and ``tickle``'s ``iserver.authStatus``)."""

    authenticated: bool = False
    competing: bool = False
    connected: bool = False
    message: str = ""
    fail: str = ""


class _TickleIserver(_Wire):
    auth_status: AuthStatus = Field(default_factory=AuthStatus, validation_alias="authStatus")


class Tickle(_Wire):
    """``POST tickle``: the session id the WebSocket needs, and the brokerage session's status."""

    session: str = ""
    sso_expires: int | None = Field(default=None, validation_alias="ssoExpires")
    collission: bool = False
    user_id: int | None = Field(default=None, validation_alias="userId")
    iserver: _TickleIserver = Field(default_factory=_TickleIserver)


class WebAccount(_Wire):
    """``GET portfolio/accounts`` item."""

    account_id: str = Field(validation_alias=AliasChoices("accountId", "id"))
    currency: str = "USD"
    type: str | None = None


class WebPosition(_Wire):
    """``GET portfolio/{acct}/positions/{page}`` item."""

    acct_id: str | None = Field(default=None, validation_alias="acctId")
    conid: int
    contract_desc: str = Field(default="", validation_alias="contractDesc")
    ticker: str | None = None
    position: float
    mkt_price: float | None = Field(default=None, validation_alias="mktPrice")
    mkt_value: float | None = Field(default=None, validation_alias="mktValue")
    avg_cost: float | None = Field(default=None, validation_alias="avgCost")
    currency: str | None = None
    asset_class: str | None = Field(default=None, validation_alias="assetClass")
    unrealized_pnl: float | None = Field(default=None, validation_alias="unrealizedPnl")


class WebOrder(_Wire):
    """A live order (``iserver/account/orders``), an order status, or an ``sor`` stream item."""

    order_id: int | str = Field(validation_alias=AliasChoices("orderId", "order_id"))
    acct: str | None = Field(default=None, validation_alias=AliasChoices("acct", "account"))
    conid: int | None = None
    ticker: str | None = Field(default=None, validation_alias=AliasChoices("ticker", "symbol"))
    side: str = "BUY"
    order_type: str = Field(
        default="MKT", validation_alias=AliasChoices("origOrderType", "order_type", "orderType")
    )
    status: str = Field(default="PreSubmitted", validation_alias=AliasChoices("status", "order_status"))
    filled_quantity: float | str | None = Field(
        default=None, validation_alias=AliasChoices("filledQuantity", "cum_fill")
    )
    remaining_quantity: float | str | None = Field(default=None, validation_alias="remainingQuantity")
    total_size: float | str | None = Field(
        default=None, validation_alias=AliasChoices("totalSize", "total_size")
    )
    price: float | str | None = Field(default=None, validation_alias=AliasChoices("price", "limit_price"))
    aux_price: float | str | None = Field(
        default=None, validation_alias=AliasChoices("auxPrice", "stop_price")
    )
    avg_price: float | str | None = Field(
        default=None, validation_alias=AliasChoices("avgPrice", "average_price")
    )
    time_in_force: str | None = Field(default=None, validation_alias=AliasChoices("timeInForce", "tif"))
    order_ref: str | None = Field(
        default=None, validation_alias=AliasChoices("order_ref", "orderRef", "cOID")
    )
    last_execution_time_r: int | None = Field(default=None, validation_alias="lastExecutionTime_r")
    reject_reason: str | None = Field(
        default=None, validation_alias=AliasChoices("rejectReason", "reject_reason")
    )

    @field_validator("order_type", "status", "side", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if value is not None else value


class WebOrders(_Wire):
    """``GET iserver/account/orders``: ``{"orders": [...], "snapshot": true}``."""

    orders: list[WebOrder] = Field(default_factory=list)
    snapshot: bool = True


class OrderQuestion(_Wire):
    """A confirmation the venue asks for before it accepts an order (answer with ``iserver/reply/{id}``)."""

    id: str
    message: list[str] = Field(default_factory=list)
    message_ids: list[str] = Field(default_factory=list, validation_alias="messageIds")
    is_suppressed: bool = Field(default=False, validation_alias="isSuppressed")


class OrderSubmitted(_Wire):
    """An accepted order: ``{"order_id": "...", "order_status": "Submitted", "encrypt_message": "1"}``."""

    order_id: str
    order_status: str = "PreSubmitted"
    local_order_id: str | None = None

    @field_validator("order_id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> str:
        return str(value)


class WebTrade(_Wire):
    """``GET iserver/account/trades`` item: one execution."""

    execution_id: str
    symbol: str
    side: str
    size: float | str
    price: float | str
    trade_time_r: int | None = None
    order_ref: str | None = None
    order_id: int | str | None = None
    exchange: str | None = None
    commission: float | str | None = None
    account: str | None = None
    conid: int | str | None = None


class WebSecdefSection(_Wire):
    sec_type: str = Field(default="", validation_alias="secType")


class WebSecdef(_Wire):
    """``GET iserver/secdef/search`` item."""

    conid: int | str
    symbol: str
    company_name: str | None = Field(default=None, validation_alias="companyName")
    description: str | None = None
    sections: list[WebSecdefSection] = Field(default_factory=list)


class WebBar(_Wire):
    """One history bar: ``t`` epoch milliseconds, ``o h l c v``."""

    t: int
    o: float
    h: float
    l: float  # noqa: E741 (IB's field name)
    c: float
    v: float = 0


class WebHistory(_Wire):
    """``GET iserver/marketdata/history``."""

    symbol: str | None = None
    data: list[WebBar] = Field(default_factory=list)


class WebOrderMessage(_Wire):
    """An ``sor`` WebSocket message: ``{"topic": "sor", "args": [orders...]}``."""

    topic: str
    args: list[WebOrder] = Field(default_factory=list)
