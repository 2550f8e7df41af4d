"""SFTP source and destination against a real AsyncSSH server on loopback, with faults."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncssh
import pytest
from pydantic import SecretStr, ValidationError

from portico.clock import FakeClock
from portico.errors import AuthError, ConfigurationError, ConnectionFailed
from portico.jobs._sftp import SftpDestination, SftpServer, SftpSource, SftpUrl
from tests.core.jobs.iso.sftp_server import LoopbackSftp

PASSWORD = "s3cret-pa55word-for-tests"
MTIME = 1_767_600_000  # 2026-01-05T08:00:00Z


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[LoopbackSftp]:
    root = tmp_path / "server"
    (root / "outbox").mkdir(parents=True)
    (root / "inbox").mkdir()
    server = LoopbackSftp(root, users={"custodian": PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), auto_advance=False)


def _settings(remote: LoopbackSftp, tmp_path: Path, **extra) -> SftpServer:
    known = remote.known_hosts(tmp_path / "known_hosts")
    return SftpServer(
        url=f"sftp://custodian@127.0.0.1:{remote.port}",
        known_hosts=str(known),
        password=SecretStr(PASSWORD),
        **extra,
    )


def _drop(remote: LoopbackSftp, name: str, data: bytes, mtime: int = MTIME) -> Path:
    path = remote.root / "outbox" / name
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _source(db, clock, tmp_path, settings) -> SftpSource:
    return SftpSource(db=db, clock=clock, staging=tmp_path / "staging", servers=settings)


def _url(remote: LoopbackSftp, tail: str = "/outbox/*.xml") -> str:
    return f"sftp://custodian@127.0.0.1:{remote.port}{tail}"


def test_pull_takes_matching_files_once_even_after_a_restart(remote, db, clock, tmp_path: Path) -> None:
    _drop(remote, "holdings_20260105.xml", b"<a/>")
    _drop(remote, "statement_20260105.xml", b"<b/>")
    _drop(remote, "readme.txt", b"not for us")
    settings = _settings(remote, tmp_path)
    source = _source(db, clock, tmp_path, settings)
    taken = source.pull_and_import(_url(remote), lambda f: "loaded")
    assert [(f.name, f.size, f.local_path.read_bytes(), status) for f, status in taken] == [
        ("holdings_20260105.xml", 4, b"<a/>", "loaded"),
        ("statement_20260105.xml", 4, b"<b/>", "loaded"),
    ]
    # a new process (a restart) on the same store takes nothing again
    again = _source(db, clock, tmp_path, settings)
    assert again.pull(_url(remote)) == []
    assert [(m["name"], m["status"]) for m in again.markers()] == [
        ("holdings_20260105.xml", "loaded"),
        ("statement_20260105.xml", "loaded"),
    ]


def test_corrected_file_under_the_same_name_is_taken_again(remote, db, clock, tmp_path: Path) -> None:
    _drop(remote, "holdings.xml", b"<v1/>")
    source = _source(db, clock, tmp_path, _settings(remote, tmp_path))
    assert [f.name for f, _ in source.pull_and_import(_url(remote), lambda f: "loaded")] == ["holdings.xml"]
    _drop(remote, "holdings.xml", b"<v2-corrected/>", mtime=MTIME + 60)
    [(file, _)] = source.pull_and_import(_url(remote), lambda f: "loaded")
    assert file.local_path.read_bytes() == b"<v2-corrected/>"


def test_file_not_marked_when_the_import_crashes_is_taken_by_the_next_pull(
    remote, db, clock, tmp_path: Path
) -> None:
    _drop(remote, "holdings.xml", b"<a/>")
    source = _source(db, clock, tmp_path, _settings(remote, tmp_path))

    def crash(_file):
        raise RuntimeError("killed mid-import")

    with pytest.raises(RuntimeError):
        source.pull_and_import(_url(remote), crash)
    assert [f.name for f in source.pull(_url(remote))] == ["holdings.xml"]


def test_wrong_host_key_is_refused_and_nothing_is_downloaded(remote, db, clock, tmp_path: Path) -> None:
    _drop(remote, "holdings.xml", b"<a/>")
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    known = remote.known_hosts(tmp_path / "known_hosts_other", key=impostor)
    settings = SftpServer(
        url=f"sftp://custodian@127.0.0.1:{remote.port}", known_hosts=str(known), password=SecretStr(PASSWORD)
    )
    source = _source(db, clock, tmp_path, settings)
    with pytest.raises(AuthError) as caught:
        source.pull(_url(remote))
    assert str(caught.value).startswith(
        f"host key of 127.0.0.1:{remote.port} is not the one in {known}: refused"
    )
    assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value)
    assert remote.logins == []
    assert source.markers() == []
    assert not list((tmp_path / "staging").rglob("*.xml"))


def test_missing_known_hosts_file_is_a_configuration_error_not_blind_trust(
    remote, db, clock, tmp_path: Path
) -> None:
    settings = SftpServer(
        url=f"sftp://custodian@127.0.0.1:{remote.port}",
        known_hosts=str(tmp_path / "absent"),
        password=SecretStr(PASSWORD),
    )
    with pytest.raises(ConfigurationError, match="does not connect to a server whose key it cannot verify"):
        _source(db, clock, tmp_path, settings).pull(_url(remote))
    assert remote.logins == []


def test_wrong_password_is_an_auth_error_without_the_password(remote, db, clock, tmp_path: Path) -> None:
    known = remote.known_hosts(tmp_path / "known_hosts")
    settings = SftpServer(
        url=f"sftp://custodian@127.0.0.1:{remote.port}",
        known_hosts=str(known),
        password=SecretStr("not-the-password-123"),
    )
    with pytest.raises(AuthError) as caught:
        _source(db, clock, tmp_path, settings).pull(_url(remote))
    assert str(caught.value) == f"SFTP login refused for custodian@127.0.0.1:{remote.port}"
    assert "not-the-password-123" not in repr(settings)


def test_client_key_login(tmp_path: Path, db, clock) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    root = tmp_path / "server"
    (root / "outbox").mkdir(parents=True)
    server = LoopbackSftp(root, authorized_keys={"custodian": key}).start()
    try:
        _drop(server, "h.xml", b"<k/>")
        settings = SftpServer(
            url=f"sftp://custodian@127.0.0.1:{server.port}",
            known_hosts=str(server.known_hosts(tmp_path / "known_hosts")),
            client_key=SecretStr(key.export_private_key().decode()),
        )
        [file] = _source(db, clock, tmp_path, settings).pull(_url(server))
        assert file.local_path.read_bytes() == b"<k/>"
        assert set(server.logins) == {"custodian:publickey"}
    finally:
        server.stop()


def test_dropped_connection_mid_file_resumes_from_the_partial_download(
    remote, db, clock, tmp_path: Path
) -> None:
    data = random.Random(7).randbytes(1_200_000)
    _drop(remote, "big.xml", data)
    source = _source(db, clock, tmp_path, _settings(remote, tmp_path))
    remote.drop_read_after = 700_000
    with pytest.raises(ConnectionFailed, match="download of /outbox/big.xml .* interrupted at byte"):
        source.pull(_url(remote))
    part = next((tmp_path / "staging").rglob("big.xml.part"))
    kept = part.stat().st_size
    assert 0 < kept <= 700_000
    assert data.startswith(part.read_bytes())
    served_before = remote.bytes_served
    [file] = source.pull(_url(remote))
    assert file.local_path.read_bytes() == data
    # the second pull fetched only what was missing
    assert remote.bytes_served - served_before == len(data) - kept
    assert not part.exists()


def test_file_still_being_written_is_left_for_the_next_pull(remote, db, clock, tmp_path: Path) -> None:
    _drop(remote, "growing.xml", b"<partial")
    source = _source(db, clock, tmp_path, _settings(remote, tmp_path))
    remote.grow_on_read = b" more/>"
    assert source.pull(_url(remote)) == []
    assert source.markers() == []
    [file] = source.pull(_url(remote))
    assert file.local_path.read_bytes() == b"<partial more/>"


def test_recently_modified_file_waits_for_the_settle_time(remote, db, clock, tmp_path: Path) -> None:
    _drop(remote, "fresh.xml", b"<a/>", mtime=int(clock.now().timestamp()) - 10)
    source = _source(db, clock, tmp_path, _settings(remote, tmp_path, settle_seconds=60))
    assert source.pull(_url(remote)) == []
    clock.advance(61)
    assert [f.name for f in source.pull(_url(remote))] == ["fresh.xml"]


def test_push_renames_into_place_and_replaces_the_old_file(remote, tmp_path: Path) -> None:
    (remote.root / "inbox" / "camt053.xml").write_bytes(b"old")
    local = tmp_path / "camt053.xml"
    local.write_bytes(b"<Document>new</Document>")
    destination = SftpDestination(_settings(remote, tmp_path))
    assert destination.push(local, _url(remote, "/inbox/")) == "/inbox/camt053.xml"
    assert (remote.root / "inbox" / "camt053.xml").read_bytes() == b"<Document>new</Document>"
    assert sorted(p.name for p in (remote.root / "inbox").iterdir()) == ["camt053.xml"]


def test_push_to_a_file_name(remote, tmp_path: Path) -> None:
    local = tmp_path / "local.xml"
    local.write_bytes(b"<x/>")
    assert (
        SftpDestination(_settings(remote, tmp_path)).push(local, _url(remote, "/inbox/statement.xml"))
        == "/inbox/statement.xml"
    )
    assert (remote.root / "inbox" / "statement.xml").read_bytes() == b"<x/>"


def test_dropped_upload_leaves_the_target_unchanged(remote, tmp_path: Path) -> None:
    (remote.root / "inbox" / "book.xml").write_bytes(b"previous version")
    local = tmp_path / "book.xml"
    local.write_bytes(random.Random(3).randbytes(600_000))
    remote.drop_write_after = 200_000
    with pytest.raises(ConnectionFailed, match="the target is unchanged"):
        SftpDestination(_settings(remote, tmp_path)).push(local, _url(remote, "/inbox/"))
    assert (remote.root / "inbox" / "book.xml").read_bytes() == b"previous version"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://u@h/x", "not an sftp:// location"),
        ("sftp://host/x", "needs a user and a host"),
        ("sftp://u:hunter2-password@h/x", "must not carry a password"),
        ("sftp://u@h:99999/x", "bad port"),
    ],
)
def test_bad_locations_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        SftpUrl.parse(url)
    assert "hunter2-password" not in str(caught.value)


def test_location_splits_folder_and_pattern() -> None:
    assert SftpUrl.parse("sftp://cust@10.0.0.5:2222/out/semt002_*.xml.pgp") == SftpUrl(
        "cust", "10.0.0.5", 2222, "/out", "semt002_*.xml.pgp"
    )
    assert SftpUrl.parse("sftp://cust@host/out").folder == "/out"
    assert SftpUrl.parse("sftp://cust@host/out").port == 22


def test_server_settings_need_a_credential_and_hide_secrets(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="give a client key or a password"):
        SftpServer(url="sftp://u@h", known_hosts=str(tmp_path / "kh"))
    settings = SftpServer(
        url="sftp://u@h", known_hosts=str(tmp_path / "kh"), password=SecretStr("another-secret-value")
    )
    assert "another-secret-value" not in repr(settings) and "another-secret-value" not in str(
        settings.model_dump()
    )


def test_location_without_settings_names_the_configured_servers(remote, db, clock, tmp_path: Path) -> None:
    source = _source(db, clock, tmp_path, _settings(remote, tmp_path))
    with pytest.raises(
        ConfigurationError,
        match=rf"no sftp_servers entry for other@127.0.0.1:{remote.port} \(configured: custodian@127.0.0.1:{remote.port}\)",
    ):
        source.pull(f"sftp://other@127.0.0.1:{remote.port}/outbox/*.xml")


def test_unreachable_server_is_a_connection_failure(db, clock, tmp_path: Path) -> None:
    (tmp_path / "kh").write_text("")
    settings = SftpServer(
        url="sftp://u@127.0.0.1:1",
        known_hosts=str(tmp_path / "kh"),
        password=SecretStr("whatever-password"),
        connect_timeout_seconds=5,
    )
    with pytest.raises(ConnectionFailed, match="cannot connect to SFTP server u@127.0.0.1:1"):
        _source(db, clock, tmp_path, settings).pull("sftp://u@127.0.0.1:1/x/*.xml")


def test_import_to_an_sftp_destination_uploads_the_load_as_one_file(
    remote, db, clock, tmp_path: Path
) -> None:
    from portico.jobs import JobService
    from tests.core.jobs.conftest import GOOD, HEADER, write

    known = remote.known_hosts(tmp_path / "known_hosts")
    config = {
        "data_import": {
            "sftp_servers": [
                {
                    "url": f"sftp://custodian@127.0.0.1:{remote.port}",
                    "known_hosts": str(known),
                    "password": PASSWORD,
                }
            ]
        }
    }
    service = JobService(db=db, clock=clock, config=config)
    try:
        source = write(tmp_path / "positions.psv", HEADER, *GOOD)
        result = service.importer.import_file(
            source, "positions", destination=f"sftp://custodian@127.0.0.1:{remote.port}/inbox/positions.csv"
        )
    finally:
        service.shutdown()
    assert result.status == "loaded", result.error
    uploaded = (remote.root / "inbox" / "positions.csv").read_text().splitlines()
    assert uploaded[0] == "account,isin,symbol,quantity,price,currency,date"
    assert uploaded[1:] == [
        "A1,US0378331005,AAPL,100,190.5,USD,2026-01-05",
        "A1,US5949181045,MSFT,-5,400,USD,2026-01-05",
        "A2,US0378331005,AAPL,250.25,190.5,EUR,2026-01-05",
    ]
    assert sorted(p.name for p in (remote.root / "inbox").iterdir()) == ["positions.csv"]


def test_sftp_destination_without_configured_servers_says_so(service, tmp_path: Path) -> None:
    from tests.core.jobs.conftest import GOOD, HEADER, write

    source = write(tmp_path / "positions.psv", HEADER, *GOOD)
    result = service.importer.import_file(source, "positions", destination="sftp://u@127.0.0.1/inbox/p.csv")
    assert result.status == "failed"
    assert (
        "sftp:// destinations need a sink plugin (none installed provides sftp): configure the server in data_import.sftp_servers"
        in result.error
    )
