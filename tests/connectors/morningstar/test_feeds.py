"""Morningstar's file feeds through the import pipeline with their versioned mappings (CSV and XLSX)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from portico.clock import FakeClock
from portico.connectors.morningstar.feeds import FEEDS, feed_mapping, mapping_path
from portico.errors import ConfigurationError
from portico.jobs import JobService
from portico.store import Database

HOLDINGS_HEADER = [
    "Portfolio SecId",
    "Portfolio Date",
    "Security Name",
    "Ticker",
    "ISIN",
    "Shares",
    "Price",
    "Currency",
]
HOLDINGS = [
    ["F00000YOOK", "12/31/2025", "Microsoft Corp", "MSFT", "US5949181045", "41,000", "415.10", "US Dollar"],
    ["F00000YOOK", "12/31/2025", "Apple Inc", "AAPL", "US0378331005", "52,000", "228.40", "US Dollar"],
    [
        "F0AUS05U7H",
        "12/31/2025",
        "Novo Nordisk A/S Class B",
        "NOVO B",
        "DK0062498333",
        "33,000",
        "870.00",
        "Danish Krone",
    ],
]


@pytest.fixture
def service(portico_home: Path) -> Iterator[JobService]:
    db = Database()
    svc = JobService(db=db, clock=FakeClock(), config={})
    yield svc
    svc.shutdown()
    db.dispose()


def rows(service: JobService, table: str) -> list[dict[str, Any]]:
    with service.importer.db.begin() as conn:
        found = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY line")).mappings().all()
    return [dict(r) for r in found]


def csv(path: Path, header: list[str], body: list[list[str]]) -> Path:
    def line(cells: list[str]) -> str:
        return ",".join(f'"{c}"' if "," in c else c for c in cells)

    path.write_text("\n".join([line(header), *(line(r) for r in body)]) + "\n", encoding="utf-8")
    return path


def test_every_feed_mapping_loads_and_names_its_record_type() -> None:
    for name, data_type in FEEDS.items():
        mapping = feed_mapping(name)
        assert (mapping.name, mapping.data_type, mapping.version) == (name, data_type, 1)
        assert mapping_path(name).is_file()
    with pytest.raises(ConfigurationError, match="unknown Morningstar feed mapping"):
        mapping_path("morningstar_everything")


def test_holdings_export_csv_loads_as_positions(service: JobService, tmp_path: Path) -> None:
    path = csv(tmp_path / "holdings_2025-12-31.csv", HOLDINGS_HEADER, HOLDINGS)
    result = service.importer.import_file(path, "positions", mapping=feed_mapping("morningstar_holdings"))
    assert result.status == "loaded", result.error
    assert (result.mapping, result.mapping_version, result.loaded) == ("morningstar_holdings", 1, 3)
    loaded = rows(service, "portico_import_positions")
    assert [(r["account"], r["symbol"], r["currency"], r["date"]) for r in loaded] == [
        ("F00000YOOK", "MSFT", "USD", "2025-12-31"),
        ("F00000YOOK", "AAPL", "USD", "2025-12-31"),
        ("F0AUS05U7H", "NOVO B", "DKK", "2025-12-31"),
    ]
    assert Decimal(str(loaded[0]["quantity"])) == Decimal("41000")
    assert Decimal(str(loaded[0]["price"])) == Decimal("415.10")


def test_holdings_export_xlsx_by_mapping_path(service: JobService, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HOLDINGS_HEADER)
    for row in HOLDINGS[:2]:
        sheet.append(row)
    path = tmp_path / "holdings.xlsx"
    book.save(path)
    result = service.importer.import_file(
        path, "positions", mapping=str(mapping_path("morningstar_holdings"))
    )
    assert result.status == "loaded", result.error
    assert result.loaded == 2


def test_a_currency_the_mapping_does_not_know_is_quarantined_not_guessed(
    service: JobService, tmp_path: Path
) -> None:
    body = [
        *HOLDINGS[:2],
        ["F00000YOOK", "12/31/2025", "Gold", "GLD", "US78463V1070", "10", "190", "Doubloons"],
    ]
    result = service.importer.import_file(csv(tmp_path / "h.csv", HOLDINGS_HEADER, body), "positions",
                                          mapping=feed_mapping("morningstar_holdings"))  # fmt: skip
    assert result.status == "partial"
    assert (result.loaded, result.quarantined) == (2, 1)
    assert "Doubloons" in str(result.quarantine[0])


def test_a_date_in_another_format_is_rejected_with_the_line(service: JobService, tmp_path: Path) -> None:
    body = [
        HOLDINGS[0],
        ["F00000YOOK", "2025-12-31", "Apple Inc", "AAPL", "US0378331005", "1", "2", "US Dollar"],
    ]
    result = service.importer.import_file(csv(tmp_path / "h.csv", HOLDINGS_HEADER, body), "positions",
                                          mapping=feed_mapping("morningstar_holdings"))  # fmt: skip
    assert (result.loaded, result.rejected) == (1, 1)
    assert "date" in str(result.rejects[0])


def test_return_index_export_loads_as_prices(service: JobService, tmp_path: Path) -> None:
    header = ["SecId", "Date", "Return Index", "Currency"]
    body = [
        ["FOUSA00DFS", "2021-09-23", "129.92672", "US Dollar"],
        ["FOUSA00DFS", "2021-09-24", "129.56781", "US Dollar"],
    ]
    result = service.importer.import_file(csv(tmp_path / "ri.csv", header, body), "prices",
                                          mapping=feed_mapping("morningstar_return_index"))  # fmt: skip
    assert result.status == "loaded", result.error
    loaded = rows(service, "portico_import_prices")
    assert [(r["symbol"], r["date"], str(r["close"]), r["source"]) for r in loaded] == [
        ("FOUSA00DFS", "2021-09-23", "129.92672", "morningstar"),
        ("FOUSA00DFS", "2021-09-24", "129.56781", "morningstar"),
    ]
