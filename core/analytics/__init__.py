"""Portfolio analytics: performance (time- and money-weighted returns, benchmarks, active return),
RiskMetrics-method risk (EWMA, VaR, expected shortfall, scenarios), risk limits, and the exports
analytics platforms read (PerformanceAnalytics / PortfolioAnalytics, FactorAnalytics, RiskMetrics-style)."""

from portico.analytics._returns import (
    DailyReturn,
    FlowTiming,
    active_return,
    annualize,
    blend_returns,
    link,
    modified_dietz,
    money_weighted_return,
    returns_from_prices,
    time_weighted_returns,
)
from portico.analytics._risk import (
    DAILY_LAMBDA,
    MONTHLY_LAMBDA,
    EwmaEstimate,
    RiskFigures,
    ewma,
    historical_var,
    parametric_var,
    scenario_pnl,
)

__all__ = [
    "DAILY_LAMBDA",
    "MONTHLY_LAMBDA",
    "DailyReturn",
    "EwmaEstimate",
    "FlowTiming",
    "RiskFigures",
    "active_return",
    "annualize",
    "blend_returns",
    "ewma",
    "historical_var",
    "link",
    "modified_dietz",
    "money_weighted_return",
    "parametric_var",
    "returns_from_prices",
    "scenario_pnl",
    "time_weighted_returns",
]
