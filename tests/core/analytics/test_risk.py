"""RiskMetrics figures against hand-computed cases and an independent, loop-by-loop computation."""

from __future__ import annotations

import math
import random
from decimal import Decimal as D

import numpy as np
import pytest

from portico.analytics import ewma, historical_var, parametric_var, scenario_pnl
from portico.errors import PayloadRejected


def test_ewma_variance_by_hand() -> None:
    # seed on the first two returns: (0.01^2 + 0.02^2) / 2 = 0.00025; then 0.94 x 0.00025 + 0.06 x 0.03^2
    # = 0.000235 + 0.000054 = 0.000289, a volatility of 1.7%
    estimate = ewma({"A": [0.01, -0.02, 0.03]}, decay=0.94, seed=2)
    assert estimate.covariance[0, 0] == pytest.approx(0.000289, abs=1e-15)
    assert estimate.volatility["A"] == pytest.approx(0.017, abs=1e-12)


def _independent_ewma(a: list[float], b: list[float], lam: float, seed: int) -> tuple[float, float, float]:
    """The recursion written out per element, without numpy."""
    va = sum(x * x for x in a[:seed]) / seed
    vb = sum(x * x for x in b[:seed]) / seed
    cab = sum(x * y for x, y in zip(a[:seed], b[:seed], strict=True)) / seed
    for x, y in zip(a[seed:], b[seed:], strict=True):
        va = lam * va + (1 - lam) * x * x
        vb = lam * vb + (1 - lam) * y * y
        cab = lam * cab + (1 - lam) * x * y
    return va, vb, cab


def test_ewma_covariance_and_var_match_an_independent_computation() -> None:
    rng = random.Random(20261203)
    a = [rng.gauss(0, 0.012) for _ in range(250)]
    b = [0.6 * x + rng.gauss(0, 0.008) for x in a]
    va, vb, cab = _independent_ewma(a, b, 0.94, 20)
    estimate = ewma({"A": a, "B": b})
    assert estimate.covariance[0, 0] == pytest.approx(va, rel=1e-12)
    assert estimate.covariance[1, 1] == pytest.approx(vb, rel=1e-12)
    assert estimate.correlation[0, 1] == pytest.approx(cab / math.sqrt(va * vb), rel=1e-12)
    # delta-normal: sqrt(w'Sw) with w = (600k, -200k); z(99%) = 2.3263478740
    w_a, w_b = 600_000.0, -200_000.0
    sigma = math.sqrt(w_a * w_a * va + w_b * w_b * vb + 2 * w_a * w_b * cab)
    figures = parametric_var({"A": D(600_000), "B": D(-200_000)}, estimate, confidence=0.99, horizon_days=10)
    assert figures.var == pytest.approx(2.3263478740 * sigma * math.sqrt(10), rel=1e-9)
    # ES of a normal at 99%: sigma x phi(z) / 0.01 = sigma x 0.0266521422 / 0.01
    assert figures.expected_shortfall == pytest.approx(2.66521422 * sigma * math.sqrt(10), rel=1e-7)


def test_monthly_decay_weighs_history_longer() -> None:
    returns = {"A": [0.01] * 30 + [0.05]}
    daily = ewma(returns, decay=0.94).volatility["A"]
    monthly = ewma(returns, decay=0.97).volatility["A"]
    # one shock of 5% after calm 1%: 0.94 lets 6% of it in, 0.97 only 3%
    assert daily == pytest.approx(math.sqrt(0.94 * 0.0001 + 0.06 * 0.0025))
    assert monthly == pytest.approx(math.sqrt(0.97 * 0.0001 + 0.03 * 0.0025))


def test_historical_var_is_the_quantile_loss_of_the_current_book() -> None:
    # a 1,000 position whose past returns were -0.1%, -0.2%, ... -10%: losses of 1, 2, ... 100.
    # 95%: the 5th worst of 100 is 96; ES is the mean of 100, 99, 98, 97, 96 = 98
    returns = {"X": [-k / 1000 for k in range(1, 101)]}
    figures = historical_var({"X": D(1000)}, returns, confidence=0.95)
    assert figures.var == pytest.approx(96.0)
    assert figures.expected_shortfall == pytest.approx(98.0)
    assert figures.observations == 100


def test_risk_inputs_that_cannot_be_used_are_refused() -> None:
    with pytest.raises(PayloadRejected, match="differ in length: A=3, B=2"):
        ewma({"A": [0.1, 0.2, 0.3], "B": [0.1, 0.2]}, seed=1)
    with pytest.raises(PayloadRejected, match="at least 21 observations, got 3"):
        ewma({"A": [0.1, 0.2, 0.3]})
    with pytest.raises(PayloadRejected, match="missing or infinite"):
        ewma({"A": [0.1, float("nan"), 0.3]}, seed=1)
    estimate = ewma({"A": [0.1, 0.2, 0.3]}, seed=1)
    with pytest.raises(PayloadRejected, match=r"no return history: \['ZZZ'\]"):
        parametric_var({"ZZZ": D(1)}, estimate)
    with pytest.raises(PayloadRejected, match="confidence must be in"):
        parametric_var({"A": D(1)}, estimate, confidence=99)


def test_scenario_pnl_by_instrument_and_by_factor() -> None:
    book = {"AAPL": D(100_000), "TLT": D(50_000), "CASHLIKE": D(10_000)}
    # instrument shocks: -20% and +5%; CASHLIKE is in no scenario and moves 0, still listed
    assert scenario_pnl(book, {"AAPL": D("-0.2"), "TLT": D("0.05")}) == {
        "AAPL": D("-20000.0"),
        "TLT": D("2500.00"),
        "CASHLIKE": D(0),
        "total": D("-17500.00"),
    }
    # factor shocks: equity -30%, rates +1% (duration 17 => -17%); AAPL beta 1.2 to equity
    exposures = {"AAPL": {"equity": D("1.2")}, "TLT": {"rates": D(-17)}}
    pnl = scenario_pnl(book, {"equity": D("-0.3"), "rates": D("0.01")}, exposures=exposures)
    assert pnl["AAPL"] == D(-36_000) and pnl["TLT"] == D(-8_500) and pnl["total"] == D(-44_500)


def test_correlation_of_a_flat_series_is_zero_not_nan() -> None:
    estimate = ewma({"A": [0.01, -0.01, 0.02, 0.0], "FLAT": [0.0] * 4}, seed=2)
    assert np.array_equal(estimate.correlation, np.array([[1.0, 0.0], [0.0, 1.0]]))


def test_factor_var_by_hand() -> None:
    from portico.analytics import factor_var

    # 100k of AAPL (beta 1.2 to MKT) and 50k of TLT (-17 to RATES): x = (120k MKT, -850k RATES)
    # F = [[0.0001, -0.000002], [-0.000002, 0.0000004]] (daily): x'Fx = 1.44e6 + 2 x 120k x -850k x -2e-6
    # + 7.225e11 x 4e-7 = 1,440,000 + 408,000 + 289,000 = 2,137,000 -> sigma 1461.85; x 2.3263478740
    exposures = {"AAPL": {"MKT": D("1.2")}, "TLT": {"RATES": D(-17)}}
    cov = {("MKT", "MKT"): D("0.0001"), ("MKT", "RATES"): D("-0.000002"), ("RATES", "RATES"): D("0.0000004")}
    figures = factor_var({"AAPL": D(100_000), "TLT": D(50_000)}, exposures, cov, confidence=0.99)
    assert figures.var == pytest.approx(2.3263478740 * math.sqrt(2_137_000), rel=1e-9)
    with pytest.raises(PayloadRejected, match=r"no entry for \(MKT, RATES\)"):
        factor_var({"AAPL": D(1), "TLT": D(1)}, exposures, {("MKT", "MKT"): D(1), ("RATES", "RATES"): D(1)})
    with pytest.raises(PayloadRejected, match=r"no factor exposures: \['XYZ'\]"):
        factor_var({"XYZ": D(1)}, exposures, cov)
