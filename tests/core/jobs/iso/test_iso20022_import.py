"""ISO 20022 imports: semt.002 into positions, camt.053 into cash balances and movements, camt.054 into movements.

Expected values are read off the test files by hand (tests/core/jobs/data/iso), never from the code.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.core.jobs.conftest import stored

DATA = Path(__file__).resolve().parents[1] / "data" / "iso"
HOSTILE = DATA / "hostile"


def _rejects(db) -> list[dict]:
    with db.begin() as conn:
        rows = (
            conn.execute(sa.text("SELECT line, field, reason, raw FROM portico_import_rejects ORDER BY line"))
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


# -- camt.053 -----------------------------------------------------------------------------------


def test_camt053_v08_entries_load_as_cash_flows_with_signs_and_transaction_codes(service, db) -> None:
    result = service.importer.import_file(DATA / "camt053_001_08.xml", "cash_flows", format="camt.053")
    assert result.status == "loaded", result.error
    assert result.format == "camt053"
    rows = [
        (r["flow_id"], r["account"], r["date"], r["amount"], r["currency"], r["type"])
        for r in stored(db, "portico_import_cash_flows")
    ]
    assert rows == [
        (
            "CH9300762011623852957:BANKREF-0001",
            "CH9300762011623852957",
            "2026-01-05",
            "2000.00",
            "CHF",
            "PMNT/RCDT/ESCT",
        ),
        (
            "CH9300762011623852957:BANKREF-0002",
            "CH9300762011623852957",
            "2026-01-05",
            "-749.50",
            "CHF",
            "PMNT/ICDT/ESCT",
        ),
        ("CH9300762011623852957:BANKREF-0003", "CH9300762011623852957", "2026-01-05", "0.00", "CHF", "NOTE"),
    ]
    assert result.stage("parsing").detail["statement_totals"] == [
        {
            "statement": "STMT-CH93-20260105",
            "account": "CH9300762011623852957",
            "currency": "CHF",
            "opening": "10000.00",
            "entries": "1250.50",
            "closing": "11250.50",
            "count": 3,
            "balanced": True,
        }
    ]


def test_camt053_v08_balances_load_as_cash_balances(service, db) -> None:
    result = service.importer.import_file(DATA / "camt053_001_08.xml", "cash_balances", format="camt053")
    assert result.status == "loaded", result.error
    rows = [
        (r["account"], r["date"], r["type"], r["amount"], r["currency"], r["statement"])
        for r in stored(db, "portico_import_cash_balances")
    ]
    assert rows == [
        ("CH9300762011623852957", "2026-01-05", "OPBD", "10000.00", "CHF", "STMT-CH93-20260105"),
        ("CH9300762011623852957", "2026-01-05", "CLBD", "11250.50", "CHF", "STMT-CH93-20260105"),
    ]
    assert result.control_totals["source"]["sums"] == {"amount": "21250.5"}


def test_camt053_v02_two_statements_pending_entry_rejected_with_its_xpath(service, db) -> None:
    result = service.importer.import_file(DATA / "camt053_001_02.xml", "cash_flows", format="camt053")
    assert result.status == "partial", result.error
    assert (result.records, result.loaded, result.rejected) == (3, 2, 1)
    assert [(r["flow_id"], r["amount"], r["currency"]) for r in stored(db, "portico_import_cash_flows")] == [
        ("DE89370400440532013000:DE-REF-1", "1700.00", "EUR"),
        ("US-CASH-77:US-REF-9", "-50.00", "USD"),
    ]
    reject = _rejects(db)[0]
    assert reject["field"] == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]"
    assert (
        reject["reason"]
        == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]: entry status PDNG is not booked (BOOK): not a cash movement yet"
    )
    totals = {
        (t["statement"], t["currency"]): (t["opening"], t["entries"], t["closing"])
        for t in result.stage("parsing").detail["statement_totals"]
    }
    # the previous closing (PRCD, debit) opens the EUR statement: -500 + 1700 = 1200
    assert totals == {
        ("STMT-EUR-0001", "EUR"): ("-500.00", "1700.00", "1200.00"),
        ("STMT-USD-0001", "USD"): ("250.00", "-50.00", "200.00"),
    }


def test_camt053_v02_balances_include_every_balance_type(service, db) -> None:
    result = service.importer.import_file(DATA / "camt053_001_02.xml", "cash_balances", format="camt053")
    assert result.status == "loaded", result.error
    assert [(r["account"], r["type"], r["amount"]) for r in stored(db, "portico_import_cash_balances")] == [
        ("DE89370400440532013000", "PRCD", "-500.00"),
        ("DE89370400440532013000", "CLBD", "1200.00"),
        ("DE89370400440532013000", "CLAV", "1150.00"),
        ("US-CASH-77", "OPBD", "250.00"),
        ("US-CASH-77", "CLBD", "200.00"),
    ]


def test_statement_that_does_not_add_up_is_refused_naming_the_currency_and_amounts(service, db) -> None:
    result = service.importer.import_file(DATA / "camt053_unbalanced.xml", "cash_flows", format="camt053")
    assert result.status == "failed"
    assert result.error == (
        "camt053_unbalanced.xml: statement STMT-CH93-20260105 (CH9300762011623852957) does not add up in CHF: "
        "opening 10000.00 + entries 1250.50 = 11250.50, closing balance is 11250.51"
    )
    assert stored(db, "portico_import_cash_flows") == []


def test_entry_count_in_the_transaction_summary_is_checked(service, db) -> None:
    result = service.importer.import_file(DATA / "camt053_wrong_count.xml", "cash_balances", format="camt053")
    assert result.status == "failed"
    assert (
        "/Document/BkToCstmrStmt/Stmt[1]/TxsSummry/TtlNtries/NbOfNtries: says 4 entries, the statement has 3"
        in result.error
    )
    assert stored(db, "portico_import_cash_balances") == []


def test_schema_invalid_entry_is_rejected_with_the_xpath_of_the_element(service, db) -> None:
    result = service.importer.import_file(DATA / "camt053_invalid_entry.xml", "cash_flows", format="camt053")
    assert result.status == "partial", result.error
    assert (result.loaded, result.rejected) == (2, 1)
    reject = _rejects(db)[0]
    assert reject["line"] == 3
    assert reject["field"] == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[3]"
    assert reject["reason"] == (
        "/Document/BkToCstmrStmt/Stmt[1]/Ntry[3]: not schema-valid: /Document/BkToCstmrStmt/Stmt[1]/Ntry[3]/AcctSvcrRef: longer than 35 characters"
    )


def test_schema_problem_outside_any_entry_refuses_the_file(service, db) -> None:
    result = service.importer.import_file(DATA / "camt053_missing_msgid.xml", "cash_flows", format="camt053")
    assert result.status == "failed"
    assert (
        result.error
        == "camt053_missing_msgid.xml: not schema-valid camt.053.001.08: required <MsgId> missing in an element of type GroupHeader81"
    )


def test_element_the_schema_does_not_have_refuses_the_file(service) -> None:
    result = service.importer.import_file(
        DATA / "camt053_unknown_element.xml", "cash_flows", format="camt053"
    )
    assert result.status == "failed"
    assert result.error.startswith("camt053_unknown_element.xml: not schema-valid camt.053.001.08: ")
    assert "Colour" in result.error


def test_unknown_version_names_the_versions_read(service) -> None:
    result = service.importer.import_file(
        DATA / "camt053_unknown_version.xml", "cash_flows", format="camt053"
    )
    assert result.status == "failed"
    assert (
        "unsupported ISO 20022 message 'camt.053.001.13'; this format reads camt.053.001.01, camt.053.001.02,"
        in result.error
    )
    assert result.error.endswith("camt.053.001.12")


def test_camt053_asked_for_positions_is_a_clear_error(service) -> None:
    result = service.importer.import_file(DATA / "camt053_001_08.xml", "positions", format="camt053")
    assert result.status == "failed"
    assert (
        result.error
        == "camt053_001_08.xml: a camt.053 statement holds cash_balances and cash_flows, not positions"
    )


def test_entry_in_an_unknown_currency_is_quarantined_and_its_raw_record_keeps_the_xpath(
    service, db, tmp_path: Path
) -> None:
    text = (DATA / "camt054_001_08.xml").read_text().replace('Ccy="CHF"', 'Ccy="QQQ"')
    path = tmp_path / "notification.xml"
    path.write_text(text)
    result = service.importer.import_file(path, "cash_flows", format="camt.054")
    assert result.status == "partial"
    assert (result.loaded, result.rejected, result.quarantined) == (0, 0, 1)
    with db.begin() as conn:
        entry = conn.execute(sa.text("SELECT field, value, raw FROM portico_dlq")).mappings().one()
    assert (entry["field"], entry["value"]) == ("currency", "QQQ")
    assert json.loads(entry["raw"])["xpath"] == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]"


def test_camt054_notification_entries_load_as_cash_flows(service, db) -> None:
    result = service.importer.import_file(DATA / "camt054_001_08.xml", "cash_flows", format="camt054")
    assert result.status == "loaded", result.error
    assert [(r["flow_id"], r["amount"], r["type"]) for r in stored(db, "portico_import_cash_flows")] == [
        ("CH9300762011623852957:BANKREF-0001", "2000.00", "PMNT/RCDT/ESCT")
    ]


def test_camt053_reimport_of_the_same_bytes_changes_nothing(service, db) -> None:
    first = service.importer.import_file(DATA / "camt053_001_08.xml", "cash_flows", format="camt053")
    again = service.importer.import_file(DATA / "camt053_001_08.xml", "cash_flows", format="camt053")
    assert (first.status, again.status) == ("loaded", "duplicate")
    assert len(stored(db, "portico_import_cash_flows")) == 3


def test_gzipped_statement_is_read_through(service, db, tmp_path: Path) -> None:
    path = tmp_path / "camt053.xml.gz"
    path.write_bytes(gzip.compress((DATA / "camt053_001_08.xml").read_bytes()))
    result = service.importer.import_file(path, "cash_balances", format="camt053")
    assert result.status == "loaded", result.error
    assert result.loaded == 2


# -- semt.002 -----------------------------------------------------------------------------------


def test_semt002_v11_holdings_load_as_positions_short_is_negative(service, db) -> None:
    result = service.importer.import_file(DATA / "semt002_001_11.xml", "positions", format="semt.002")
    assert result.status == "loaded", result.error
    assert [
        (r["account"], r["isin"], r["symbol"], r["quantity"], r["price"], r["currency"], r["date"])
        for r in stored(db)
    ] == [
        ("A1", "US0378331005", "AAPL", "100", "190.5", "USD", "2026-01-05"),
        ("A1", "US5949181045", "MSFT", "-5", "400", "USD", "2026-01-05"),
    ]


def test_semt002_v02_custody_statement_of_holdings(service, db) -> None:
    result = service.importer.import_file(DATA / "semt002_001_02.xml", "positions", format="semt002")
    assert result.status == "loaded", result.error
    assert [
        (r["account"], r["isin"], r["symbol"], r["quantity"], r["price"], r["currency"]) for r in stored(db)
    ] == [("A2", "US0378331005", "APPLE INC", "250.25", "190.5", "EUR")]


def test_semt002_v12_is_refused_naming_the_versions_read(service) -> None:
    result = service.importer.import_file(DATA / "semt002_001_12.xml", "positions", format="semt002")
    assert result.status == "failed"
    assert (
        result.error
        == "semt002_001_12.xml: unsupported ISO 20022 message 'semt.002.001.12'; this format reads semt.002.001.02, semt.002.001.11"
    )


def test_semt002_isin_breaking_the_schema_pattern_rejects_that_holding_by_xpath(service, db) -> None:
    result = service.importer.import_file(
        DATA / "semt002_bad_isin_pattern.xml", "positions", format="semt002"
    )
    assert result.status == "partial"
    assert [r["isin"] for r in stored(db)] == ["US0378331005"]
    reject = _rejects(db)[0]
    assert reject["field"] == "/Document/SctiesBalCtdyRpt/BalForAcct[2]"
    assert (
        "/Document/SctiesBalCtdyRpt/BalForAcct[2]/FinInstrmId/ISIN: 'us5949181045' does not match the pattern"
        in reject["reason"]
    )


def test_semt002_isin_with_a_wrong_check_digit_is_rejected_by_the_record_check(service, db) -> None:
    result = service.importer.import_file(
        DATA / "semt002_bad_isin_check_digit.xml", "positions", format="semt002"
    )
    assert result.status == "partial"
    reject = _rejects(db)[0]
    assert reject["field"] == "isin"
    assert json.loads(reject["raw"])["xpath"] == "/Document/SctiesBalCtdyRpt/BalForAcct[2]"


def test_semt002_asked_for_cash_flows_is_a_clear_error(service) -> None:
    result = service.importer.import_file(DATA / "semt002_001_11.xml", "cash_flows", format="semt002")
    assert result.error == "semt002_001_11.xml: a semt.002 statement holds positions, not cash_flows"


def test_format_names_and_aliases_are_registered(service) -> None:
    assert {"camt053", "camt054", "semt002"} <= set(service.formats.names)
    assert service.formats.get("camt.053").name == "camt053"
    assert service.formats.get("semt.002").name == "semt002"


# -- hostile corpus -----------------------------------------------------------------------------


_EXPECTED = json.loads((HOSTILE / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(_EXPECTED))
def test_hostile_iso_corpus_is_refused_whole(service, db, name: str) -> None:
    fmt, message = _EXPECTED[name]
    data_type = "positions" if fmt == "semt002" else "cash_flows"
    result = service.importer.import_file(HOSTILE / name, data_type, format=fmt)
    assert result.status == "failed"
    assert message in result.error
    # nothing of a refused delivery reaches the store, not even a reject
    assert stored(db, f"portico_import_{data_type}") == []
    assert _rejects(db) == []


def test_document_larger_than_the_limit_is_refused_before_parsing(service, tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes((DATA / "camt053_001_08.xml").read_bytes())
    result = service.importer.import_file(
        path, "cash_flows", format="camt053", options={"max_document_bytes": 1000}
    )
    assert result.status == "failed"
    assert result.error == "big.xml: ISO 20022 document is larger than max_document_bytes (1000)"


def test_huge_text_node_is_refused(service, tmp_path: Path) -> None:
    text = (
        (DATA / "semt002_001_11.xml")
        .read_text()
        .replace("<Desc>AAPL</Desc>", "<Desc>" + "A" * 70_000 + "</Desc>")
    )
    path = tmp_path / "huge.xml"
    path.write_text(text)
    result = service.importer.import_file(path, "positions", format="semt002")
    assert result.status == "failed"
    assert result.error == "huge.xml: a text node is longer than 65536 characters"


def test_deep_nesting_is_refused(service, tmp_path: Path) -> None:
    body = "<SctiesBalCtdyRpt>" + "<X>" * 80 + "</X>" * 80 + "</SctiesBalCtdyRpt>"
    path = tmp_path / "deep.xml"
    path.write_text(f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:semt.002.001.11">{body}</Document>')
    result = service.importer.import_file(path, "positions", format="semt002")
    assert result.status == "failed"
    assert result.error == "deep.xml: ISO 20022 document nested deeper than 64 elements"


def test_too_many_elements_is_refused(service, tmp_path: Path) -> None:
    path = tmp_path / "wide.xml"
    path.write_text(
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">' + "<a/>" * 200 + "</Document>"
    )
    result = service.importer.import_file(path, "cash_flows", format="camt053", options={"max_elements": 100})
    assert result.status == "failed"
    assert result.error == "wide.xml: ISO 20022 document holds more than max_elements (100) elements"


def test_gzip_bomb_of_a_statement_is_refused(service, tmp_path: Path) -> None:
    path = tmp_path / "bomb.xml.gz"
    path.write_bytes(
        gzip.compress(b"<Document>" + b" " * (40 * 1024 * 1024) + b"</Document>", compresslevel=9)
    )
    result = service.importer.import_file(
        path, "cash_flows", format="camt053", options={"max_compression_ratio": 100}
    )
    assert result.status == "failed"
    assert "ratio" in result.error


def test_iso_limits_can_be_set_in_the_format_config(db, clock, tmp_path: Path) -> None:
    from portico.jobs import JobService

    svc = JobService(
        db=db, clock=clock, config={"data_import": {"formats": {"camt053": {"max_document_bytes": 1000}}}}
    )
    try:
        result = svc.importer.import_file(DATA / "camt053_001_08.xml", "cash_flows", format="camt053")
    finally:
        svc.shutdown()
    assert result.error == "camt053_001_08.xml: ISO 20022 document is larger than max_document_bytes (1000)"
