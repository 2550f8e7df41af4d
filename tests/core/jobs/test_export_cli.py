"""``portico export`` through the real CLI: export types and formats listed truthfully, numbers kept as
numbers, destinations confined to the allowed roots, OS errors as one line with no partial file, and
parquet without pyarrow."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from portico.cli import main
from portico.clock import FakeClock
from portico.errors import PorticoError
from portico.jobs import DataExporter, FormatRegistry
from portico.store import Database
from tests.core.jobs.conftest import GOOD, HEADER, write

EXPORT_FORMATS = "camt053, csv, json, jsonl, parquet, pdf, psv, semt002, xlsx, xml"


@dataclass
class _Run:
    exit_code: int
    output: str


def _portico(*args: str) -> _Run:
    """Run the console script's ``main`` (which turns user mistakes into one line and an exit code)."""
    with CliRunner().isolation() as (_stdout, _stderr, output):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return _Run(code, output.getvalue().decode())


def _one_error_line(result: _Run) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def work(tmp_path: Path, portico_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding imported positions (one quantity with 26 significant digits)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    source = write(tmp_path / "positions.psv", HEADER, *GOOD, "A3|US0378331005|AAPL|12345678901234.123456789012|190.5|USD|2026-01-05")
    assert _portico("import", str(source), "--type", "positions").exit_code == 0
    return folder


# -- 13.16: types, formats, .dat, JSON numbers ---------------------------------------------------------


def test_a_wrong_type_lists_the_export_types_not_the_record_types(work: Path) -> None:
    line = _one_error_line(_portico("export", "--type", "nope", "--destination", "file://out.csv"))
    assert line.startswith("error: unknown export type 'nope'; export types: ")
    listed = line.split("export types: ", 1)[1].split(", ")
    for expected in ("positions", "transactions", "orders", "executions", "portfolio_summary", "reconciliation_breaks", "market_data"):
        assert expected in listed
    assert "known record types" not in line
    assert not (work / "out.csv").exists()


def test_a_wrong_format_lists_exactly_the_export_formats(work: Path) -> None:
    line = _one_error_line(_portico("export", "--type", "positions", "--format", "jsonn", "--destination", "file://out.json"))
    assert line == f"error: unknown export format 'jsonn'; export formats: {EXPORT_FORMATS}"
    line = _one_error_line(_portico("export", "--type", "positions", "--format", "fixed_width", "--destination", "file://out.fw"))
    assert "fixed_width" in line and "data_export.formats.fixed_width" in line
    assert not (work / "out.fw").exists()


def test_every_listed_export_format_writes(work: Path) -> None:
    for fmt in EXPORT_FORMATS.split(", "):
        if fmt in ("camt053", "semt002"):
            # camt.053 is written from cash flows; semt.002 refuses this data's 26-digit quantity (the
            # schema allows 18): both are tested in tests/core/jobs/iso
            continue
        result = _portico("export", "--type", "positions", "--format", fmt, "--destination", f"file://out/positions.{fmt}")
        assert result.exit_code == 0, (fmt, result.output)
        assert f"exported 4 positions rows as {fmt}" in result.output
    assert (work / "out" / "positions.pdf").read_bytes().startswith(b"%PDF")


def test_fixed_width_is_an_export_format_once_its_layout_is_configured(work: Path) -> None:
    config = work / "portico.yaml"
    config.write_text("data_export:\n  formats:\n    fixed_width:\n      layout: [{name: account, width: 4}, {name: symbol, width: 6}]\n")
    result = _portico("export", "--type", "positions", "--format", "fixed_width", "--columns", "account,symbol", "--destination", "file://out.fw", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert (work / "out.fw").read_text() == "A1  AAPL\nA1  MSFT\nA2  AAPL\nA3  AAPL\n"


def test_a_dat_destination_needs_a_format(work: Path) -> None:
    line = _one_error_line(_portico("export", "--type", "positions", "--destination", "file://out.dat"))
    assert "out.dat" in line and "--format" in line
    assert not (work / "out.dat").exists()
    assert _portico("export", "--type", "positions", "--format", "psv", "--destination", "file://out.dat").exit_code == 0
    assert (work / "out.dat").read_text().splitlines()[0] == "account|isin|symbol|quantity|price|currency|date"


def test_a_bare_file_name_destination_takes_its_format_from_the_extension(work: Path) -> None:
    assert _portico("export", "--type", "positions", "--destination", "file://out.csv").exit_code == 0
    assert (work / "out.csv").read_text().startswith("account,isin,symbol,quantity,")


def test_json_and_jsonl_write_decimals_as_exact_numbers(work: Path) -> None:
    assert _portico("export", "--type", "positions", "--destination", "file://out.json").exit_code == 0
    text = (work / "out.json").read_text()
    assert '"quantity": 12345678901234.123456789012' in text and '"price": 190.5' in text
    rows = json.loads(text, parse_float=Decimal)
    assert [r["quantity"] for r in rows] == [Decimal(100), Decimal(-5), Decimal("250.25"), Decimal("12345678901234.123456789012")]
    assert rows[0]["date"] == "2026-01-05" and rows[0]["account"] == "A1"
    assert _portico("export", "--type", "positions", "--destination", "file://out.jsonl").exit_code == 0
    last = json.loads((work / "out.jsonl").read_text().splitlines()[-1], parse_float=Decimal)
    assert last["quantity"] == Decimal("12345678901234.123456789012") and last["price"] == Decimal("190.5")


# -- 14.18: confinement ---------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    "destination",
    [
        "file://../outside/x.csv",
        "file://%2e%2e/outside/x.csv",
        "file://.%2E/outside/x.csv",
        "file://reports/../../outside/x.csv",
        "file://link/x.csv",
        "file://~/x.csv",
    ],
)
def test_destinations_outside_the_allowed_roots_are_refused(work: Path, outside: Path, monkeypatch: pytest.MonkeyPatch, destination: str) -> None:
    monkeypatch.setenv("HOME", str(outside))
    (work / "link").symlink_to(outside, target_is_directory=True)
    line = _one_error_line(_portico("export", "--type", "positions", "--destination", destination))
    assert "outside the allowed export roots" in line and "data_export.allowed_roots" in line
    assert list(outside.iterdir()) == []


def test_an_absolute_system_path_is_refused(work: Path) -> None:
    target = Path("/etc/portico-confinement-probe.csv")
    try:
        line = _one_error_line(_portico("export", "--type", "positions", "--destination", f"file://{target}"))
        assert "outside the allowed export roots" in line
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_the_default_roots_are_the_working_directory_and_the_homes_exports(work: Path, portico_home: Path) -> None:
    assert _portico("export", "--type", "positions", "--destination", "file://reports/x.csv").exit_code == 0
    assert (work / "reports" / "x.csv").is_file()
    inside_home = portico_home / "exports" / "daily" / "x.csv"
    assert _portico("export", "--type", "positions", "--destination", f"file://{inside_home}").exit_code == 0
    assert inside_home.is_file()
    # a link that stays inside a root is fine
    (work / "inner").symlink_to(work / "reports", target_is_directory=True)
    assert _portico("export", "--type", "positions", "--destination", "file://inner/y.csv").exit_code == 0
    assert (work / "reports" / "y.csv").is_file()


def test_configured_roots_replace_the_defaults(work: Path, outside: Path) -> None:
    config = work / "portico.yaml"
    config.write_text(f"data_export:\n  allowed_roots: [{json.dumps(str(outside))}]\n")
    ok = _portico("export", "--type", "positions", "--destination", f"file://{outside / 'x.csv'}", "--config", str(config))
    assert ok.exit_code == 0, ok.output
    assert (outside / "x.csv").is_file()
    line = _one_error_line(_portico("export", "--type", "positions", "--destination", "file://x.csv", "--config", str(config)))
    assert "outside the allowed export roots" in line and str(outside) in line
    assert not (work / "x.csv").exists()


# -- 14.19 / 13.15: OS errors are one line, nothing partial is left ----------------------------------------


@pytest.fixture
def read_only_dir(work: Path) -> Iterator[Path]:
    """A directory nobody may create files in; root ignores mode bits, so it is also made immutable."""
    folder = work / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True, check=False).returncode != 0:
            folder.chmod(0o755)
            pytest.skip("running as root on a filesystem without immutable directories: no read-only directory to test")
        immutable = True
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_read_only_directory_is_one_line(work: Path, read_only_dir: Path) -> None:
    line = _one_error_line(_portico("export", "--type", "positions", "--destination", "file://ro/x.csv"))
    assert line.startswith("error: cannot write the export to ") and "ro/x.csv" in line
    assert list(read_only_dir.iterdir()) == []


def test_a_parent_that_is_a_file_is_one_line(work: Path) -> None:
    (work / "afile").write_text("not a folder\n")
    line = _one_error_line(_portico("export", "--type", "positions", "--destination", "file://afile/x.csv"))
    assert line.startswith("error: cannot write the export to ") and "afile/x.csv" in line
    assert (work / "afile").read_text() == "not a folder\n"


def test_parquet_exports_without_pyarrow(work: Path, portico_home: Path) -> None:
    """polars writes parquet itself: an install without the pyarrow extra still exports it."""
    script = "import sys; sys.modules['pyarrow'] = None; from portico.cli import main; main(sys.argv[1:])"
    env = {**os.environ, "PORTICO_HOME": str(portico_home)}
    done = subprocess.run(
        [sys.executable, "-c", script, "export", "--type", "positions", "--destination", "file://./out.parquet"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    import polars as pl

    frame = pl.read_parquet(work / "out.parquet")
    assert frame.columns == ["account", "isin", "symbol", "quantity", "price", "currency", "date"]
    assert frame["quantity"].to_list() == ["100", "-5", "250.25", "12345678901234.123456789012"]
    assert frame["account"].to_list() == ["A1", "A1", "A2", "A3"]


class _FillsTheDisk:
    """A format whose writes run out of space part-way, as on a full disk (ENOSPC from write)."""

    name = "full"
    extensions: tuple[str, ...] = (".full",)
    line_numbers = False
    columnar = False

    def read(self, stream: Any, options: Any, *, file: str) -> Any:
        raise NotImplementedError

    def write(self, rows: Any, columns: list[str], stream: Any, options: Any) -> int:
        stream.write(b"x" * 65536)
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_is_one_line_and_keeps_the_previous_file(work: Path, db: Database, clock: FakeClock) -> None:
    from portico.jobs import plugin as jobs_plugin

    exporter = DataExporter(db=db, clock=clock, formats=FormatRegistry([*jobs_plugin.portico_formats(), _FillsTheDisk()]))
    (work / "out.full").write_text("yesterday\n")
    with pytest.raises(PorticoError) as caught:
        exporter.export("positions", "file://./out.full")
    assert str(caught.value) == f"cannot write the export to {work / 'out.full'}: No space left on device"
    assert (work / "out.full").read_text() == "yesterday\n"
    assert sorted(p.name for p in work.iterdir()) == ["out.full"]
