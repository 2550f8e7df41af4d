"""PGP decrypt/verify of incoming files and encryption of outgoing ones, with the real gpg."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from portico.errors import PayloadRejected
from portico.jobs._pgp import PgpKeyring, PgpSettings, SignatureRefused
from tests.core.jobs.iso.pgp_keys import CUSTODIAN_PASSPHRASE, PORTICO_PASSPHRASE, Party, make_party, stop

PLAIN = b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:semt.002.001.11"/>\n'


@pytest.fixture(scope="module")
def parties() -> Iterator[dict[str, Party]]:
    made = {
        "portico": make_party("Portico Feeds", PORTICO_PASSPHRASE),
        "custodian": make_party("Custodian Bank", CUSTODIAN_PASSPHRASE),
        "stranger": make_party("Somebody Else", "stranger-passphrase-3"),
    }
    # portico knows the custodian's and the stranger's public keys; both know portico's
    for name in ("custodian", "stranger"):
        made["portico"].gpg.import_keys(made[name].public())
        made[name].gpg.import_keys(made["portico"].public())
    yield made
    stop(*(p.home for p in made.values()))


@pytest.fixture
def keyring(parties) -> PgpKeyring:
    return PgpKeyring(parties["portico"].home)


def _settings(parties, **extra) -> PgpSettings:
    return PgpSettings(
        passphrase=SecretStr(PORTICO_PASSPHRASE), trusted_signers=[parties["custodian"].fingerprint], **extra
    )


def _encrypt(
    sender: Party, recipient: str, tmp_path: Path, *, sign: bool = True, data: bytes = PLAIN
) -> Path:
    plain = tmp_path / "holdings.xml"
    plain.write_bytes(data)
    out = tmp_path / "holdings.xml.pgp"
    with plain.open("rb") as handle:
        result = sender.gpg.encrypt_file(
            handle,
            recipients=[recipient],
            sign=sender.fingerprint if sign else None,
            passphrase=sender.passphrase if sign else None,
            always_trust=True,
            armor=False,
            output=str(out),
        )
    assert result.ok, result.stderr
    plain.unlink()
    return out


def test_file_signed_by_the_trusted_custodian_is_decrypted(parties, keyring, tmp_path: Path) -> None:
    encrypted = _encrypt(parties["custodian"], parties["portico"].fingerprint, tmp_path)
    done = keyring.decrypt(encrypted, _settings(parties))
    assert done.path == tmp_path / "holdings.xml"
    assert done.path.read_bytes() == PLAIN
    assert done.signer == parties["custodian"].fingerprint


def test_unsigned_file_is_refused_and_nothing_decrypted_is_left(parties, keyring, tmp_path: Path) -> None:
    encrypted = _encrypt(parties["custodian"], parties["portico"].fingerprint, tmp_path, sign=False)
    with pytest.raises(SignatureRefused, match="holdings.xml.pgp: refused, it is not signed"):
        keyring.decrypt(encrypted, _settings(parties))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holdings.xml.pgp"]


def test_file_signed_by_a_stranger_is_refused(parties, keyring, tmp_path: Path) -> None:
    encrypted = _encrypt(parties["stranger"], parties["portico"].fingerprint, tmp_path)
    with pytest.raises(SignatureRefused) as caught:
        keyring.decrypt(encrypted, _settings(parties))
    assert (
        str(caught.value)
        == f"holdings.xml.pgp: refused, signed by {parties['stranger'].fingerprint}, which is not a trusted signer"
    )
    assert not (tmp_path / "holdings.xml").exists()


def test_tampered_file_is_refused(parties, keyring, tmp_path: Path) -> None:
    encrypted = _encrypt(parties["custodian"], parties["portico"].fingerprint, tmp_path, data=PLAIN * 50)
    raw = bytearray(encrypted.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    encrypted.write_bytes(bytes(raw))
    with pytest.raises(PayloadRejected):
        keyring.decrypt(encrypted, _settings(parties))
    assert not (tmp_path / "holdings.xml").exists()


def test_signature_can_be_waived_explicitly(parties, keyring, tmp_path: Path) -> None:
    encrypted = _encrypt(parties["custodian"], parties["portico"].fingerprint, tmp_path, sign=False)
    done = keyring.decrypt(encrypted, _settings(parties, require_signature=False))
    assert (done.path.read_bytes(), done.signer) == (PLAIN, None)


def test_wrong_passphrase_cannot_decrypt_and_the_error_keeps_it_secret(
    parties, keyring, tmp_path: Path
) -> None:
    encrypted = _encrypt(parties["custodian"], parties["portico"].fingerprint, tmp_path)
    settings = PgpSettings(
        passphrase=SecretStr("wrong-passphrase-value"), trusted_signers=[parties["custodian"].fingerprint]
    )
    # the agent may hold the right passphrase from an earlier test: a fresh home with the same keys has none
    home = Path(tempfile.mkdtemp(prefix="g", dir="/tmp"))
    try:
        fresh = PgpKeyring(home)
        secret = parties["portico"].gpg.export_keys(
            parties["portico"].fingerprint, secret=True, passphrase=PORTICO_PASSPHRASE
        )
        fresh.import_keys(secret)
        with pytest.raises(PayloadRejected) as caught:
            fresh.decrypt(encrypted, settings)
        assert "cannot decrypt" in str(caught.value)
        assert "wrong-passphrase-value" not in str(caught.value)
    finally:
        stop(home)


def test_file_for_another_recipient_cannot_be_decrypted(parties, keyring, tmp_path: Path) -> None:
    encrypted = _encrypt(parties["stranger"], parties["stranger"].fingerprint, tmp_path)
    with pytest.raises(PayloadRejected, match="cannot decrypt"):
        keyring.decrypt(encrypted, _settings(parties))


def test_outgoing_file_is_encrypted_to_the_custodian_and_signed_by_portico(
    parties, keyring, tmp_path: Path
) -> None:
    plain = tmp_path / "camt053_out.xml"
    plain.write_bytes(PLAIN)
    settings = PgpSettings(
        passphrase=SecretStr(PORTICO_PASSPHRASE),
        recipients=[parties["custodian"].fingerprint],
        sign_with=parties["portico"].fingerprint,
    )
    encrypted = keyring.encrypt(plain, settings)
    assert encrypted.name == "camt053_out.xml.pgp"
    assert PLAIN not in encrypted.read_bytes()
    result = parties["custodian"].gpg.decrypt_file(str(encrypted), passphrase=CUSTODIAN_PASSPHRASE)
    assert result.ok and result.data == PLAIN
    assert (
        result.valid and (result.pubkey_fingerprint or result.fingerprint) == parties["portico"].fingerprint
    )


def test_encrypt_without_recipients_is_a_clear_error(keyring, tmp_path: Path) -> None:
    plain = tmp_path / "x.xml"
    plain.write_bytes(PLAIN)
    with pytest.raises(Exception, match="encrypting needs data_import.pgp.recipients"):
        keyring.encrypt(plain, PgpSettings())


def test_passphrase_never_shows_in_settings_repr() -> None:
    settings = PgpSettings(passphrase=SecretStr("very-secret-passphrase"))
    assert "very-secret-passphrase" not in repr(settings)
