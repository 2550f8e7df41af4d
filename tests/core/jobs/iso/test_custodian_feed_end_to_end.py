"""The issue's end-to-end: a custodian drops PGP-encrypted semt.002 and camt.053 files on an SFTP server;
portico pulls, decrypts, validates, loads, reconciles holdings against the broker and cash against the
statement with zero breaks, and a re-run (even after a restart) changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from portico.clock import FakeClock
from portico.jobs import JobService
from portico.jobs._custody import latest_rows, reconcile_cash, reconcile_holdings, reconcile_statement_cash
from portico.models import Position
from tests.core.jobs.conftest import RecordingMonitor
from tests.core.jobs.iso.pgp_keys import CUSTODIAN_PASSPHRASE, PORTICO_PASSPHRASE, Party, make_party, stop
from tests.core.jobs.iso.sftp_server import LoopbackSftp

DATA = Path(__file__).resolve().parents[1] / "data" / "iso"
PASSWORD = "custodian-sftp-password-9"
MTIME = 1_767_600_000


@pytest.fixture(scope="module")
def parties() -> Iterator[dict[str, Party]]:
    made = {
        "portico": make_party("Portico Feeds", PORTICO_PASSPHRASE),
        "custodian": make_party("Custodian Bank", CUSTODIAN_PASSPHRASE),
    }
    made["portico"].gpg.import_keys(made["custodian"].public())
    made["custodian"].gpg.import_keys(made["portico"].public())
    yield made
    stop(*(p.home for p in made.values()))


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[LoopbackSftp]:
    root = tmp_path / "server"
    (root / "outbox").mkdir(parents=True)
    server = LoopbackSftp(root, users={"portico": PASSWORD}).start()
    yield server
    server.stop()


def _drop_encrypted(
    remote: LoopbackSftp,
    sender: Party,
    recipient: str,
    source: Path,
    name: str,
    *,
    sign: bool = True,
    mtime: int = MTIME,
) -> None:
    target = remote.root / "outbox" / name
    with source.open("rb") as handle:
        result = sender.gpg.encrypt_file(
            handle,
            recipients=[recipient],
            sign=sender.fingerprint if sign else None,
            passphrase=sender.passphrase if sign else None,
            always_trust=True,
            armor=False,
            output=str(target),
        )
    assert result.ok, result.stderr
    os.utime(target, (mtime, mtime))


def _config(remote: LoopbackSftp, parties, tmp_path: Path, **import_extra) -> dict:
    known = remote.known_hosts(tmp_path / "known_hosts")
    return {
        "data_import": {
            "sftp_servers": [
                {
                    "url": f"sftp://portico@127.0.0.1:{remote.port}",
                    "known_hosts": str(known),
                    "password": PASSWORD,
                }
            ],
            "pgp": {
                "gnupg_home": str(parties["portico"].home),
                "passphrase": PORTICO_PASSPHRASE,
                "trusted_signers": [parties["custodian"].fingerprint],
            },
            **import_extra,
        }
    }


def _url(remote: LoopbackSftp, pattern: str) -> str:
    return f"sftp://portico@127.0.0.1:{remote.port}/outbox/{pattern}"


BROKER = [
    Position(account_id="A1", symbol="AAPL", isin="US0378331005", quantity=Decimal("100"), system="broker"),
    Position(account_id="A1", symbol="MSFT", isin="US5949181045", quantity=Decimal("-5"), system="broker"),
]
BOOK_CASH = {("CH9300762011623852957", "CHF"): Decimal("11250.50")}


def _counts(db) -> tuple[int, int, int]:
    return (
        len(latest_rows(db, "positions")),
        len(latest_rows(db, "cash_balances")),
        len(latest_rows(db, "cash_flows")),
    )


def test_custodian_feed_pull_decrypt_load_reconcile_and_rerun(remote, parties, db, tmp_path: Path) -> None:
    portico = parties["portico"].fingerprint
    _drop_encrypted(
        remote, parties["custodian"], portico, DATA / "semt002_001_11.xml", "semt002_20260105.xml.pgp"
    )
    _drop_encrypted(
        remote, parties["custodian"], portico, DATA / "camt053_001_08.xml", "camt053_20260105.xml.pgp"
    )
    clock = FakeClock(datetime(2026, 1, 5, 20, 0, tzinfo=UTC), auto_advance=False)
    monitor = RecordingMonitor()
    service = JobService(db=db, clock=clock, monitor=monitor, config=_config(remote, parties, tmp_path))
    try:
        holdings = service.import_sftp(_url(remote, "semt002_*.xml.pgp"), "positions", format="semt002")
        balances = service.import_sftp(_url(remote, "camt053_*.xml.pgp"), "cash_balances", format="camt053")
        flows = service.import_sftp(_url(remote, "camt053_*.xml.pgp"), "cash_flows", format="camt053")
        assert [(r.source_key, r.status, r.loaded) for r in holdings + balances + flows] == [
            ("semt002_20260105.xml", "loaded", 2),
            ("camt053_20260105.xml", "loaded", 2),
            ("camt053_20260105.xml", "loaded", 3),
        ]
        assert flows[0].stage("parsing").detail["statement_totals"][0]["balanced"] is True

        positions = latest_rows(db, "positions")
        assert [(p["account"], p["isin"], p["quantity"]) for p in positions] == [
            ("A1", "US0378331005", "100"),
            ("A1", "US5949181045", "-5"),
        ]
        assert reconcile_holdings(positions, BROKER) == []
        assert reconcile_statement_cash(latest_rows(db, "cash_balances"), latest_rows(db, "cash_flows")) == []
        assert reconcile_cash(latest_rows(db, "cash_balances"), BOOK_CASH) == []

        # a re-run takes nothing and changes nothing
        before = _counts(db)
        assert service.import_sftp(_url(remote, "semt002_*.xml.pgp"), "positions", format="semt002") == []
        assert service.import_sftp(_url(remote, "camt053_*.xml.pgp"), "cash_flows", format="camt053") == []
        assert _counts(db) == before == (2, 2, 3)
    finally:
        service.shutdown()
    # ... even after a restart of the process
    restarted = JobService(db=db, clock=clock, monitor=monitor, config=_config(remote, parties, tmp_path))
    try:
        assert restarted.import_sftp(_url(remote, "semt002_*.xml.pgp"), "positions", format="semt002") == []
        assert (
            restarted.import_sftp(_url(remote, "camt053_*.xml.pgp"), "cash_balances", format="camt053") == []
        )
        assert _counts(db) == (2, 2, 3)
    finally:
        restarted.shutdown()
    assert "jobs.signature_refused" not in monitor.names()


def test_reconciliation_finds_breaks_when_the_broker_differs(remote, parties, db, tmp_path: Path) -> None:
    _drop_encrypted(
        remote,
        parties["custodian"],
        parties["portico"].fingerprint,
        DATA / "semt002_001_11.xml",
        "semt002_20260105.xml.pgp",
    )
    service = JobService(
        db=db, clock=FakeClock(auto_advance=False), config=_config(remote, parties, tmp_path)
    )
    try:
        service.import_sftp(_url(remote, "*.pgp"), "positions", format="semt002")
    finally:
        service.shutdown()
    broker = [
        BROKER[0].model_copy(update={"quantity": Decimal("90")}),
        Position(account_id="A1", symbol="NVDA", isin="US67066G1040", quantity=Decimal("1")),
    ]
    assert [b.to_dict() for b in reconcile_holdings(latest_rows(db, "positions"), broker)] == [
        {
            "kind": "quantity_mismatch",
            "account": "A1",
            "key": "US0378331005",
            "statement": "100",
            "other": "90",
        },
        {
            "kind": "missing_at_broker",
            "account": "A1",
            "key": "US5949181045",
            "statement": "-5",
            "other": None,
        },
        {
            "kind": "missing_at_custodian",
            "account": "A1",
            "key": "US67066G1040",
            "statement": None,
            "other": "1",
        },
    ]
    assert [
        b.kind
        for b in reconcile_cash(
            [{"account": "X", "currency": "CHF", "type": "CLBD", "amount": "5"}], {("X", "CHF"): "6"}
        )
    ] == ["cash_mismatch"]


def test_unsigned_file_is_refused_alerted_and_never_loaded(remote, parties, db, tmp_path: Path) -> None:
    _drop_encrypted(
        remote,
        parties["custodian"],
        parties["portico"].fingerprint,
        DATA / "semt002_001_11.xml",
        "semt002_20260105.xml.pgp",
        sign=False,
    )
    monitor = RecordingMonitor()
    service = JobService(
        db=db, clock=FakeClock(auto_advance=False), monitor=monitor, config=_config(remote, parties, tmp_path)
    )
    try:
        [result] = service.import_sftp(_url(remote, "*.pgp"), "positions", format="semt002")
        assert result.status == "failed"
        assert result.error == "semt002_20260105.xml.pgp: refused, it is not signed (decryption ok)"
        assert latest_rows(db, "positions") == []
        alerts = [(e, s, d["file"]) for e, s, d in monitor.events if e == "jobs.signature_refused"]
        assert alerts == [("jobs.signature_refused", "critical", "semt002_20260105.xml.pgp")]
        # the decrypted bytes were never kept
        assert not list((service.importer.home / "inbox").rglob("semt002_20260105.xml"))
        # refused once: the same delivery is not pulled again
        assert service.import_sftp(_url(remote, "*.pgp"), "positions", format="semt002") == []
    finally:
        service.shutdown()


def test_scheduled_import_from_an_sftp_source(remote, parties, db, tmp_path: Path) -> None:
    _drop_encrypted(
        remote,
        parties["custodian"],
        parties["portico"].fingerprint,
        DATA / "semt002_001_11.xml",
        "semt002_20260105.xml.pgp",
    )
    spec = {
        "source": _url(remote, "semt002_*.xml.pgp"),
        "data_type": "positions",
        "format": "semt002",
        "schedule": "0 20 * * 1-5",
    }
    service = JobService(
        db=db,
        clock=FakeClock(auto_advance=False),
        config=_config(remote, parties, tmp_path, scheduled_imports=[spec]),
    )
    try:
        # what the scheduler runs at each fire time
        [configured] = service.import_config.scheduled_imports
        first = service._run_import_spec(configured, "run-1")
        second = service._run_import_spec(configured, "run-2")
        assert (first.status, first.loaded, first.source_key) == ("loaded", 2, "semt002_20260105.xml")
        assert (second.status, second.control_totals) == (
            "duplicate",
            {"note": "no new file on the SFTP server"},
        )
    finally:
        service.shutdown()


def test_arrival_watch_on_an_sftp_feed_alerts_late_missing_and_row_count_change(
    remote, parties, db, tmp_path: Path
) -> None:
    watch = {
        "id": "custodian-holdings",
        "path": _url(remote, "semt002_{date}.xml.pgp"),
        "data_type": "positions",
        "deadline": time(18, 0),
        "format": "semt002",
        "missing_after_minutes": 60,
    }
    clock = FakeClock(datetime(2026, 1, 5, 18, 30, tzinfo=UTC), auto_advance=False)
    monitor = RecordingMonitor()
    service = JobService(
        db=db, clock=clock, monitor=monitor, config=_config(remote, parties, tmp_path, watches=[watch])
    )
    try:
        assert service.check_watch("custodian-holdings") == "late"
        clock.advance(3600)
        assert service.check_watch("custodian-holdings") == "missing"
        _drop_encrypted(
            remote,
            parties["custodian"],
            parties["portico"].fingerprint,
            DATA / "semt002_001_11.xml",
            "semt002_20260105.xml.pgp",
        )
        assert service.check_watch("custodian-holdings") == "loaded"
        # next day: a statement with one holding instead of two is -50%, past the 10% tolerance
        one = tmp_path / "one_holding.xml"
        text = (DATA / "semt002_001_11.xml").read_text()
        start = text.index("    <BalForAcct>\n      <FinInstrmId><ISIN>US5949181045")
        end = text.index("</BalForAcct>", start) + len("</BalForAcct>\n")
        one.write_text(text[:start] + text[end:])
        _drop_encrypted(
            remote,
            parties["custodian"],
            parties["portico"].fingerprint,
            one,
            "semt002_20260106.xml.pgp",
            mtime=MTIME + 86400,
        )
        clock.advance(86400 - 3600)
        assert service.check_watch("custodian-holdings") == "loaded"
        names = monitor.names()
        # late on day one, then missing; day two's file arrived after its deadline: late again
        assert names.count("jobs.file_late") == 2 and names.count("jobs.file_missing") == 1
        assert "jobs.row_count_changed" in names
    finally:
        service.shutdown()


def test_book_is_exported_as_semt002_encrypted_signed_and_pushed_over_sftp(
    remote, parties, db, tmp_path: Path
) -> None:
    from portico.jobs._iso20022 import SEMT002_VERSIONS, holding_records, parse_document

    (remote.root / "inbox").mkdir()
    _drop_encrypted(
        remote,
        parties["custodian"],
        parties["portico"].fingerprint,
        DATA / "semt002_001_11.xml",
        "semt002_20260105.xml.pgp",
    )
    config = _config(remote, parties, tmp_path)
    config["data_import"]["pgp"].update(
        {"recipients": [parties["custodian"].fingerprint], "sign_with": parties["portico"].fingerprint}
    )
    config["data_export"] = {"allowed_roots": [str(tmp_path / "exports")]}
    service = JobService(db=db, clock=FakeClock(auto_advance=False), config=config)
    try:
        service.import_sftp(_url(remote, "semt002_*.xml.pgp"), "positions", format="semt002")
        remote_path = service.export_sftp(
            "positions",
            f"sftp://portico@127.0.0.1:{remote.port}/inbox/portico_holdings.xml",
            {"format": "semt002", "account": "A1"},
        )
    finally:
        service.shutdown()
    assert remote_path == "/inbox/portico_holdings.xml.pgp"
    assert sorted(p.name for p in (remote.root / "inbox").iterdir()) == ["portico_holdings.xml.pgp"]
    opened = parties["custodian"].gpg.decrypt_file(
        str(remote.root / "inbox" / "portico_holdings.xml.pgp"), passphrase=CUSTODIAN_PASSPHRASE
    )
    assert (
        opened.ok
        and opened.valid
        and (opened.pubkey_fingerprint or opened.fingerprint) == parties["portico"].fingerprint
    )
    doc = parse_document(opened.data, SEMT002_VERSIONS, file="portico_holdings.xml")
    assert doc.problems == []
    assert [(r["account"], r["isin"], r["quantity"]) for _, r, _ in holding_records(doc)] == [
        ("A1", "US0378331005", "100"),
        ("A1", "US5949181045", "-5"),
    ]
    # nothing is left in the local outbox
    assert not list((tmp_path / "exports").rglob("portico_holdings*"))
