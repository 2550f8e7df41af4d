"""RiskMetrics-method risk: EWMA volatility and correlation, VaR and expected shortfall, scenario P&L.

The method is the public RiskMetrics 1996 technical document's: variances and covariances are an
exponentially weighted moving average of squared (cross-)returns with decay ``lambda`` (0.94 for daily
data, 0.97 for monthly), zero mean assumed; the first estimate is the sample covariance of the first
``seed`` observations. Amounts are position market values in one currency (the account's base);
figures come back as floats, since they are estimates, not amounts to book.

- **Parametric (delta-normal) VaR** at confidence ``c`` over ``h`` days: ``z_c * sqrt(h * v' S v)`` where
  ``v`` are the position values and ``S`` the EWMA covariance; its expected shortfall is
  ``sqrt(h * v' S v) * phi(z_c) / (1 - c)``.
- **Historical VaR**: the current positions revalued under each past day's returns (full
  revaluation of linear positions, ``P&L_t = v . r_t``); VaR is the loss at the ``1 - c`` quantile
  (the ``ceil(n (1 - c))``-th worst, no interpolation), expected shortfall the mean of the losses at
  least that bad.

Losses are reported as positive numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist

import numpy as np

from portico.errors import PayloadRejected

__all__ = [
    "DAILY_LAMBDA",
    "MONTHLY_LAMBDA",
    "EwmaEstimate",
    "RiskFigures",
    "ewma",
    "factor_var",
    "historical_var",
    "parametric_var",
    "scenario_pnl",
]

DAILY_LAMBDA = 0.94
MONTHLY_LAMBDA = 0.97


@dataclass(frozen=True)
class EwmaEstimate:
    """The EWMA covariance of a set of return series at the last observation."""

    names: tuple[str, ...]
    covariance: np.ndarray
    decay: float
    observations: int

    @property
    def volatility(self) -> dict[str, float]:
        """Each series' volatility per period (the square root of its EWMA variance)."""
        return {n: math.sqrt(self.covariance[i, i]) for i, n in enumerate(self.names)}

    @property
    def correlation(self) -> np.ndarray:
        """The EWMA correlation matrix (a series with zero variance correlates 0 with the others)."""
        sd = np.sqrt(np.diag(self.covariance))
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = self.covariance / np.outer(sd, sd)
        corr = np.nan_to_num(corr)
        np.fill_diagonal(corr, 1.0)
        return corr


@dataclass(frozen=True)
class RiskFigures:
    """VaR and expected shortfall of one book, as positive losses in the book's currency."""

    method: str
    confidence: float
    horizon_days: int
    var: float
    expected_shortfall: float
    observations: int


def _matrix(returns: Mapping[str, Sequence[float]]) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(returns)
    if not names:
        raise PayloadRejected("risk needs at least one return series")
    lengths = {len(returns[n]) for n in names}
    if len(lengths) != 1:
        raise PayloadRejected(
            "return series differ in length: " + ", ".join(f"{n}={len(returns[n])}" for n in names)
        )
    matrix = np.asarray([[float(x) for x in returns[n]] for n in names], dtype=float).T
    if not np.isfinite(matrix).all():
        raise PayloadRejected("return series hold a missing or infinite value")
    return names, matrix


def ewma(
    returns: Mapping[str, Sequence[float]], *, decay: float = DAILY_LAMBDA, seed: int = 20
) -> EwmaEstimate:
    """The EWMA covariance of aligned return series (oldest first), RiskMetrics style.

    Args:
        returns: per series name, its returns, all of one length and on the same days.
        decay: lambda, in (0, 1).
        seed: how many first observations seed the recursion with their sample covariance (zero mean).

    Raises:
        PayloadRejected: no series, series of different lengths, non-finite values, or fewer
            observations than ``seed + 1``.
    """
    if not 0 < decay < 1:
        raise PayloadRejected(f"EWMA decay must be in (0, 1), got {decay}")
    names, matrix = _matrix(returns)
    n = matrix.shape[0]
    if n < seed + 1:
        raise PayloadRejected(f"EWMA needs at least {seed + 1} observations, got {n}")
    head = matrix[:seed]
    cov = head.T @ head / seed
    for row in matrix[seed:]:
        cov = decay * cov + (1 - decay) * np.outer(row, row)
    return EwmaEstimate(names, cov, decay, n)


def _values(positions: Mapping[str, Decimal | float], names: Sequence[str]) -> np.ndarray:
    missing = [n for n in positions if n not in names]
    if missing:
        raise PayloadRejected(f"positions with no return history: {sorted(missing)}")
    return np.asarray([float(positions.get(n, 0)) for n in names], dtype=float)


def _confidence(confidence: float) -> float:
    if not 0.5 < confidence < 1:
        raise PayloadRejected(f"confidence must be in (0.5, 1), got {confidence}")
    return confidence


def parametric_var(
    positions: Mapping[str, Decimal | float],
    estimate: EwmaEstimate,
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
) -> RiskFigures:
    """Delta-normal VaR and expected shortfall of positions (market values) under an EWMA estimate."""
    _confidence(confidence)
    v = _values(positions, estimate.names)
    sigma = math.sqrt(max(float(v @ estimate.covariance @ v), 0.0) * horizon_days)
    z = NormalDist().inv_cdf(confidence)
    es = sigma * NormalDist().pdf(z) / (1 - confidence)
    return RiskFigures("parametric", confidence, horizon_days, z * sigma, es, estimate.observations)


def factor_var(
    positions: Mapping[str, Decimal | float],
    exposures: Mapping[str, Mapping[str, Decimal | float]],
    covariance: Mapping[tuple[str, str], Decimal | float],
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
) -> RiskFigures:
    """Delta-normal VaR under a factor model: the book's factor exposures ``x = sum_i v_i b_i`` and an
    imported factor covariance ``F`` (per period) give ``sigma = sqrt(h * x' F x)``; specific risk is
    not modelled. ``covariance`` may give either triangle; a missing pair is refused, not taken as 0.

    Raises:
        PayloadRejected: a position with no exposures, or a factor pair the covariance lacks.
    """
    _confidence(confidence)
    missing = sorted(n for n in positions if n not in exposures)
    if missing:
        raise PayloadRejected(f"positions with no factor exposures: {missing}")
    factors = sorted({f for n in positions for f in exposures[n]})
    x = np.zeros(len(factors))
    for name, value in positions.items():
        for f, loading in exposures[name].items():
            x[factors.index(f)] += float(value) * float(loading)
    cov = np.zeros((len(factors), len(factors)))
    for i, first in enumerate(factors):
        for j, second in enumerate(factors):
            entry = covariance.get((first, second), covariance.get((second, first)))
            if entry is None:
                raise PayloadRejected(f"the factor covariance has no entry for ({first}, {second})")
            cov[i, j] = float(entry)
    sigma = math.sqrt(max(float(x @ cov @ x), 0.0) * horizon_days)
    z = NormalDist().inv_cdf(confidence)
    return RiskFigures(
        "factor", confidence, horizon_days, z * sigma, sigma * NormalDist().pdf(z) / (1 - confidence), 1
    )


def historical_var(
    positions: Mapping[str, Decimal | float],
    returns: Mapping[str, Sequence[float]],
    *,
    confidence: float = 0.99,
    horizon_days: int = 1,
) -> RiskFigures:
    """Historical-simulation VaR and expected shortfall of positions over past aligned returns.

    A horizon over one day scales the one-day figures by ``sqrt(h)`` (the square-root-of-time rule,
    stated rather than hidden, since overlapping h-day windows would need h times the history).
    """
    _confidence(confidence)
    names, matrix = _matrix(returns)
    v = _values(positions, names)
    losses = np.sort(-(matrix @ v))[::-1]
    # rounded first: 100 x (1 - 0.95) is 5.000000000000004 in floats, and its ceiling must be 5
    tail = max(1, math.ceil(round(len(losses) * (1 - confidence), 9)))
    scale = math.sqrt(horizon_days)
    var = float(losses[tail - 1]) * scale
    es = float(losses[:tail].mean()) * scale
    return RiskFigures("historical", confidence, horizon_days, var, es, len(losses))


def scenario_pnl(
    positions: Mapping[str, Decimal],
    shocks: Mapping[str, Decimal],
    *,
    exposures: Mapping[str, Mapping[str, Decimal]] | None = None,
) -> dict[str, Decimal]:
    """The P&L of each position under a stress scenario, and the ``total``.

    Without ``exposures`` a shock is a relative price move per instrument (``-0.2``: down 20%). With
    them, shocks are per risk factor and each position moves by ``sum_f exposure(position, f) * shock(f)``
    (a linear factor model). A position no shock reaches moves 0 and is listed, so nothing is silently
    left out.
    """
    out: dict[str, Decimal] = {}
    for name, value in positions.items():
        if exposures is None:
            move = shocks.get(name, Decimal(0))
        else:
            move = sum(
                (e * shocks.get(f, Decimal(0)) for f, e in exposures.get(name, {}).items()), Decimal(0)
            )
        out[name] = value * move
    out["total"] = sum(out.values(), Decimal(0))
    return out
