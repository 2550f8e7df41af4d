"""The analytics service: performance and risk of the book's accounts, and the tables analytics
platforms read.

Everything is computed from what the store holds (the book, its executions, imported prices, FX
rates, cash flows, benchmarks, factor exposures and scenarios), so a figure can be recomputed and
explained; nothing is cached between calls.

This module holds the service itself (valuations, performance, risk, post-trade limit checks); the
report types are in :mod:`._reports`, the imported risk inputs in :mod:`._inputs`, the limit
measurement in :mod:`._breaches` and the export tables in :mod:`._exports`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from portico.analytics._breaches import measure_limits
from portico.analytics._data import AccountKey, AnalyticsData
from portico.analytics._exports import ANALYTICS_EXPORT_TYPES, AnalyticsExports
from portico.analytics._inputs import latest_covariance, latest_exposures, scenario_loss
from portico.analytics._reports import PerformanceReport, RiskReport, Valuation
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
    ewma,
    factor_var,
    historical_var,
    parametric_var,
)
from portico.clock import Clock
from portico.errors import PayloadRejected
from portico.store import Database
from portico.trading._repository import OrderRepository

__all__ = ["ANALYTICS_EXPORT_TYPES", "AnalyticsService", "PerformanceReport", "RiskReport", "Valuation"]

ZERO = Decimal(0)


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
        return AnalyticsData(
            self.db, self.repo, fx_book=self.fx_rates() if self.fx_rates is not None else None
        )

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
            pnl = scenario_loss(data, scenario, positions, day)
        factor = None
        if factor_model is not None and live:
            factor = factor_var(
                live,
                latest_exposures(data, day),
                latest_covariance(data, factor_model, day),
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
            rows.extend(measure_limits(key, report, settings))
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

    # -- exports ---------------------------------------------------------------------------------

    def export_sources(self) -> dict[str, Any]:
        """The export sources of :data:`ANALYTICS_EXPORT_TYPES`, for the exporter."""
        return AnalyticsExports(self).sources()
