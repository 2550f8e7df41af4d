"""Imported risk inputs read for a risk report: factor exposures, factor covariance matrices and
stress scenarios, each as of a day (the latest imported on or before it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from portico.analytics._data import AnalyticsData
from portico.analytics._risk import scenario_pnl
from portico.errors import PayloadRejected

__all__ = ["latest_covariance", "latest_exposures", "scenario_loss"]


def latest_exposures(data: AnalyticsData, day: date) -> dict[str, dict[str, Decimal]]:
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


def latest_covariance(data: AnalyticsData, model: str, day: date) -> dict[tuple[str, str], Decimal]:
    """The model's latest imported covariance matrix on or before ``day``."""
    rows = [
        r for r in data.records("covariances") if r["model"] == model and date.fromisoformat(r["date"]) <= day
    ]
    if not rows:
        known = sorted({r["model"] for r in data.records("covariances")})
        raise PayloadRejected(
            f"no covariance of model {model!r} on or before {day}; imported models: {known or 'none'}",
            field="factor_model",
        )
    as_of = max(r["date"] for r in rows)
    return {(r["factor_1"], r["factor_2"]): Decimal(r["covariance"]) for r in rows if r["date"] == as_of}


def scenario_loss(
    data: AnalyticsData, name: str, positions: Mapping[str, Decimal], day: date
) -> dict[str, Decimal]:
    shocks = {r["factor"]: Decimal(r["shock"]) for r in data.records("scenarios") if r["scenario"] == name}
    if not shocks:
        known = sorted({r["scenario"] for r in data.records("scenarios")})
        raise PayloadRejected(
            f"unknown scenario {name!r}; imported scenarios: {known or 'none'}", field="scenario"
        )
    if set(shocks) & set(positions):
        return scenario_pnl(positions, shocks)
    exposures = latest_exposures(data, day)
    if not exposures:
        raise PayloadRejected(
            f"scenario {name!r} shocks factors {sorted(shocks)} but no factor_exposures are imported "
            "and no shock names a held symbol",
            field="scenario",
        )
    return scenario_pnl(positions, shocks, exposures=exposures)
