"""Canonical models: what every connector returns and accepts, whatever the vendor's wire format.

Money and quantities are Decimal, timestamps timezone-aware, currencies ISO 4217, countries ISO 3166.
"""

from __future__ import annotations

from portico.models._common import (
    AwareDatetime,
    CanonicalModel,
    CountryCode,
    CurrencyCode,
    Money,
    Quantity,
    utcnow,
)
from portico.models._instrument import AssetClass, Instrument
from portico.models._market import (
    Bar,
    BarInterval,
    CorporateAction,
    CorporateActionStatus,
    CorporateActionType,
    Fundamentals,
    FxRate,
    Quote,
    Snapshot,
    Trade,
)
from portico.models._reference import (
    CashMovement,
    CashMovementType,
    NewsItem,
    SeriesPoint,
    canonical_news_url,
)
from portico.models._trading import (
    TERMINAL_STATUSES,
    Account,
    Execution,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    TimeInForce,
    can_transition,
)

__all__ = [
    "TERMINAL_STATUSES",
    "Account",
    "AssetClass",
    "AwareDatetime",
    "Bar",
    "BarInterval",
    "CanonicalModel",
    "CashMovement",
    "CashMovementType",
    "CorporateAction",
    "CorporateActionStatus",
    "CorporateActionType",
    "CountryCode",
    "CurrencyCode",
    "Execution",
    "Fundamentals",
    "FxRate",
    "Instrument",
    "Money",
    "NewsItem",
    "Order",
    "OrderEvent",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "Quantity",
    "Quote",
    "SeriesPoint",
    "Snapshot",
    "TimeInForce",
    "Trade",
    "can_transition",
    "canonical_news_url",
    "utcnow",
]
