"""Performance of a book account through the facade, from imported prices, FX rates, cash flows and
benchmarks: every figure below is worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from portico.errors import PayloadRejected
from portico.models import Execution, OrderSide
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration

DAYS = [date(2026, 3, d) for d in (2, 3, 4, 5, 6)]


def _csv(path: Path, header: str, *rows: str) -> str:
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


@pytest.fixture
async def integration(tmp_path: Path) -> AsyncIntegration:
    async with AsyncIntegration({"systems": {}}, plugins=PluginManager()) as integration:
        repo = integration.trading.repo
        now = datetime(2026, 3, 2, 21, tzinfo=UTC)
        # opening: 10,000 USD cash; on 3 March 21:00 UTC, buy 50 AAPL at 100 (5,000) with 1 commission
        repo.set_book_cash(
            book="internal", system="broker", account_id="PA-1", currency="USD", amount=D(10_000), now=now
        )
        buy = Execution(
            execution_id="x-1",
            order_id="o-1",
            system="broker",
            account_id="PA-1",
            symbol="AAPL",
            side=OrderSide.BUY,
            quantity=D(50),
            price=D(100),
            currency="USD",
            commission=D(1),
            executed_at=datetime(2026, 3, 3, 20, tzinfo=UTC),
        )
        repo.record_execution("broker", buy, order_id="o-1", instrument_id="AAPL", now=now, book="internal")
        # 100 SAP bought on 4 March at EUR 50, paid in EUR from a EUR balance opened at 6,000
        repo.set_book_cash(
            book="internal", system="broker", account_id="PA-1", currency="EUR", amount=D(6_000), now=now
        )
        sap = Execution(
            execution_id="x-2",
            order_id="o-2",
            system="broker",
            account_id="PA-1",
            symbol="SAP",
            side=OrderSide.BUY,
            quantity=D(100),
            price=D(50),
            currency="EUR",
            executed_at=datetime(2026, 3, 4, 15, tzinfo=UTC),
        )
        repo.record_execution("broker", sap, order_id="o-2", instrument_id="SAP", now=now, book="internal")
        prices = _csv(
            tmp_path / "prices.csv",
            "symbol,date,close,currency",
            "AAPL,2026-03-02,100,USD",
            "AAPL,2026-03-03,100,USD",
            "AAPL,2026-03-04,104,USD",
            "AAPL,2026-03-05,102,USD",
            "AAPL,2026-03-06,110,USD",
            "SAP,2026-03-04,50,EUR",
            "SAP,2026-03-05,55,EUR",
            "SAP,2026-03-06,55,EUR",
        )
        fx = _csv(
            tmp_path / "fx.csv",
            "base,quote,date,rate",
            "EUR,USD,2026-03-02,1.10",
            "EUR,USD,2026-03-05,1.20",
        )
        # 2,000 USD deposited on 5 March
        flows = _csv(
            tmp_path / "flows.csv", "flow_id,account,date,amount,currency", "f-1,PA-1,2026-03-05,2000,USD"
        )
        bench = _csv(
            tmp_path / "bench.csv",
            "benchmark,date,simple_return",
            "SPX,2026-03-03,0.01",
            "SPX,2026-03-04,0.00",
            "SPX,2026-03-05,-0.01",
            "SPX,2026-03-06,0.02",
            "AGG,2026-03-03,0.001",
            "AGG,2026-03-04,0.001",
            "AGG,2026-03-05,0.001",
            "AGG,2026-03-06,0.001",
        )
        for source, data_type in (
            (prices, "prices"),
            (fx, "fx_rates"),
            (flows, "cash_flows"),
            (bench, "benchmark_returns"),
        ):
            result = await integration.import_data(source, data_type)
            assert result.status == "loaded", result.to_dict()
        yield integration


async def test_daily_valuations_in_the_base_currency(integration: AsyncIntegration) -> None:
    report = await integration.get_performance("PA-1", DAYS[0], DAYS[4], base_currency="USD")
    # 2 Mar: 10,000 + 6,000 EUR x 1.10 = 16,600
    # 3 Mar: AAPL 50 x 100 = 5,000; cash 10,000 - 5,001 = 4,999; EUR 6,600   -> 16,599
    # 4 Mar: AAPL 5,200; USD 4,999; SAP 100 x 50 EUR + EUR 1,000 = 6,000 EUR x 1.10 = 6,600 -> 16,799
    # 5 Mar: AAPL 5,100; USD 4,999 + 2,000; SAP 5,500 + 1,000 = 6,500 EUR x 1.20 = 7,800 -> 19,899
    # 6 Mar: AAPL 5,500; USD 6,999; 6,500 EUR x 1.20 = 7,800 -> 20,299
    assert [(v.day, v.value, v.flow) for v in report.valuations] == [
        (DAYS[0], D("16600.00"), D(0)),
        (DAYS[1], D("16599.00"), D(0)),
        (DAYS[2], D("16799.00"), D(0)),
        (DAYS[3], D("19899.00"), D("2000.00")),
        (DAYS[4], D("20299.00"), D(0)),
    ]
    # daily: -1/16600; 200/16599; (19899 - 16799 - 2000) / (16799 + 2000) = 1100/18799; 400/19899
    expected = [D(-1) / D(16600), D(200) / D(16599), D(1100) / D(18799), D(400) / D(19899)]
    assert [v.daily_return for v in report.valuations[1:]] == expected
    growth = D(1)
    for r in expected:
        growth *= 1 + r
    assert report.time_weighted_return == growth - 1
    # 0.99993976 x 1.01204892 x 1.05851375 x 1.02010151 - 1 = 9.2736%
    assert round(report.time_weighted_return, 6) == D("0.092736")
    # under a year: not annualized
    assert report.annualized_return == report.time_weighted_return
    # Modified Dietz: (20299 - 16600 - 2000) / (16600 + 2000 x 1/4) = 1699 / 17100
    assert report.modified_dietz_return == D(1699) / D(17100)


async def test_benchmark_blend_and_active_return(integration: AsyncIntegration) -> None:
    report = await integration.get_performance(
        "PA-1", DAYS[0], DAYS[4], base_currency="USD", benchmark={"SPX": "0.6", "AGG": "0.4"}
    )
    # 60/40 daily: 0.0064, 0.0004, -0.0056, 0.0124 -> 1.0064 x 1.0004 x 0.9944 x 1.0124 - 1
    assert report.benchmark_return == D("1.0064") * D("1.0004") * D("0.9944") * D("1.0124") - 1
    assert report.active_return == report.time_weighted_return - report.benchmark_return
    assert report.benchmark == "0.6*SPX+0.4*AGG"


async def test_what_cannot_be_valued_is_refused_by_name(integration: AsyncIntegration) -> None:
    with pytest.raises(PayloadRejected, match="unknown account 'PA-9'; accounts in the book: broker:PA-1"):
        await integration.get_performance("PA-9", DAYS[0], DAYS[4])
    with pytest.raises(PayloadRejected, match="no EUR/GBP FX rate on or before 2026-03-02"):
        await integration.get_performance("PA-1", DAYS[0], DAYS[4], base_currency="GBP")
    with pytest.raises(PayloadRejected, match="benchmark 'NDX' has no imported benchmark_returns"):
        await integration.get_performance("PA-1", DAYS[0], DAYS[4], benchmark="NDX")
    with pytest.raises(PayloadRejected, match="must end after it starts"):
        await integration.get_performance("PA-1", DAYS[4], DAYS[0])


async def test_factor_var_from_imported_exposures_and_covariance(
    integration: AsyncIntegration, tmp_path: Path
) -> None:
    exposures = _csv(
        tmp_path / "exp.csv",
        "date,symbol,factor,exposure",
        "2026-03-01,AAPL,MKT,1.0",
        "2026-03-01,SAP,MKT,0.8",
    )
    cov = _csv(
        tmp_path / "cov.csv", "model,date,factor_1,factor_2,covariance", "world,2026-03-01,MKT,MKT,0.0001"
    )
    for source, data_type in ((exposures, "factor_exposures"), (cov, "covariances")):
        assert (await integration.import_data(source, data_type)).status == "loaded"
    report = await integration.get_risk("PA-1", as_of=DAYS[4], base_currency="USD", factor_model="world")
    # AAPL 50 x 110 = 5,500; SAP 100 x 55 EUR x 1.20 = 6,600 USD; cash is not at risk
    assert report.positions == {"AAPL": D("5500"), "SAP": D("6600.00")}
    # x = 5,500 x 1.0 + 6,600 x 0.8 = 10,780 MKT; sigma = 10,780 x 0.01 = 107.8; VaR 99% = 2.3263478740 x 107.8
    assert report.factor is not None
    assert report.factor.var == pytest.approx(2.3263478740 * 107.8, rel=1e-9)
    with pytest.raises(
        PayloadRejected, match=r"no covariance of model 'barra'.*imported models: \['world'\]"
    ):
        await integration.get_risk("PA-1", as_of=DAYS[4], factor_model="barra")
