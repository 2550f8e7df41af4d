"""The analytics service: performance and risk of the book's accounts, and the tables analytics
platforms read.

Everything is computed from what the store holds (the book, its executions, imported prices, FX
rates, cash flows, benchmarks, factor exposures and scenarios), so a figure can be recomputed and
explained; nothing is cached between calls.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

from portico.analytics._data import AccountKey, AnalyticsData
from portico.analytics._returns import (
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
    RiskFigures,
    ewma,
    factor_var,
    historical_var,
    parametric_var,
    scenario_pnl,
)
from portico.clock import Clock
from portico.errors import PayloadRejected
from portico.store import Database
from portico.trading._repository import OrderRepository

__all__ = ["ANALYTICS_EXPORT_TYPES", "AnalyticsService", "PerformanceReport", "RiskReport", "Valuation"]

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

ZERO = Decimal(0)


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


class AnalyticsService:
    """Performance, risk and analytics exports over the store.

    Args:
        db: the embedded store.
        clock: time source (``as_of`` defaults to its today).
        repo: the trading repository holding the book; built from ``db`` when not given.
    """

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        repo: OrderRepository | None = None,
        limits: Callable[[str, str], Mapping[str, Mapping[str, Any]]] | None = None,
        alert: Callable[..., Any] | None = None,
        fx_rates: Callable[[], Any] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.repo = repo if repo is not None else OrderRepository(db)
        self.limits = limits
        self.alert = alert
        self.fx_rates = fx_rates

    def _data(self) -> AnalyticsData:
        return AnalyticsData(self.db, self.repo, fx_book=self.fx_rates() if self.fx_rates is not None else None)

    # -- valuations and performance --------------------------------------------------------------

    def valuations(
        self,
        account: str,
        start: date,
        end: date,
        *,
        system: str | None = None,
        base_currency: str | None = None,
        flow_timing: FlowTiming = "start",
    ) -> tuple[AccountKey, str, list[Valuation]]:
        """Daily valuations of ``account`` from ``start`` to ``end`` (days with a price of a holding or a
        flow, and ``start`` itself), in ``base_currency`` (default: the account's main currency)."""
        return self._valuations(self._data(), account, start, end, system, base_currency, flow_timing)

    def _valuations(
        self,
        data: AnalyticsData,
        account: str,
        start: date,
        end: date,
        system: str | None,
        base_currency: str | None,
        flow_timing: FlowTiming,
    ) -> tuple[AccountKey, str, list[Valuation]]:
        if end <= start:
            raise PayloadRejected(f"the period must end after it starts, got {start}..{end}", field="end")
        key = data.resolve(account, system)
        flows = data.flows(key)
        held = data.holdings_by_day(key, [end])[end]
        symbols = set(held.quantities)
        # every symbol held at any time in the period: roll through the executions' symbols too
        if self.repo is not None:
            symbols |= {
                e.symbol
                for e in self.repo.executions(system=key.system)
                if (e.account_id or "") == key.account_id
            }
        days = {start, end} | {d for d, _, _ in flows if start <= d <= end}
        for symbol in symbols:
            days |= {d for d in data.price_history(symbol) if start <= d <= end}
        ordered = sorted(days)
        holdings = data.holdings_by_day(key, ordered)
        base = base_currency or self._main_currency(holdings[end]) or "USD"
        values: dict[date, Decimal] = {}
        detail: dict[date, dict[str, Decimal]] = {}
        for day in ordered:
            h = holdings[day]
            marks = {}
            for symbol, qty in sorted(h.quantities.items()):
                _, price = data.price(symbol, day)
                currency = data.currency_of(symbol, h.currencies.get(symbol, base))
                marks[symbol] = qty * price * data.fx_rate(currency, base, day)
            cash = sum((amount * data.fx_rate(c, base, day) for c, amount in sorted(h.cash.items())), ZERO)
            values[day] = sum(marks.values(), ZERO) + cash
            detail[day] = marks
        # performance starts when the account first has a value (GIPS: from funding), not before
        funded = [d for d in ordered if values[d] != 0]
        if len(funded) < 2 or funded[0] == end:
            raise PayloadRejected(
                f"account {key} has a value on fewer than two days between {start} and {end}: nothing to measure",
                field="account",
            )
        first = funded[0]
        ordered = [d for d in ordered if d >= first]
        values = {d: values[d] for d in ordered}
        flow_by_day: dict[date, Decimal] = defaultdict(Decimal)
        for d, amount, currency in flows:
            # a flow on the first day is part of the opening value, not of the measured period
            if first < d <= end:
                flow_by_day[d] += amount * data.fx_rate(currency, base, d)
        daily = {r.day: r.value for r in time_weighted_returns(values, flow_by_day, flow_timing=flow_timing)}
        out = [Valuation(d, values[d], flow_by_day.get(d, ZERO), daily.get(d), detail[d]) for d in ordered]
        return key, base, out

    @staticmethod
    def _main_currency(holdings: Any) -> str | None:
        weights: dict[str, int] = defaultdict(int)
        for c in holdings.cash:
            weights[c] += 2
        for c in holdings.currencies.values():
            weights[c] += 1
        return max(weights, key=lambda c: weights[c]) if weights else None

    def performance(
        self,
        account: str,
        start: date,
        end: date,
        *,
        system: str | None = None,
        base_currency: str | None = None,
        benchmark: str | Mapping[str, Decimal | str | float] | None = None,
        flow_timing: FlowTiming = "start",
    ) -> PerformanceReport:
        """Performance of ``account`` from the end of ``start`` to the end of ``end``.

        Args:
            account: the account id (``system`` picks one where several systems have it).
            start: the day whose closing value opens the period.
            end: the last day.
            base_currency: the reporting currency (values FX-converted with imported ``fx_rates``).
            benchmark: a benchmark name (imported ``benchmark_returns``, or a symbol with imported prices),
                or a blend ``{name: weight}`` with weights summing to 1, rebalanced daily.
            flow_timing: external cash flows at the ``start`` (default) or ``end`` of their day.

        Raises:
            PayloadRejected: an unknown account, a missing price or FX rate, or an unusable benchmark.
        """
        data = self._data()
        key, base, vals = self._valuations(data, account, start, end, system, base_currency, flow_timing)
        start = vals[0].day  # the account's first valued day when it was funded after ``start``
        twr = link(v.daily_return for v in vals if v.daily_return is not None)
        flows = [(v.day, v.flow) for v in vals if v.flow]
        begin_value, end_value = vals[0].value, vals[-1].value
        try:
            mwr: Decimal | None = money_weighted_return(begin_value, end_value, flows, start, end)
        except PayloadRejected:
            mwr = None
        try:
            dietz: Decimal | None = modified_dietz(begin_value, end_value, flows, start, end)
        except PayloadRejected:
            dietz = None
        bench_name = bench_return = active = None
        if benchmark is not None:
            weights = (
                {benchmark: Decimal(1)}
                if isinstance(benchmark, str)
                else {k: Decimal(str(w)) for k, w in benchmark.items()}
            )
            series = {name: self._benchmark_series(data, name) for name in weights}
            blended = blend_returns(
                {n: {d: r for d, r in s.items() if start < d <= end} for n, s in series.items()}, weights
            )
            if not blended:
                raise PayloadRejected(
                    f"benchmark {sorted(weights)} has no return between {start} and {end}", field="benchmark"
                )
            bench_name = (
                benchmark if isinstance(benchmark, str) else "+".join(f"{w}*{n}" for n, w in weights.items())
            )
            bench_return = link(blended.values())
            active = active_return(twr, bench_return)
        return PerformanceReport(
            account=key.account_id,
            system=key.system,
            base_currency=base,
            start=start,
            end=end,
            flow_timing=flow_timing,
            valuations=tuple(vals),
            time_weighted_return=twr,
            annualized_return=annualize(twr, (end - start).days),
            money_weighted_return=mwr,
            modified_dietz_return=dietz,
            benchmark=bench_name,
            benchmark_return=bench_return,
            active_return=active,
        )

    @staticmethod
    def _benchmark_series(data: AnalyticsData, name: str) -> dict[date, Decimal]:
        imported = {
            date.fromisoformat(r["date"]): Decimal(r["simple_return"])
            for r in data.records("benchmark_returns")
            if r["benchmark"] == name
        }
        if imported:
            return imported
        prices = data.price_history(name)
        if len(prices) >= 2:
            return returns_from_prices(prices)
        raise PayloadRejected(
            f"benchmark {name!r} has no imported benchmark_returns and no prices to compute them from",
            field="benchmark",
        )

    # -- risk ------------------------------------------------------------------------------------

    def asset_returns(
        self, symbols: list[str] | None = None, *, data: AnalyticsData | None = None
    ) -> dict[str, dict[date, Decimal]]:
        """Daily simple returns of each symbol with imported prices (or of ``symbols``)."""
        data = data or self._data()
        names = symbols if symbols is not None else sorted(data.prices())
        return {s: returns_from_prices(data.price_history(s)) for s in names}

    def risk(
        self,
        account: str,
        *,
        system: str | None = None,
        as_of: date | None = None,
        base_currency: str | None = None,
        confidence: float = 0.99,
        horizon_days: int = 1,
        lookback: int = 250,
        decay: float = DAILY_LAMBDA,
        scenario: str | None = None,
        extra: Mapping[str, Decimal] | None = None,
        new_account: bool = False,
        factor_model: str | None = None,
    ) -> RiskReport:
        """RiskMetrics-method risk of ``account``'s book at the end of ``as_of`` (default: today).

        VaR and expected shortfall use the last ``lookback`` days on which every held symbol has a
        return; with fewer than 21 such days they are None (too little history to estimate), and the
        exposures are still given. ``scenario`` names an imported scenario (``scenarios``): its shocks
        apply per symbol, or per factor through imported ``factor_exposures``. ``extra`` adds market
        values per symbol (a pre-trade check's proposed order); ``new_account`` lets an account with
        ``system`` that the book does not know yet be measured as empty (its first order);
        ``factor_model`` names an imported covariance model (``covariances``) for a factor VaR through the
        latest imported ``factor_exposures``.
        """
        data = self._data()
        if new_account and system is not None and AccountKey(system, account) not in data.accounts():
            key = AccountKey(system, account)
        else:
            key = data.resolve(account, system)
        day = as_of or self.clock.now().date()
        holdings = data.holdings_by_day(key, [day])[day]
        base = base_currency or self._main_currency(holdings) or "USD"
        positions: dict[str, Decimal] = {}
        by_currency: dict[str, Decimal] = defaultdict(Decimal)
        for symbol, qty in holdings.quantities.items():
            _, price = data.price(symbol, day)
            currency = data.currency_of(symbol, holdings.currencies.get(symbol, base))
            value = qty * price * data.fx_rate(currency, base, day)
            positions[symbol] = value
            by_currency[currency] += value
        for symbol, value in (extra or {}).items():
            positions[symbol] = positions.get(symbol, ZERO) + value
            currency = data.currency_of(symbol, base)
            by_currency[currency] += value
        cash = ZERO
        for currency, amount in holdings.cash.items():
            converted = amount * data.fx_rate(currency, base, day)
            cash += converted
            by_currency[currency] += converted
        parametric = historical = None
        volatility: dict[str, float] = {}
        live = {s: v for s, v in positions.items() if v}
        if live:
            returns = self.asset_returns(sorted(live), data=data)
            common = sorted(set.intersection(*(set(r) for r in returns.values())))
            common = [d for d in common if d <= day][-lookback:]
            if len(common) >= 21:
                aligned = {s: [float(returns[s][d]) for d in common] for s in sorted(live)}
                estimate = ewma(aligned, decay=decay)
                volatility = estimate.volatility
                parametric = parametric_var(live, estimate, confidence=confidence, horizon_days=horizon_days)
                historical = historical_var(live, aligned, confidence=confidence, horizon_days=horizon_days)
        pnl = None
        if scenario is not None:
            pnl = self._scenario(data, scenario, positions, day)
        factor = None
        if factor_model is not None and live:
            factor = factor_var(
                live,
                self._exposures(data, day),
                self._covariance(data, factor_model, day),
                confidence=confidence,
                horizon_days=horizon_days,
            )
        return RiskReport(
            account=key.account_id,
            system=key.system,
            as_of=day,
            base_currency=base,
            positions=positions,
            cash=cash,
            gross_exposure=sum((abs(v) for v in positions.values()), ZERO),
            net_exposure=sum(positions.values(), ZERO),
            currency_exposure=dict(by_currency),
            volatility=volatility,
            parametric=parametric,
            historical=historical,
            scenario=scenario,
            scenario_pnl=pnl,
            factor=factor,
        )

    @staticmethod
    def _exposures(data: AnalyticsData, day: date) -> dict[str, dict[str, Decimal]]:
        """Each symbol's latest imported exposure per factor on or before ``day``."""
        latest: dict[tuple[str, str], tuple[date, Decimal]] = {}
        for r in data.records("factor_exposures"):
            d = date.fromisoformat(r["date"])
            k = (r["symbol"], r["factor"])
            if d <= day and (k not in latest or latest[k][0] < d):
                latest[k] = (d, Decimal(r["exposure"]))
        out: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for (symbol, factor), (_, value) in latest.items():
            out[symbol][factor] = value
        return dict(out)

    @staticmethod
    def _covariance(data: AnalyticsData, model: str, day: date) -> dict[tuple[str, str], Decimal]:
        """The model's latest imported covariance matrix on or before ``day``."""
        rows = [
            r
            for r in data.records("covariances")
            if r["model"] == model and date.fromisoformat(r["date"]) <= day
        ]
        if not rows:
            known = sorted({r["model"] for r in data.records("covariances")})
            raise PayloadRejected(
                f"no covariance of model {model!r} on or before {day}; imported models: {known or 'none'}",
                field="factor_model",
            )
        as_of = max(r["date"] for r in rows)
        return {(r["factor_1"], r["factor_2"]): Decimal(r["covariance"]) for r in rows if r["date"] == as_of}

    @staticmethod
    def _scenario(
        data: AnalyticsData, name: str, positions: Mapping[str, Decimal], day: date
    ) -> dict[str, Decimal]:
        shocks = {
            r["factor"]: Decimal(r["shock"]) for r in data.records("scenarios") if r["scenario"] == name
        }
        if not shocks:
            known = sorted({r["scenario"] for r in data.records("scenarios")})
            raise PayloadRejected(
                f"unknown scenario {name!r}; imported scenarios: {known or 'none'}", field="scenario"
            )
        if set(shocks) & set(positions):
            return scenario_pnl(positions, shocks)
        exposures = AnalyticsService._exposures(data, day)
        if not exposures:
            raise PayloadRejected(
                f"scenario {name!r} shocks factors {sorted(shocks)} but no factor_exposures are imported "
                "and no shock names a held symbol",
                field="scenario",
            )
        return scenario_pnl(positions, shocks, exposures=exposures)

    # -- post-trade limits ------------------------------------------------------------------------

    def check_limits(self) -> list[dict[str, Any]]:
        """Every account's configured limits measured on its book now (post-trade), one row per limit.

        A breached limit fires the ``risk_limit`` alert (severity critical) naming the account, the
        limit, the figure and the threshold. Run it on a schedule as the ``limit_breaches`` export.
        """
        rows: list[dict[str, Any]] = []
        if self.limits is None:
            return rows
        for key in self._data().accounts():
            settings = self.limits(key.system, key.account_id)
            if not settings:
                continue
            var = settings.get("max_var") or {}
            report = self.risk(
                key.account_id,
                system=key.system,
                confidence=float(var.get("confidence", 0.99)),
                horizon_days=int(var.get("horizon_days", 1)),
                lookback=int(var.get("lookback", 250)),
            )
            rows.extend(self._measure(key, report, settings))
        for row in rows:
            if row["breached"] and self.alert is not None:
                self.alert(
                    "risk_limit",
                    system=row["system"],
                    subject=f"{row['account']}:{row['limit']}",
                    severity="critical",
                    summary=f"{row['account']}: {row['measure']} {row['value']} breaches {row['limit']} {row['threshold']}",
                    details={k: str(v) for k, v in row.items()},
                )
        return rows

    @staticmethod
    def _measure(
        key: AccountKey, report: RiskReport, settings: Mapping[str, Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        equity = report.net_exposure + report.cash
        measured: list[tuple[str, str, Decimal | None, Decimal]] = []
        if "max_gross_exposure" in settings:
            measured.append(
                (
                    "max_gross_exposure",
                    "gross exposure",
                    report.gross_exposure,
                    Decimal(str(settings["max_gross_exposure"]["limit"])),
                )
            )
        if "max_net_exposure" in settings:
            measured.append(
                (
                    "max_net_exposure",
                    "net exposure",
                    abs(report.net_exposure),
                    Decimal(str(settings["max_net_exposure"]["limit"])),
                )
            )
        for name, groups_key in (
            ("max_issuer_concentration", "issuers"),
            ("max_sector_concentration", "sectors"),
        ):
            if name in settings:
                groups = {str(k).upper(): str(v) for k, v in (settings[name].get(groups_key) or {}).items()}
                totals: dict[str, Decimal] = defaultdict(Decimal)
                for symbol, value in report.positions.items():
                    totals[groups.get(symbol.upper(), symbol.upper())] += abs(value)
                limit = Decimal(str(settings[name]["max_fraction"]))
                for group, total in sorted(totals.items()):
                    fraction = (total / equity).quantize(Decimal("0.0001")) if equity > 0 else None
                    measured.append((name, f"{groups_key[:-1]} {group} fraction of equity", fraction, limit))
        if "max_currency_exposure" in settings:
            for currency, limit in sorted((settings["max_currency_exposure"].get("limits") or {}).items()):
                exposure = report.currency_exposure.get(str(currency).upper(), ZERO)
                measured.append(
                    ("max_currency_exposure", f"{currency} exposure", abs(exposure), Decimal(str(limit)))
                )
        if "max_var" in settings:
            method = str(settings["max_var"].get("method", "historical"))
            figures = report.historical if method == "historical" else report.parametric
            var_value = Decimal(f"{figures.var:.2f}") if figures else None
            measured.append(
                ("max_var", f"{method} VaR", var_value, Decimal(str(settings["max_var"]["limit"])))
            )
        return [
            {
                "system": key.system,
                "account": key.account_id,
                "as_of": report.as_of,
                "limit": name,
                "measure": what,
                "value": value,
                "threshold": threshold,
                # a figure that cannot be measured is a breach: the limit cannot be shown to hold
                "breached": value is None or value > threshold,
            }
            for name, what, value, threshold in measured
        ]

    # -- exports ---------------------------------------------------------------------------------

    def export_sources(self) -> dict[str, Any]:
        """The export sources of :data:`ANALYTICS_EXPORT_TYPES`, for the exporter."""
        return {
            "performance": self._export_performance,
            "limit_breaches": self.check_limits,
            "risk": self._export_risk,
            "asset_returns": self._export_asset_returns,
            "attribution_inputs": self._export_attribution_inputs,
            "factor_returns": self._export_factor_returns,
            "factor_panel": self._export_factor_panel,
            "riskmetrics_positions": self._export_riskmetrics_positions,
        }

    def _span(self, data: AnalyticsData, key: AccountKey) -> tuple[date, date] | None:
        days: set[date] = {d for d, _, _ in data.flows(key)}
        if self.repo is not None:
            days |= {
                e.executed_at.date()
                for e in self.repo.executions(system=key.system)
                if (e.account_id or "") == key.account_id
            }
        for symbol in data.holdings_by_day(key, [self.clock.now().date()])[
            self.clock.now().date()
        ].quantities:
            days |= set(data.price_history(symbol))
        if len(days) < 2:
            return None
        return min(days), min(max(days), self.clock.now().date())

    def _export_performance(self) -> Iterator[dict[str, Any]]:
        data = self._data()
        for key in data.accounts():
            span = self._span(data, key)
            if span is None or span[1] <= span[0]:
                continue
            _, base, vals = self._valuations(
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
        for key in self._data().accounts():
            report = self.risk(key.account_id, system=key.system)
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
        returns = self.asset_returns()
        days = sorted(set().union(*(set(r) for r in returns.values()))) if returns else []
        for day in days:
            yield {"Date": day, **{s: returns[s].get(day) for s in sorted(returns)}}

    def _export_factor_returns(self) -> Iterator[dict[str, Any]]:
        """FactorAnalytics ``fitTsfm`` shape: ``DATE``, asset returns, then factor returns (each imported
        benchmark series is a factor), one row per day where every column has a value."""
        data = self._data()
        assets = self.asset_returns(data=data)
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
        data = self._data()
        assets = self.asset_returns(data=data)
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
        data = self._data()
        for key in data.accounts():
            span = self._span(data, key)
            if span is None or span[1] <= span[0]:
                continue
            _, base, vals = self._valuations(
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
        data = self._data()
        today = self.clock.now().date()
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
