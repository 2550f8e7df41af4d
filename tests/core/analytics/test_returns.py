"""Performance arithmetic against hand-computed cases (each expected figure is worked out in the comment)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from portico.analytics import (
    active_return,
    annualize,
    blend_returns,
    link,
    modified_dietz,
    money_weighted_return,
    returns_from_prices,
    time_weighted_returns,
)
from portico.errors import PayloadRejected

JAN = [date(2024, 1, d) for d in range(1, 32)]


def test_daily_twr_with_a_start_of_day_contribution_links_exactly() -> None:
    # day 2: 1000 -> 1100, no flow: +10%.  day 3: 500 arrives before the market, 1100 + 500 = 1600 grows
    # to 1650: 50 / 1600 = 3.125%.  Linked: 1.1 x 1.03125 - 1 = 13.4375%.
    valuations = {JAN[0]: D(1000), JAN[1]: D(1100), JAN[2]: D(1650)}
    daily = time_weighted_returns(valuations, {JAN[2]: D(500)})
    assert [r.value for r in daily] == [D("0.1"), D("0.03125")]
    assert link(r.value for r in daily) == D("0.134375")


def test_end_of_day_flows_earn_nothing_that_day() -> None:
    # the same 500 arriving after the market: 50 / 1100
    valuations = {JAN[0]: D(1000), JAN[1]: D(1100), JAN[2]: D(1650)}
    daily = time_weighted_returns(valuations, {JAN[2]: D(500)}, flow_timing="end")
    assert daily[1].value == D(50) / D(1100)


def test_a_withdrawal_is_not_a_loss() -> None:
    # 1000 -> 1000 on the day 200 leaves at the start: 800 at work ends at 800 + 0 = 0% ... the book shows 800
    valuations = {JAN[0]: D(1000), JAN[1]: D(800)}
    assert time_weighted_returns(valuations, {JAN[1]: D(-200)})[0].value == D(0)


def test_twr_refuses_what_it_cannot_measure() -> None:
    with pytest.raises(PayloadRejected, match="at least two valuations"):
        time_weighted_returns({JAN[0]: D(1)})
    with pytest.raises(PayloadRejected, match="2024-01-05 has no valuation"):
        time_weighted_returns({JAN[0]: D(1), JAN[1]: D(1)}, {JAN[4]: D(5)})
    with pytest.raises(PayloadRejected, match="base value is 0"):
        time_weighted_returns({JAN[0]: D(0), JAN[1]: D(1)})


def test_modified_dietz_weights_a_mid_period_flow_by_the_time_it_was_invested() -> None:
    # 30 days, +50,000 with 15 days to go (w = 0.5): (1,100,000 - 1,000,000 - 50,000) / (1,000,000 + 25,000)
    r = modified_dietz(D(1_000_000), D(1_100_000), [(JAN[15], D(50_000))], JAN[0], JAN[30])
    assert r == D(50_000) / D(1_025_000)
    assert round(r, 10) == D("0.0487804878")
    with pytest.raises(PayloadRejected, match="outside the period"):
        modified_dietz(D(1), D(1), [(date(2024, 2, 5), D(1))], JAN[0], JAN[30])


def test_money_weighted_return_is_the_irr() -> None:
    # one year, no flows: 1000 -> 1100 is 10%
    assert money_weighted_return(D(1000), D(1100), [], date(2023, 1, 1), date(2024, 1, 1)) == D("0.1")
    # 1000 invested, 1000 more after half a year (182.5 days is not a day; 2023-07-02 is 183 days before
    # the end), ends at 2200: the rate r solves 1000(1+r) + 1000(1+r)^(183/365) = 2200
    start, mid, end = date(2023, 1, 1), date(2023, 7, 2), date(2024, 1, 1)
    r = money_weighted_return(D(1000), D(2200), [(mid, D(1000))], start, end)
    lhs = 1000 * (1 + float(r)) + 1000 * (1 + float(r)) ** (183 / 365)
    assert abs(lhs - 2200) < 1e-6
    # a gain of 200 on about 1,500 of average capital: about 13.46% a year (1134.63 + 1065.37 = 2200)
    assert D("0.1346") < r < D("0.1347")


def test_benchmark_blend_and_active_return() -> None:
    # 60/40 of an equity index (+2%, -1%) and a bond index (+0.5%, +0.5%), rebalanced daily
    equity = returns_from_prices({JAN[0]: D(100), JAN[1]: D(102), JAN[2]: D("100.98")})
    assert equity == {JAN[1]: D("0.02"), JAN[2]: D("-0.01")}
    bonds = {JAN[1]: D("0.005"), JAN[2]: D("0.005")}
    blend = blend_returns({"equity": equity, "bonds": bonds}, {"equity": D("0.6"), "bonds": D("0.4")})
    assert blend == {JAN[1]: D("0.014"), JAN[2]: D("-0.004")}
    benchmark = link(blend.values())  # 1.014 x 0.996 - 1 = 0.009944
    assert benchmark == D("0.009944")
    assert active_return(D("0.02"), benchmark) == D("0.010056")
    assert round(active_return(D("0.02"), benchmark, method="geometric"), 10) == D(
        "0.0099569877"
    )  # 0.010056 / 1.009944
    with pytest.raises(PayloadRejected, match="sum to 0.9"):
        blend_returns({"equity": equity}, {"equity": D("0.9")})
    with pytest.raises(PayloadRejected, match=r"\['bonds'\] have no return on 2024-01-03"):
        blend_returns({"equity": equity, "bonds": {JAN[1]: D(0)}}, {"equity": D("0.5"), "bonds": D("0.5")})


def test_periods_under_a_year_are_not_annualized() -> None:
    assert annualize(D("0.05"), 200) == D("0.05")
    # 21% over two years is 10% a year
    assert annualize(D("0.21"), 730) == D("0.1")
