"""Analytics end to end: trades on the Alpaca mock, imported prices, deposit, benchmark and scenario
files, then a returns export that R's xts reads, VaR checked against an independent computation, a
pre-trade limit refusal, and a risk report PDF whose page renders with the figures.

R (Debian's r-base-core, r-cran-xts, r-cran-zoo) and poppler-utils are installed by ``.ci/run``; where
they are missing these tests skip with the reason, and under ``CI=true`` they fail.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from portico.models import OrderStatus
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.testing import wait_for_async
from portico.trading import RiskCheckFailed


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    why = f"{name} is not installed; run `apt-get install -y {package}` (Debian) to run this test"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI must provide it: {why}")
    pytest.skip(why)


def _weekdays(end: date, count: int) -> list[date]:
    days: list[date] = []
    day = end
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _walk(seed: int, start: float, days: list[date]) -> dict[date, D]:
    rng = random.Random(seed)
    price, out = start, {}
    for day in days:
        out[day] = D(f"{price:.2f}")
        price *= 1 + rng.gauss(0.0004, 0.015)
    return out


def _alpaca(limit: int) -> dict[str, Any]:
    return {
        "systems": {
            "broker": {
                "type": "brokerage",
                "connector": "alpaca",
                "mock": True,
                "mock_seed": 11,
                "authentication": {
                    "type": "api_key_pair",
                    "credentials": {"api_key_id": "PKTEST", "api_secret_key": "secret"},
                },
            }
        },
        "trading": {"risk": {"default": {"max_var": {"limit": limit, "confidence": 0.95}}}},
    }


async def test_from_mock_trades_to_r_var_limit_and_pdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rscript = _tool("Rscript", "r-base-core r-cran-xts r-cran-zoo")
    pdftoppm = _tool("pdftoppm", "poppler-utils")
    monkeypatch.chdir(tmp_path)
    today = date.today()
    days = _weekdays(today if today.weekday() < 5 else today - timedelta(days=today.weekday() - 4), 60)
    if today not in days:
        days.append(today)  # a weekend run: the book is valued today at Friday's moves
    closes = {"AAPL": _walk(1, 180.0, days), "MSFT": _walk(2, 410.0, days)}
    if today not in closes["AAPL"]:
        closes = {s: {**c, today: c[days[-2]]} for s, c in closes.items()}
    lines = ["symbol,date,close,currency"] + [
        f"{s},{d.isoformat()},{p},USD" for s in ("AAPL", "MSFT") for d, p in sorted(closes[s].items())
    ]
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "scenario.csv").write_text("scenario,factor,shock\ncrash,AAPL,-0.3\ncrash,MSFT,-0.2\n")

    async with AsyncIntegration(_alpaca(limit=2000), plugins=PluginManager()) as integration:
        account = (await integration.get_external_account("broker")).account_id
        (tmp_path / "flows.csv").write_text(
            f"flow_id,account,date,amount,currency\ndep-1,{account},{days[0].isoformat()},100000,USD\n"
        )
        for name, data_type in (
            ("prices.csv", "prices"),
            ("flows.csv", "cash_flows"),
            ("scenario.csv", "scenarios"),
        ):
            assert (await integration.import_data(str(tmp_path / name), data_type)).status == "loaded"

        trading = integration.trading
        for i, (symbol, qty) in enumerate((("AAPL", "10"), ("MSFT", "5"))):
            cid = await integration.place_external_order(
                "broker", {"symbol": symbol, "side": "buy", "quantity": qty}, idempotency_key=f"e2e-{i}"
            )

            async def filled(cid: str = cid) -> bool:
                return trading.get_order(cid, system_id="broker").status is OrderStatus.FILLED

            await wait_for_async(filled, timeout=15)

        # a fill's execution reaches the book from the order stream, possibly after the status
        async def booked() -> bool:
            return len(trading.repo.executions(system="broker")) == 2

        await wait_for_async(booked, timeout=15)

        # -- VaR against an independent computation over the same files ---------------------------
        report = await integration.get_risk(account, confidence=0.95, scenario="crash")
        values = {"AAPL": 10 * float(closes["AAPL"][today]), "MSFT": 5 * float(closes["MSFT"][today])}
        ordered = sorted(closes["AAPL"])
        rets = {
            s: [float(closes[s][b]) / float(closes[s][a]) - 1 for a, b in itertools.pairwise(ordered)]
            for s in values
        }
        losses = sorted(
            (
                -(values["AAPL"] * ra + values["MSFT"] * rm)
                for ra, rm in zip(rets["AAPL"], rets["MSFT"], strict=True)
            ),
            reverse=True,
        )
        tail = math.ceil(len(losses) * 5 / 100)  # 5% of the days, counted in integers
        assert report.historical is not None and report.parametric is not None
        assert report.historical.var == pytest.approx(losses[tail - 1], rel=1e-9)
        assert report.historical.expected_shortfall == pytest.approx(sum(losses[:tail]) / tail, rel=1e-9)
        va = sum(x * x for x in rets["AAPL"][:20]) / 20
        vm = sum(x * x for x in rets["MSFT"][:20]) / 20
        cam = sum(x * y for x, y in zip(rets["AAPL"][:20], rets["MSFT"][:20], strict=True)) / 20
        for x, y in zip(rets["AAPL"][20:], rets["MSFT"][20:], strict=True):
            va, vm, cam = 0.94 * va + 0.06 * x * x, 0.94 * vm + 0.06 * y * y, 0.94 * cam + 0.06 * x * y
        sigma = math.sqrt(
            values["AAPL"] ** 2 * va + values["MSFT"] ** 2 * vm + 2 * values["AAPL"] * values["MSFT"] * cam
        )
        assert report.parametric.var == pytest.approx(1.6448536270 * sigma, rel=1e-8)
        # the crash scenario: -30% of the AAPL value and -20% of the MSFT value
        assert report.scenario_pnl is not None
        assert float(report.scenario_pnl["total"]) == pytest.approx(
            -0.3 * values["AAPL"] - 0.2 * values["MSFT"]
        )

        # -- a pre-trade refusal that names the limit ---------------------------------------------
        with pytest.raises(
            RiskCheckFailed,
            match=r"max_var refused the order: historical VaR at 95% over 1 day\(s\) would be [0-9.]+, above the limit max_var 2000",
        ):
            await integration.place_external_order(
                "broker", {"symbol": "AAPL", "side": "buy", "quantity": "500"}, idempotency_key="e2e-big"
            )

        # -- a performance export R reads ---------------------------------------------------------
        performance = await integration.get_performance(account, days[0], today)
        assert performance.valuations[0].value == D("100000")
        assert performance.valuations[-1].value == performance.valuations[-1].value.quantize(D("0.0001"))
        await integration.export_data("asset_returns", "file://returns.csv", {"format": "csv"})
        await integration.export_data("risk", "file://risk.pdf", {"format": "pdf"})
        exported = await integration.get_risk(account)  # the export's figures: 99%, one day

    # -- post-trade: a stricter configuration on the same book, checked as the limit_breaches export -
    strict = _alpaca(limit=2000)
    strict["trading"]["risk"]["default"]["max_gross_exposure"] = {"limit": 3000}
    async with AsyncIntegration(strict, plugins=PluginManager()) as integration:
        await integration.export_data("limit_breaches", "file://breaches.csv", {"format": "csv"})
        alerts = [a for a in integration.monitor.alerts.active() if a.rule == "risk_limit"]
    gross = f"{values['AAPL'] + values['MSFT']:.2f}"
    assert (tmp_path / "breaches.csv").read_text().splitlines()[1:] == [
        f"broker,{account},{today.isoformat()},max_gross_exposure,gross exposure,{gross},3000,true",
        f"broker,{account},{today.isoformat()},max_var,historical VaR,{losses[tail - 1]:.2f},2000,false",
    ]
    assert [(a.subject, a.severity) for a in alerts] == [(f"{account}:max_gross_exposure", "critical")]
    assert alerts[0].summary == f"{account}: gross exposure {gross} breaches max_gross_exposure 3000"

    script = (
        "suppressMessages(library(xts)); "
        'R <- as.xts(read.zoo("returns.csv", header=TRUE, sep=",", format="%Y-%m-%d")); '
        'cat(nrow(R), ncol(R), colnames(R), "\\n"); cat(format(start(R)), format(end(R)), "\\n"); '
        'cat(sprintf("%.10f", R[1, "AAPL"]), sprintf("%.10f", R[nrow(R), "MSFT"]), "\\n")'
    )
    out = subprocess.run([rscript, "-e", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    shape, span, figures = out.stdout.strip().splitlines()
    assert shape.split() == [str(len(ordered) - 1), "2", "AAPL", "MSFT"]
    assert span.split() == [ordered[1].isoformat(), ordered[-1].isoformat()]
    assert figures.split() == [f"{rets['AAPL'][0]:.10f}", f"{rets['MSFT'][-1]:.10f}"]

    # -- the risk report's page renders, and shows the VaR ------------------------------------------
    rendered = subprocess.run(
        [pdftoppm, "-png", "-r", "50", str(tmp_path / "risk.pdf"), str(tmp_path / "page")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert (tmp_path / "page-1.png").stat().st_size > 1000
    from pypdf import PdfReader

    box = PdfReader(tmp_path / "risk.pdf").pages[0].mediabox
    assert box.width > box.height  # eleven columns: the page turns landscape so they do not overlap
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "risk.pdf"), "-"], capture_output=True, text=True, timeout=60
    ).stdout
    assert exported.historical is not None and exported.parametric is not None
    # at 99% over 59 days the historical VaR is the worst day's loss of the independent list
    assert f"{exported.historical.var:.2f}" == f"{losses[0]:.2f}"
    assert f"{exported.historical.var:.2f}" in text and f"{exported.parametric.var:.2f}" in text
