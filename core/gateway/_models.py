"""The API's request and answer models (pydantic): what the OpenAPI document describes.

Request models forbid unknown fields, so a client cannot set what only the server sets (an order's
status, a token's owner): mass assignment is refused with the field named.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from portico.gateway._config import GrantConfig
from portico.models import OrderRequest, OrderSide, OrderType, TimeInForce

__all__ = [
    "CancelAnswer",
    "JobRun",
    "LoginIn",
    "LoginOut",
    "OrderIn",
    "OrderOut",
    "OrderPage",
    "ReplaceAnswer",
    "ReplaceIn",
    "TokenIn",
    "TokenOut",
]

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@\-]+$")]
Symbol = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9.\-/^=]+$")]
PositiveDecimal = Annotated[Decimal, Field(gt=0, lt=Decimal("1e12"), max_digits=24, decimal_places=10)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class LoginOut(BaseModel):
    user: str
    expires_at: float
    csrf_token: str = Field(description="Send as X-CSRF-Token on writes made with the session cookie.")


class Me(BaseModel):
    user: str
    groups: list[str]
    grants: list[GrantConfig]
    via: Literal["session", "token"]
    scopes: list[GrantConfig] | None = None


class TokenIn(_In):
    name: Name
    scopes: list[GrantConfig] = Field(min_length=1, max_length=50)
    expires_in_days: int = Field(default=90, ge=1, le=365)


class TokenOut(BaseModel):
    id: str
    name: str
    user: str
    scopes: list[GrantConfig]
    created_at: float
    expires_at: float
    revoked: bool
    token: str | None = Field(default=None, description="The token itself: shown once, at creation.")


class OrderIn(_In):
    """An order to place. The server sets everything else (ids, status, fills)."""

    symbol: Symbol
    side: OrderSide
    quantity: PositiveDecimal | None = None
    notional: PositiveDecimal | None = None
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    account_id: Name | None = None
    extended_hours: bool = False

    def to_request(self) -> OrderRequest:
        """The canonical order request."""
        return OrderRequest.model_validate(self.model_dump(exclude_none=True))


class OrderOut(BaseModel):
    id: str
    system: str
    client_order_id: str
    venue_order_id: str | None
    account_id: str | None
    symbol: str
    side: str
    order_type: str
    time_in_force: str
    quantity: str | None
    notional: str | None
    limit_price: str | None
    status: str
    filled_quantity: str
    average_fill_price: str | None
    reject_reason: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, record: Any) -> OrderOut:
        """The answer for a stored order record."""
        data = record.to_dict()
        return cls.model_validate({k: data.get(k) for k in cls.model_fields})


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null on the last.")


class CancelAnswer(BaseModel):
    order: OrderOut


class ReplaceIn(_In):
    """What a replace changes: at least one field, each the order's new value."""

    quantity: PositiveDecimal | None = None
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    time_in_force: TimeInForce | None = None

    @model_validator(mode="after")
    def _something(self) -> ReplaceIn:
        if not self.model_dump(exclude_none=True):
            raise ValueError("name at least one of quantity, limit_price, stop_price, time_in_force")
        return self

    def changes(self) -> dict[str, Any]:
        """The changes for :meth:`portico.runtime.AsyncIntegration.replace_external_order`."""
        return self.model_dump(exclude_none=True)

    def canonical(self) -> dict[str, str]:
        """The changes as normalised text: ``1.1`` and ``"1.10"`` are the same request."""
        return {
            k: v.value if isinstance(v, TimeInForce) else format(v.normalize(), "f")
            for k, v in self.changes().items()
        }


class ReplaceAnswer(BaseModel):
    order: OrderOut = Field(description="The replacement: the order that now stands.")
    replaced: OrderOut = Field(description="The original order (``replaced`` once the venue confirmed).")


class SystemOut(BaseModel):
    system_id: str
    connector: str
    kinds: list[str]
    enabled: bool
    state: str
    environment: str
    mock: bool
    capabilities: list[str]
    breaker_state: str | None = None
    last_error: str | None = None


class MarketDataOut(BaseModel):
    system: str
    data_type: str
    data: dict[str, Any]
    providers: dict[str, str]
    errors: dict[str, str]


class JobRun(BaseModel):
    ticket: str
    job_id: str
    status: Literal["running", "succeeded", "failed"]
    status_url: str
    result: dict[str, Any] | None = None
    error: str | None = None


class ReplayIn(_In):
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(min_length=1, max_length=1000)


class ReconcileIn(_In):
    systems: list[Name] | None = Field(default=None, max_length=50)


class CredentialIn(_In):
    value: Annotated[str, StringConstraints(min_length=1, max_length=8192)]


class HistoryQuery(_In):
    start: date | None = None
    end: date | None = None
