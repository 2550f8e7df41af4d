"""What the analytics service answers with: an account's daily valuations, its performance over a
period, and the risk of its current book, each with a plain-value ``to_dict`` for JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from portico.analytics._returns import FlowTiming
from portico.analytics._risk import RiskFigures

__all__ = ["PerformanceReport", "RiskReport", "Valuation"]


@dataclass(frozen=True)
class Valuation:
    """An account's value at the end of a day, in its base currency, and that day's return."""

    day: date
    value: Decimal
    flow: Decimal
    daily_return: Decimal | None
    positions: Mapping[str, Decimal] = field(default_factory=dict)
    """Market value per symbol (base currency); cash is ``value`` minus their sum."""


@dataclass(frozen=True)
class PerformanceReport:
    """Performance of one account over a period.

    ``time_weighted_return`` links the daily returns (flows at the start or end of day, as
    ``flow_timing`` says); ``money_weighted_return`` is the period's IRR as an annual rate;
    ``benchmark_return`` and ``active_return`` are present when a benchmark was named.
    """

    account: str
    system: str
    base_currency: str
    start: date
    end: date
    flow_timing: FlowTiming
    valuations: tuple[Valuation, ...]
    time_weighted_return: Decimal
    annualized_return: Decimal
    money_weighted_return: Decimal | None
    modified_dietz_return: Decimal | None
    benchmark: str | None = None
    benchmark_return: Decimal | None = None
    active_return: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain values (decimals as strings) for JSON."""
        return {
            "account": self.account,
            "system": self.system,
            "base_currency": self.base_currency,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "flow_timing": self.flow_timing,
            "time_weighted_return": str(self.time_weighted_return),
            "annualized_return": str(self.annualized_return),
            "money_weighted_return": _text(self.money_weighted_return),
            "modified_dietz_return": _text(self.modified_dietz_return),
            "benchmark": self.benchmark,
            "benchmark_return": _text(self.benchmark_return),
            "active_return": _text(self.active_return),
            "valuations": [
                {
                    "date": v.day.isoformat(),
                    "value": str(v.value),
                    "flow": str(v.flow),
                    "return": _text(v.daily_return),
                }
                for v in self.valuations
            ],
        }


@dataclass(frozen=True)
class RiskReport:
    """Risk of one account's current book (market values in its base currency)."""

    account: str
    system: str
    as_of: date
    base_currency: str
    positions: Mapping[str, Decimal]
    cash: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    currency_exposure: Mapping[str, Decimal]
    volatility: Mapping[str, float]
    parametric: RiskFigures | None
    historical: RiskFigures | None
    scenario: str | None = None
    scenario_pnl: Mapping[str, Decimal] | None = None
    factor: RiskFigures | None = None
    """Delta-normal VaR under an imported factor model (``factor_model=``), when asked for."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""

        def figures(f: RiskFigures | None) -> dict[str, Any] | None:
            if f is None:
                return None
            return {
                "confidence": f.confidence,
                "horizon_days": f.horizon_days,
                "var": round(f.var, 2),
                "expected_shortfall": round(f.expected_shortfall, 2),
                "observations": f.observations,
            }

        return {
            "account": self.account,
            "system": self.system,
            "as_of": self.as_of.isoformat(),
            "base_currency": self.base_currency,
            "positions": {k: str(v) for k, v in self.positions.items()},
            "cash": str(self.cash),
            "gross_exposure": str(self.gross_exposure),
            "net_exposure": str(self.net_exposure),
            "currency_exposure": {k: str(v) for k, v in self.currency_exposure.items()},
            "volatility": {k: round(v, 8) for k, v in self.volatility.items()},
            "parametric": figures(self.parametric),
            "historical": figures(self.historical),
            "factor": figures(self.factor),
            "scenario": self.scenario,
            "scenario_pnl": None
            if self.scenario_pnl is None
            else {k: str(v) for k, v in self.scenario_pnl.items()},
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
