"""What ``portico.trading`` exports is pinned: changing the public surface is a deliberate act."""

from __future__ import annotations

import portico.trading

EXPECTED = {
    # the service and its records
    "TradingService",
    "TradingConfig",
    "RiskConfig",
    "OrderRecord",
    "OrderUpdate",
    "HistoryEntry",
    "RecoveryReport",
    "OrderEventBus",
    "TradeConfirmation",
    # corporate actions applied to the book
    "CorporateActionProcessor",
    "CorporateActionOutcome",
    # the live-money guard
    "LIVE_TRADING_ENV",
    "check_live_trading",
    # errors
    "IdempotencyConflict",
    "OrderRejected",
    "OrderValidationError",
    "OrderChanges",
    "OrderNotReplaceable",
    "RecoveryIncomplete",
    "RiskCheckFailed",
    # tracking rules
    "Observation",
    "Transition",
    "advance",
    # risk checks
    "RiskCheck",
    "RiskContext",
    "MaxOrderValue",
    "MaxPositionConcentration",
    "RestrictedList",
    "builtin_risk_checks",
    # reconciliation
    "Reconciler",
    "ReconciliationReport",
    "Break",
    "BreakKind",
    "Tolerance",
    "DailyReconciliationJob",
    "ReconciliationSchedule",
    "PositionBook",
    "BookPosition",
    "BookCash",
    "StoreBook",
    "FileBook",
    "InstrumentXref",
    "XrefEntry",
    # the trading tables as export rows (the jobs exporter)
    "TRADING_EXPORT_TYPES",
    "trading_export_columns",
    "trading_export_rows",
    # allocation
    "Allocator",
    "SplitPolicy",
    "ChildPlan",
    "FixedWeights",
    "BestQuote",
    "AvailableCapacity",
    "ParentOrderState",
    "allocate_block",
    "BlockAllocation",
    "AccountAllocation",
    "split_pro_rata",
}


def test_public_surface_is_pinned() -> None:
    assert set(portico.trading.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(portico.trading, name) is not None
