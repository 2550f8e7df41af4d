"""DataExporter: every writable format, shaping options, atomic files, PDF/XLSX reports, mailto and HTTP."""

from __future__ import annotations

import asyncio
import email
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from portico.errors import ConfigurationError
from portico.jobs import DataExporter, JobService
from tests.core.jobs.conftest import GOOD, HEADER, write


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # file:// exports are confined to the working directory and PORTICO_HOME/exports by default
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def loaded(service, tmp_path: Path):
    service.importer.import_file(write(tmp_path / "in.psv", HEADER, *GOOD), "positions")
    return service


@pytest.mark.parametrize("fmt", ["csv", "psv", "json", "jsonl", "xml", "xlsx", "parquet"])
def test_export_in_every_format_reimports_identically(loaded, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    result = loaded.exporter.export("positions", f"file://{out}", {"format": fmt})
    assert result.rows == 3 and out.is_file() and result.bytes == out.stat().st_size
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    back = loaded.importer.import_file(out, "positions", source_key=f"re-{fmt}")
    assert back.status == "loaded" and back.loaded == 3
    assert back.control_totals["source"]["sums"] == {"quantity": "345.25"}


def test_columns_rename_filters_decimals_and_gzip(loaded, tmp_path: Path) -> None:
    out = tmp_path / "sel.csv.gz"
    result = loaded.exporter.export(
        "positions",
        f"file://{out}",
        {"format": "csv", "columns": {"account": "Account", "quantity": "Qty"}, "filters": {"currency": "USD", "quantity": {"gt": 0}}, "decimals": 2},
    )
    assert result.rows == 1
    assert gzip.decompress(out.read_bytes()).decode() == "Account,Qty\nA1,100.00\n"
    with pytest.raises(ConfigurationError, match="unknown columns"):
        loaded.exporter.export("positions", f"file://{tmp_path / 'x.csv'}", {"columns": ["nope"]})
    with pytest.raises(ConfigurationError, match="unknown filter operator"):
        loaded.exporter.export("positions", f"file://{tmp_path / 'x.csv'}", {"filters": {"quantity": {"approx": 1}}})


def test_atomic_write_leaves_the_previous_file_when_writing_fails(loaded, tmp_path: Path) -> None:
    out = tmp_path / "fw.fixed"
    out.write_text("previous\n")
    with pytest.raises(Exception, match="fixed_width layout has no width"):
        loaded.exporter.export("positions", f"file://{out}", {"format": "fixed_width", "layout": [{"name": "account", "width": 4}]})
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fw")] == []


def test_portfolio_summary_as_the_plan_configures_it(loaded, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = asyncio.run(loaded.export_data("portfolio_summary", "file://reports/portfolio_summary.json", {"format": "json"}))
    doc = json.loads((tmp_path / "reports" / "portfolio_summary.json").read_text(), parse_float=Decimal)
    assert result.rows == 2
    assert {(d["source"], d["account"], d["currency"], d["market_value"]) for d in doc} == {
        ("import", "A1", "USD", Decimal("17050.0")),
        ("import", "A2", "EUR", Decimal("47672.625")),
    }


def test_formatted_xlsx_report_and_pdf_report(loaded, tmp_path: Path) -> None:
    import openpyxl

    xlsx = tmp_path / "report.xlsx"
    loaded.exporter.export("positions", f"file://{xlsx}", {"report": True})
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    assert sheet["D2"].number_format == "#,##0.00##" and sheet["D2"].value == 100
    pdf = tmp_path / "report.pdf"
    result = loaded.exporter.export("positions", f"file://{pdf}", {"title": "Positions <b>5 Jan</b>"})
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and result.rows == 3
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Positions <b>5 Jan</b>" in text and "US5949181045" in text  # title escaped, rows rendered


def test_mailto_delivers_the_report_through_smtp(db, clock, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.content)
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        svc = JobService(db=db, clock=clock, config={"data_export": {"smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "sender": "reports@portico.test"}}})
        svc.importer.import_file(write(tmp_path / "in.psv", HEADER, *GOOD), "positions")
        svc.exporter.export("positions", "mailto:ops@example.com,risk@example.com?subject=Daily%20positions", {"format": "pdf"})
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    msg = email.message_from_bytes(inbox.messages[0])
    assert msg["Subject"] == "Daily positions" and msg["To"] == "ops@example.com, risk@example.com"
    attachment = next(p for p in msg.walk() if p.get_filename())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_payload(decode=True).startswith(b"%PDF")


def test_mailto_without_smtp_settings_is_a_configuration_error(loaded) -> None:
    with pytest.raises(ConfigurationError, match="SMTP settings"):
        loaded.exporter.export("positions", "mailto:ops@example.com", {"format": "csv"})


def test_http_destination_posts_the_file(loaded) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    loaded.exporter.http_transport = httpx.MockTransport(handler)
    loaded.exporter.export("positions", "https://reports.example.com/upload", {"format": "jsonl"})
    assert seen[0].headers["content-type"] == "application/x-ndjson" and len(seen[0].content.splitlines()) == 3


def test_trading_types_on_a_store_that_never_traded_export_their_header(loaded, tmp_path: Path) -> None:
    """The trading tables are read through their declarations (typed, UTC-aware), not reflected: a store
    without them exports an empty report with the columns, and internal fields stay out."""
    for data_type in ("orders", "executions", "trade_confirmations", "reconciliation_breaks", "book_positions"):
        assert data_type in loaded.exporter.data_types
        target = tmp_path / f"{data_type}.csv"
        result = loaded.exporter.export(data_type, f"file://{target}", {"format": "csv"})
        header = target.read_text().splitlines()
        assert result.rows == 0 and len(header) == 1
    assert (tmp_path / "reconciliation_breaks.csv").read_text().startswith("run_id,as_of,kind,system,account_id,")
    orders_header = (tmp_path / "orders.csv").read_text()
    assert "request_json" not in orders_header and "request_hash" not in orders_header


def test_registered_source_and_scheduled_export_run_now(db, clock, tmp_path: Path) -> None:
    svc = JobService(db=db, clock=clock, sources={"risk": lambda: [{"desk": "EQ", "var": Decimal("1.5")}]})
    job_id = asyncio.run(svc.schedule_export({"id": "risk", "data_type": "risk", "format": "csv", "schedule": "0 20 * * *", "destination": f"file://{tmp_path / 'risk.csv'}"}))
    record = asyncio.run(svc.run_now(job_id))
    assert record["status"] == "exported" and (tmp_path / "risk.csv").read_text() == "desk,var\nEQ,1.5\n"
    assert svc.history(job_id)[0]["manifest"]["rows"] == 1


def test_portfolio_summary_adds_broker_positions_by_source(db, clock, tmp_path: Path) -> None:
    """Broker positions are grouped per system and account next to the imported ones; a position the
    venue gives no value for makes that group's value unknown (null), never silently smaller."""
    held = [
        {"source": "alpaca", "account": "PA-1", "currency": "USD", "quantity": Decimal(3), "market_value": Decimal("558.33"), "as_of": clock.now().date()},
        {"source": "alpaca", "account": "PA-1", "currency": "USD", "quantity": Decimal(1), "market_value": Decimal("0.67"), "as_of": clock.now().date()},
        {"source": "interactive_brokers", "account": "DU1", "currency": "USD", "quantity": Decimal(4), "market_value": None, "as_of": clock.now().date()},
    ]
    svc = JobService(db=db, clock=clock, config={})
    svc.importer.import_file(write(tmp_path / "in.psv", HEADER, *GOOD), "positions")
    exporter = DataExporter(db=db, clock=clock, formats=svc.formats, broker_positions=lambda: held)
    exporter.export("portfolio_summary", "file://summary.json")
    rows = json.loads((tmp_path / "summary.json").read_text(), parse_float=Decimal)
    today = clock.now().date().isoformat()
    assert rows == [
        {"source": "alpaca", "account": "PA-1", "currency": "USD", "as_of": today, "positions": 2, "market_value": Decimal("559.00")},
        {"source": "import", "account": "A1", "currency": "USD", "as_of": "2026-01-05", "positions": 2, "market_value": Decimal("17050.0")},
        {"source": "import", "account": "A2", "currency": "EUR", "as_of": "2026-01-05", "positions": 1, "market_value": Decimal("47672.625")},
        {"source": "interactive_brokers", "account": "DU1", "currency": "USD", "as_of": today, "positions": 1, "market_value": None},
    ]
