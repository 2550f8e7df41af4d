"""The analytics exports from the command line, on the embedded store, with no config file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from portico.cli import main


def _portico(*args: str) -> tuple[int, str]:
    with CliRunner().isolation() as (_stdout, _stderr, output):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return code, output.getvalue().decode()


def test_asset_returns_and_factor_tables_export_from_imported_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prices.csv").write_text(
        "symbol,date,close,currency\n"
        "AAPL,2026-03-02,100,USD\nAAPL,2026-03-03,102,USD\nAAPL,2026-03-04,99.96,USD\n"
        "MSFT,2026-03-02,400,USD\nMSFT,2026-03-04,404,USD\n"
    )
    (tmp_path / "factors.csv").write_text(
        "benchmark,date,simple_return\nMKT,2026-03-03,0.01\nMKT,2026-03-04,-0.005\n"
    )
    (tmp_path / "exposures.csv").write_text(
        "date,symbol,factor,exposure\n2026-03-03,AAPL,size,1.5\n2026-03-03,AAPL,value,-0.2\n"
    )
    for name, data_type in (
        ("prices.csv", "prices"),
        ("factors.csv", "benchmark_returns"),
        ("exposures.csv", "factor_exposures"),
    ):
        code, out = _portico("import", str(tmp_path / name), "--type", data_type)
        assert code == 0, out
    code, out = _portico("export", "--type", "asset_returns", "--destination", "file://returns.csv")
    assert code == 0, out
    # AAPL: 102/100 - 1 = 0.02, 99.96/102 - 1 = -0.02; MSFT has no 3 March price: empty (NA), then 404/400 - 1
    assert (tmp_path / "returns.csv").read_text().splitlines() == [
        "Date,AAPL,MSFT",
        "2026-03-03,0.02,",
        "2026-03-04,-0.02,0.01",
    ]
    code, out = _portico("export", "--type", "factor_returns", "--destination", "file://wide.csv")
    assert code == 0, out
    # only days where every asset and factor has a value
    assert (tmp_path / "wide.csv").read_text().splitlines() == [
        "DATE,AAPL,MSFT,MKT",
        "2026-03-04,-0.02,0.01,-0.005",
    ]
    code, out = _portico("export", "--type", "factor_panel", "--destination", "file://panel.csv")
    assert code == 0, out
    assert (tmp_path / "panel.csv").read_text().splitlines() == [
        "DATE,TICKER,RETURN,size,value",
        "2026-03-03,AAPL,0.02,1.5,-0.2",
    ]
