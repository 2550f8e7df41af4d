"""Trading services: durable order routing, order tracking, reconciliation and multi-broker allocation."""

from __future__ import annotations

from portico.trading._allocation import (
    Allocator,
    AvailableCapacity,
    BestQuote,
    ChildPlan,
    FixedWeights,
    ParentOrderState,
    SplitPolicy,
    split_pro_rata,
)
from portico.trading._block_allocation import AccountAllocation, BlockAllocation, allocate_block
from portico.trading._book import BookCash, BookPosition, FileBook, PositionBook, StoreBook
from portico.trading._config import ReconciliationSchedule, RiskConfig, TradingConfig
from portico.trading._confirmations import TradeConfirmation
from portico.trading._corporate_actions import CorporateActionOutcome, CorporateActionProcessor
from portico.trading._errors import (
    IdempotencyConflict,
    OrderRejected,
    OrderValidationError,
    RecoveryIncomplete,
    RiskCheckFailed,
)
from portico.trading._events import OrderEventBus
from portico.trading._export import TRADING_EXPORT_TYPES, trading_export_columns, trading_export_rows
from portico.trading._live import LIVE_TRADING_ENV, check_live_trading
from portico.trading._reconcile import (
    Break,
    BreakKind,
    DailyReconciliationJob,
    Reconciler,
    ReconciliationReport,
    Tolerance,
)
from portico.trading._records import HistoryEntry, OrderRecord, OrderUpdate
from portico.trading._replace import OrderChanges, OrderNotReplaceable
from portico.trading._risk import (
    MaxOrderValue,
    MaxPositionConcentration,
    RestrictedList,
    RiskCheck,
    RiskContext,
    builtin_risk_checks,
)
from portico.trading._service import RecoveryReport, TradingService
from portico.trading._tracking import Observation, Transition, advance
from portico.trading._xref import InstrumentXref, XrefEntry

__all__ = [
    "LIVE_TRADING_ENV",
    "TRADING_EXPORT_TYPES",
    "AccountAllocation",
    "Allocator",
    "AvailableCapacity",
    "BestQuote",
    "BlockAllocation",
    "BookCash",
    "BookPosition",
    "Break",
    "BreakKind",
    "ChildPlan",
    "CorporateActionOutcome",
    "CorporateActionProcessor",
    "DailyReconciliationJob",
    "FileBook",
    "FixedWeights",
    "HistoryEntry",
    "IdempotencyConflict",
    "InstrumentXref",
    "MaxOrderValue",
    "MaxPositionConcentration",
    "Observation",
    "OrderChanges",
    "OrderEventBus",
    "OrderNotReplaceable",
    "OrderRecord",
    "OrderRejected",
    "OrderUpdate",
    "OrderValidationError",
    "ParentOrderState",
    "PositionBook",
    "Reconciler",
    "ReconciliationReport",
    "ReconciliationSchedule",
    "RecoveryIncomplete",
    "RecoveryReport",
    "RestrictedList",
    "RiskCheck",
    "RiskCheckFailed",
    "RiskConfig",
    "RiskContext",
    "SplitPolicy",
    "StoreBook",
    "Tolerance",
    "TradeConfirmation",
    "TradingConfig",
    "TradingService",
    "Transition",
    "XrefEntry",
    "advance",
    "allocate_block",
    "builtin_risk_checks",
    "check_live_trading",
    "split_pro_rata",
    "trading_export_columns",
    "trading_export_rows",
]
