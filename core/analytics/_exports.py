"""The tables analytics platforms read, as export sources: performance and risk per account, asset
and factor returns (PerformanceAnalytics / PortfolioAnalytics, FactorAnalytics), attribution inputs
and a RiskMetrics-style position file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from portico.analytics._data import AccountKey, AnalyticsData
from portico.analytics._reports import Valuation

if TYPE_CHECKING:
    from portico.analytics._service import AnalyticsService

__all__ = ["ANALYTICS_EXPORT_TYPES", "AnalyticsExports"]

ANALYTICS_EXPORT_TYPES = (
    "performance",
    "limit_breaches",
    "risk",
    "asset_returns",
    "attribution_inputs",
    "factor_returns",
    "factor_panel",
    "riskmetrics_positions",
)
"""Export types the analytics service contributes (``portico export --type ...``)."""


class AnalyticsExports:
    """The export sources of one :class:`~portico.analytics.AnalyticsService`, computed through it."""

    def __init__(self, service: AnalyticsService) -> None:
        self.service = service

    def sources(self) -> dict[str, Callable[[], Any]]:
        """The export sources of :data:`ANALYTICS_EXPORT_TYPES`, by type."""
        return {
            "performance": self._export_performance,
            "limit_breaches": self.service.check_limits,
            "risk": self._export_risk,
            "asset_returns": self._export_asset_returns,
            "attribution_inputs": self._export_attribution_inputs,
            "factor_returns": self._export_factor_returns,
            "factor_panel": self._export_factor_panel,
            "riskmetrics_positions": self._export_riskmetrics_positions,
        }

    def _span(self, data: AnalyticsData, key: AccountKey) -> tuple[date, date] | None:
        days: set[date] = {d for d, _, _ in data.flows(key)}
        if self.service.repo is not None:
            days |= {
                e.executed_at.date()
                for e in self.service.repo.executions(system=key.system)
                if (e.account_id or "") == key.account_id
            }
        for symbol in data.holdings_by_day(key, [self.service.clock.now().date()])[
            self.service.clock.now().date()
        ].quantities:
            days |= set(data.price_history(symbol))
        if len(days) < 2:
            return None
        return min(days), min(max(days), self.service.clock.now().date())

    def _export_performance(self) -> Iterator[dict[str, Any]]:
        data = self.service._data()
        for key in data.accounts():
            span = self._span(data, key)
            if span is None or span[1] <= span[0]:
                continue
            _, base, vals = self.service._valuations(
                data, key.account_id, span[0], span[1], key.system, None, "start"
            )
            growth = Decimal(1)
            for v in vals:
                if v.daily_return is not None:
                    growth *= 1 + v.daily_return
                yield {
                    "system": key.system,
                    "account": key.account_id,
                    "date": v.day,
                    "base_currency": base,
                    "value": v.value,
                    "flow": v.flow,
                    "daily_return": v.daily_return,
                    "cumulative_return": growth - 1,
                }

    def _export_risk(self) -> Iterator[dict[str, Any]]:
        for key in self.service._data().accounts():
            report = self.service.risk(key.account_id, system=key.system)
            for figures in (report.parametric, report.historical):
                yield {
                    "system": key.system,
                    "account": key.account_id,
                    "as_of": report.as_of,
                    "base_currency": report.base_currency,
                    "method": figures.method if figures else "none (under 21 days of returns)",
                    "confidence": Decimal(str(figures.confidence)) if figures else None,
                    "horizon_days": figures.horizon_days if figures else None,
                    "var": Decimal(f"{figures.var:.2f}") if figures else None,
                    "expected_shortfall": Decimal(f"{figures.expected_shortfall:.2f}") if figures else None,
                    "gross_exposure": report.gross_exposure,
                    "net_exposure": report.net_exposure,
                }
                if figures is None:
                    break

    def _export_asset_returns(self) -> Iterator[dict[str, Any]]:
        """PerformanceAnalytics / PortfolioAnalytics shape: a ``Date`` column and one column of simple
        returns per asset (empty where an asset has no return that day, which R reads as NA)."""
        returns = self.service.asset_returns()
        days = sorted(set().union(*(set(r) for r in returns.values()))) if returns else []
        for day in days:
            yield {"Date": day, **{s: returns[s].get(day) for s in sorted(returns)}}

    def _export_factor_returns(self) -> Iterator[dict[str, Any]]:
        """FactorAnalytics ``fitTsfm`` shape: ``DATE``, asset returns, then factor returns (each imported
        benchmark series is a factor), one row per day where every column has a value."""
        data = self.service._data()
        assets = self.service.asset_returns(data=data)
        factors: dict[str, dict[date, Decimal]] = defaultdict(dict)
        for r in data.records("benchmark_returns"):
            factors[r["benchmark"]][date.fromisoformat(r["date"])] = Decimal(r["simple_return"])
        columns = {**{s: assets[s] for s in sorted(assets)}, **{f: factors[f] for f in sorted(factors)}}
        if not columns:
            return
        for day in sorted(set.intersection(*(set(c) for c in columns.values()))):
            yield {"DATE": day, **{name: series[day] for name, series in columns.items()}}

    def _export_factor_panel(self) -> Iterator[dict[str, Any]]:
        """FactorAnalytics ``fitFfm`` shape: a long panel of ``DATE``, ``TICKER``, ``RETURN`` and one
        column per imported exposure factor (rows where the asset has a return that day)."""
        data = self.service._data()
        assets = self.service.asset_returns(data=data)
        exposures: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(dict)
        factors: set[str] = set()
        for r in data.records("factor_exposures"):
            exposures[(date.fromisoformat(r["date"]), r["symbol"])][r["factor"]] = Decimal(r["exposure"])
            factors.add(r["factor"])
        for (day, symbol), values in sorted(exposures.items()):
            ret = assets.get(symbol, {}).get(day)
            if ret is None:
                continue
            yield {
                "DATE": day,
                "TICKER": symbol,
                "RETURN": ret,
                **{f: values.get(f) for f in sorted(factors)},
            }

    def _export_attribution_inputs(self) -> Iterator[dict[str, Any]]:
        """What a Brinson attribution system needs from the portfolio side: per account, month and
        segment (symbol), the weight at the month's start and the segment's return over the month."""
        data = self.service._data()
        for key in data.accounts():
            span = self._span(data, key)
            if span is None or span[1] <= span[0]:
                continue
            _, base, vals = self.service._valuations(
                data, key.account_id, span[0], span[1], key.system, None, "start"
            )
            by_month: dict[tuple[int, int], list[Valuation]] = defaultdict(list)
            for v in vals:
                by_month[(v.day.year, v.day.month)].append(v)
            months = sorted(by_month)
            for prev, month in pairwise(months):
                opening, closing = by_month[prev][-1], by_month[month][-1]
                if opening.value <= 0:
                    continue
                for symbol, mv in sorted(opening.positions.items()):
                    start_price = data.price(symbol, opening.day)[1]
                    end_price = data.price(symbol, closing.day)[1]
                    yield {
                        "system": key.system,
                        "account": key.account_id,
                        "period_start": opening.day,
                        "period_end": closing.day,
                        "segment": symbol,
                        "base_currency": base,
                        "portfolio_weight": mv / opening.value,
                        "portfolio_return": end_price / start_price - 1,
                    }

    def _export_riskmetrics_positions(self) -> Iterator[dict[str, Any]]:
        """A RiskMetrics-style position file. Its column layout is assumed (RiskManager's import layout
        is not public): portfolio, position id, instrument id, quantity, market value, currency, date."""
        data = self.service._data()
        today = self.service.clock.now().date()
        for key in data.accounts():
            holdings = data.holdings_by_day(key, [today])[today]
            for symbol, qty in sorted(holdings.quantities.items()):
                _, price = data.price(symbol, today)
                currency = data.currency_of(symbol, holdings.currencies.get(symbol, "USD"))
                yield {
                    "Portfolio": str(key),
                    "PositionID": f"{key}:{symbol}",
                    "InstrumentID": symbol,
                    "Quantity": qty,
                    "MarketValue": qty * price,
                    "Currency": currency,
                    "AsOfDate": today,
                }
