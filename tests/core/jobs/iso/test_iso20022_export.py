"""camt.053 and semt.002 writers: schema-valid documents a downstream system (and portico) reads back."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from portico.jobs import FileRejected
from portico.jobs._iso20022 import CAMT053_VERSIONS, SEMT002_VERSIONS, parse_document, statement_totals
from tests.core.jobs.conftest import stored

FLOWS = [
    {
        "flow_id": "F1",
        "account": "CH9300762011623852957",
        "date": "2026-01-05",
        "amount": "2000.00",
        "currency": "CHF",
        "type": "PMNT/RCDT/ESCT",
    },
    {
        "flow_id": "F2",
        "account": "CH9300762011623852957",
        "date": "2026-01-05",
        "amount": "-749.50",
        "currency": "CHF",
        "type": None,
    },
    {
        "flow_id": "F3",
        "account": "BROKER-CASH-1",
        "date": "2026-01-04",
        "amount": "-10",
        "currency": "USD",
        "type": "FEE",
    },
]
POSITIONS = [
    {
        "account": "A1",
        "isin": "US0378331005",
        "symbol": "AAPL",
        "quantity": "100",
        "price": "190.5",
        "currency": "USD",
        "date": "2026-01-05",
    },
    {
        "account": "A1",
        "isin": "US5949181045",
        "symbol": "MSFT",
        "quantity": "-5",
        "price": "400",
        "currency": "USD",
        "date": "2026-01-05",
    },
    {
        "account": "A2",
        "isin": "US0378331005",
        "symbol": "AAPL",
        "quantity": "250.25",
        "price": "190.5",
        "currency": "EUR",
        "date": "2026-01-05",
    },
]


def _camt(rows, **options) -> bytes:
    from portico.jobs._iso20022 import Camt053Format

    buf = io.BytesIO()
    Camt053Format().write(rows, [], buf, options)
    return buf.getvalue()


def test_camt053_writer_produces_a_valid_balanced_statement_per_account_and_currency() -> None:
    data = _camt(
        FLOWS, opening_balances={"CH9300762011623852957/CHF": "10000.00"}, created="2026-01-05T18:00:00"
    )
    assert data.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
    )
    doc = parse_document(data, CAMT053_VERSIONS, file="out.xml")
    assert doc.problems == []
    assert [t.to_dict() for t in statement_totals(doc)] == [
        {
            "statement": "PORTICO-2026-01-05-1",
            "account": "BROKER-CASH-1",
            "currency": "USD",
            "opening": "0",
            "entries": "-10",
            "closing": "-10",
            "count": 1,
            "balanced": True,
        },
        {
            "statement": "PORTICO-2026-01-05-2",
            "account": "CH9300762011623852957",
            "currency": "CHF",
            "opening": "10000.00",
            "entries": "1250.50",
            "closing": "11250.50",
            "count": 2,
            "balanced": True,
        },
    ]


def test_camt053_written_by_portico_imports_back_into_the_same_flows(service, db, tmp_path: Path) -> None:
    path = tmp_path / "camt053_out.xml"
    path.write_bytes(_camt(FLOWS, opening_balances={"CH9300762011623852957/CHF": "10000.00"}))
    result = service.importer.import_file(path, "cash_flows", format="camt053")
    assert result.status == "loaded", result.error
    assert sorted(
        (r["flow_id"], r["amount"], r["currency"], r["type"]) for r in stored(db, "portico_import_cash_flows")
    ) == [
        ("BROKER-CASH-1:F3", "-10", "USD", "FEE"),
        ("CH9300762011623852957:F1", "2000.00", "CHF", "PMNT/RCDT/ESCT"),
        ("CH9300762011623852957:F2", "-749.50", "CHF", "PORTICO"),
    ]


def test_semt002_export_of_the_loaded_positions_reads_back_identically(service, db, tmp_path: Path) -> None:
    source = tmp_path / "positions.jsonl"
    source.write_text("".join(__import__("json").dumps(r) + "\n" for r in POSITIONS))
    assert service.importer.import_file(source, "positions").status == "loaded"
    target = tmp_path / "exports" / "holdings.xml"
    service.exporter.allowed_roots = [str(tmp_path)]
    exported = service.exporter.export(
        "positions", f"file://{target}", {"format": "semt002", "account": "A1"}
    )
    assert exported.rows == 3
    doc = parse_document(target.read_bytes(), SEMT002_VERSIONS, file="holdings.xml")
    assert doc.problems == []
    from portico.jobs._iso20022 import holding_records

    assert [
        (r["account"], r["isin"], r["quantity"], r["price"], r["currency"])
        for _, r, _ in holding_records(doc)
    ] == [
        ("A1", "US0378331005", "100", "190.5", "USD"),
        ("A1", "US5949181045", "-5", "400", "USD"),
        ("A2", "US0378331005", "250.25", "190.5", "EUR"),
    ]


def test_writer_refuses_a_value_the_schema_does_not_allow() -> None:
    from portico.jobs._iso20022 import Semt002Format

    bad = [dict(POSITIONS[0], isin="us0378331005")]
    with pytest.raises(FileRejected) as caught:
        Semt002Format().write(bad, [], io.BytesIO(), {})
    assert str(caught.value) == (
        "would write an invalid semt.002.001.11: /Document/SctiesBalCtdyRpt/BalForAcct[1]/FinInstrmId/ISIN: "
        "'us0378331005' does not match the pattern [A-Z]{2,2}[A-Z0-9]{9,9}[0-9]{1,1}"
    )


def test_writer_refuses_an_amount_that_is_not_a_number() -> None:
    with pytest.raises(FileRejected, match="amount of flow F1 'lots' is not a number"):
        _camt([dict(FLOWS[0], amount="lots")])


def test_writer_refuses_more_decimals_than_the_schema_allows() -> None:
    with pytest.raises(
        FileRejected, match=r"Stmt\[1\]/Bal\[2\]/Amt: 1.123456 has more than 5 decimals \(and 1 more\)"
    ):
        _camt([dict(FLOWS[0], amount="1.123456")])


def test_empty_holdings_are_a_clear_error() -> None:
    from portico.jobs._iso20022 import Semt002Format

    with pytest.raises(FileRejected, match="a semt.002 statement needs at least one position"):
        Semt002Format().write([], [], io.BytesIO(), {})


def test_camt054_has_no_writer_and_is_no_export_format(service) -> None:
    from portico.errors import ConfigurationError

    assert "camt054" not in service.exporter.export_formats
    assert {"camt053", "semt002"} <= set(service.exporter.export_formats)
    with pytest.raises(ConfigurationError, match="the camt054 format has no writer"):
        service.formats.get("camt054").write([], [], io.BytesIO(), {})


def test_opening_balance_key_must_name_account_and_currency() -> None:
    with pytest.raises(FileRejected, match="opening_balances keys are 'account/currency', got 'CHF'"):
        _camt(FLOWS, opening_balances={"CHF": "1"})


def test_camt053_from_rows_that_are_not_cash_flows_is_a_clear_error() -> None:
    with pytest.raises(
        FileRejected,
        match=r"a camt.053 document is written from cash_flows rows; these rows lack \['flow_id', 'amount'\]",
    ):
        _camt(POSITIONS)
