"""The credential vault: encryption at rest, atomic writes, rotation, revocation, corruption handling."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from portico.auth import (
    AuditLog,
    CredentialVault,
    SecretNotFound,
    SecretRevoked,
    VaultCorrupted,
    VaultError,
    VaultLocked,
    VaultPassphraseError,
    VaultResolver,
    VaultUnsafeParameters,
    resolve_vault_reference,
)
from portico.errors import ConfigurationError, PorticoError
from portico.store import Database

FAST = 10  # scrypt 2**10 keeps the many-opens tests fast; the default cost is tested once


def vault(path: Path, passphrase: str = "correct horse battery staple", **kwargs: object) -> CredentialVault:
    return CredentialVault(path, passphrase, log2_n=FAST, **kwargs)  # type: ignore[arg-type]


def test_round_trip_default_cost_file_mode_and_no_plaintext(tmp_path: Path) -> None:
    v = CredentialVault(tmp_path / "vault.bin", "pass-phrase-1")
    v.set("alpaca/api_key", "PKCANARY1234567890")
    assert v.get("alpaca/api_key").get_secret_value() == "PKCANARY1234567890"
    data = (tmp_path / "vault.bin").read_bytes()
    assert b"PKCANARY" not in data and b"alpaca" not in data  # names are secret too
    assert stat.S_IMODE(os.stat(tmp_path / "vault.bin").st_mode) == 0o600
    assert "PKCANARY" not in repr(v)
    # a second instance (another process) reads the same file
    assert CredentialVault(tmp_path / "vault.bin", "pass-phrase-1").get("alpaca/api_key").get_secret_value() == "PKCANARY1234567890"


def test_list_delete_names_and_errors(tmp_path: Path) -> None:
    v = vault(tmp_path / "v.bin")
    v.set("b/secret", "value-bbbbbb")
    v.set("a/secret", "value-aaaaaa")
    v.set("a/secret", "value-aaaaa2")
    infos = v.list()
    assert [i.name for i in infos] == ["a/secret", "b/secret"]
    assert infos[0].version == 2 and not infos[0].revoked
    assert "value" not in repr(infos)
    v.delete("b/secret")
    assert v.names() == ["a/secret"]
    with pytest.raises(SecretNotFound, match="b/secret"):
        v.get("b/secret")
    with pytest.raises(SecretNotFound):
        v.delete("b/secret")
    with pytest.raises(VaultError, match="invalid secret name"):
        v.set("../etc/passwd", "x" * 10)
    with pytest.raises(VaultError, match="empty"):
        v.set("a/empty", "")


def test_missing_passphrase_is_a_typed_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTICO_VAULT_PASSPHRASE", raising=False)
    with pytest.raises(VaultLocked, match="PORTICO_VAULT_PASSPHRASE"):
        CredentialVault(tmp_path / "v.bin")
    monkeypatch.setenv("PORTICO_VAULT_PASSPHRASE", "from-the-env")
    v = CredentialVault(tmp_path / "v.bin", log2_n=FAST)
    v.set("x/y", "secret-value")
    assert vault(tmp_path / "v.bin", "from-the-env").get("x/y").get_secret_value() == "secret-value"


def test_wrong_passphrase_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    vault(path).set("a/key", "secret-value-1")
    before = path.read_bytes()
    wrong = vault(path, "not the passphrase")
    with pytest.raises(VaultPassphraseError) as info:
        wrong.get("a/key")
    assert isinstance(info.value, PorticoError)
    for attempt in (lambda: wrong.set("a/other", "value-22222"), lambda: wrong.delete("a/key"),
                    lambda: wrong.rotate_passphrase("new-pass"), lambda: wrong.stage("a/key", "value-3333")):
        with pytest.raises(VaultPassphraseError):
            attempt()
    assert path.read_bytes() == before


def _assert_damaged(path: Path, blob: bytes, passphrase: str) -> None:
    """A damaged file is reported as damaged (never as a wrong passphrase) and is never rewritten."""
    path.write_bytes(blob)
    v = vault(path, passphrase)
    with pytest.raises(VaultCorrupted) as info:
        v.get("a/key")
    assert not isinstance(info.value, VaultPassphraseError)
    assert "secret-value" not in str(info.value) and "secret-value" not in repr(info.value)
    with pytest.raises(VaultCorrupted):
        v.set("a/new", "another-value")
    assert path.read_bytes() == blob  # never overwritten after a failed open


def test_every_single_byte_flip_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    vault(path).set("a/key", "secret-value")
    original = path.read_bytes()
    for index in range(len(original)):
        for mask in (0x01, 0x80):
            damaged = bytearray(original)
            damaged[index] ^= mask
            _assert_damaged(path, bytes(damaged), "correct horse battery staple")


def test_every_truncation_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    vault(path).set("a/key", "secret-value")
    original = path.read_bytes()
    for length in range(len(original)):
        _assert_damaged(path, original[:length], "correct horse battery staple")
    _assert_damaged(path, original + b"\x00", "correct horse battery staple")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage_is_detected(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "h.bin"
    if not path.exists() or not hasattr(test_random_damage_is_detected, "_blob"):
        vault(path).set("a/key", "secret-value")
        test_random_damage_is_detected._blob = path.read_bytes()  # type: ignore[attr-defined]
    original: bytes = test_random_damage_is_detected._blob  # type: ignore[attr-defined]
    index = data.draw(st.integers(0, len(original) - 1))
    mask = data.draw(st.integers(1, 255))
    damaged = bytearray(original)
    damaged[index] ^= mask
    _assert_damaged(path, bytes(damaged), "correct horse battery staple")


def test_a_wrong_passphrase_is_not_reported_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    vault(path).set("a/key", "secret-value")
    with pytest.raises(VaultPassphraseError, match="passphrase does not open"):
        vault(path, "a different passphrase").get("a/key")


# Header layout: magic 0..7, log2_n 8, r 9, p 10, then salt, check, nonce and a digest of the header.
_COST = slice(8, 11)


def _reseal(header: bytearray) -> bytes:
    """The header with its integrity digest recomputed, as an attacker editing it on purpose would."""
    import hashlib

    body = bytes(header[:-8])
    return body + hashlib.sha256(body).digest()[:8]


_EDITED_COSTS = [bytes([22, 32, 16]), bytes([31, 255, 255]), bytes([20, 8, 1]), bytes([15, 8, 16]), bytes([15, 64, 1])]


@pytest.mark.parametrize("cost", _EDITED_COSTS, ids=lambda c: "-".join(map(str, c)))
def test_a_three_byte_edit_of_the_scrypt_cost_fails_fast_with_a_typed_error(tmp_path: Path, cost: bytes) -> None:
    import time

    path = tmp_path / "v.bin"
    vault(path).set("a/key", "secret-value")
    original = path.read_bytes()
    header_size = 8 + 3 + 16 + 16 + 12 + 8
    for resealed in (False, True):
        header = bytearray(original[:header_size])
        header[_COST] = cost
        blob = (_reseal(header) if resealed else bytes(header)) + original[header_size:]
        path.write_bytes(blob)
        started = time.perf_counter()
        with pytest.raises(VaultCorrupted, match="scrypt|header") as info:
            vault(path).get("a/key")
        elapsed = time.perf_counter() - started
        assert elapsed < 0.5, f"the open took {elapsed:.2f} s: the key was derived with the edited cost"
        if resealed:  # the header's own digest holds, so the cost itself is what is refused
            assert isinstance(info.value, VaultUnsafeParameters)
            assert "N=2**" in str(info.value)
        assert path.read_bytes() == blob


def test_the_cost_a_vault_may_be_written_with_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="log2_n must be between 10 and 17"):
        CredentialVault(tmp_path / "v.bin", "p", log2_n=18)


def test_a_version_1_vault_still_opens_and_is_rewritten_in_the_current_format(tmp_path: Path) -> None:
    import hashlib
    import hmac
    import json
    import struct

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    # A file written by portico before the header digest existed (format PORTVLT1), built by hand.
    salt, nonce = bytes(range(16)), bytes(range(12))
    key = Scrypt(salt=salt, length=32, n=2**10, r=8, p=1).derive(b"old-passphrase")
    check = hmac.new(key, b"portico-vault-check", hashlib.sha256).digest()[:16]
    header = struct.pack(">8sBBB16s16s12s", b"PORTVLT1", 10, 8, 1, salt, check, nonce)
    plain = json.dumps({"version": 1, "secrets": {"a/key": {"value": "v1-secret-value", "version": 1}}}).encode()
    path = tmp_path / "v.bin"
    path.write_bytes(header + AESGCM(key).encrypt(nonce, plain, header))

    v = vault(path, "old-passphrase")
    assert v.get("a/key").get_secret_value() == "v1-secret-value"
    v.set("a/other", "another-secret")
    assert path.read_bytes()[:8] == b"PORTVLT2"
    assert vault(path, "old-passphrase").get("a/key").get_secret_value() == "v1-secret-value"


def test_not_a_vault(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    path.write_text('{"secrets": {"a/key": "plaintext"}}' * 3)
    with pytest.raises(VaultCorrupted, match="not a portico vault"):
        vault(path).get("a/key")


def test_atomic_write_leaves_old_vault_when_the_write_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v.bin"
    v = vault(path)
    v.set("a/key", "secret-value-1")
    before = path.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        v.set("a/key", "secret-value-2")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert v.get("a/key").get_secret_value() == "secret-value-1"


def test_rotate_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    v = vault(path, "old-passphrase")
    v.set("a/key", "secret-value-1")
    v.rotate_passphrase("new-passphrase")
    assert vault(path, "new-passphrase").get("a/key").get_secret_value() == "secret-value-1"
    with pytest.raises(VaultPassphraseError):
        vault(path, "old-passphrase").get("a/key")
    assert v.get("a/key").get_secret_value() == "secret-value-1"  # the instance follows its rotation


def test_stage_promote_and_rotate_secret_keeps_old_until_verified(tmp_path: Path) -> None:
    v = vault(tmp_path / "v.bin")
    v.set("a/key", "old-value-111")
    v.stage("a/key", "new-value-222")
    assert v.get("a/key").get_secret_value() == "old-value-111"
    assert v.get("a/key", staged=True).get_secret_value() == "new-value-222"
    assert v.list()[0].staged
    v.promote("a/key")
    assert v.get("a/key").get_secret_value() == "new-value-222"
    assert not v.list()[0].staged
    with pytest.raises(VaultError, match="no staged value"):
        v.promote("a/key")

    assert v.rotate_secret("a/key", "bad-value-333", verify=lambda s: False) is False
    assert v.get("a/key").get_secret_value() == "new-value-222"
    assert v.rotate_secret("a/key", "good-value-444", verify=lambda s: s.get_secret_value() == "good-value-444")
    assert v.get("a/key").get_secret_value() == "good-value-444"


def test_revocation(tmp_path: Path) -> None:
    v = vault(tmp_path / "v.bin")
    v.set("a/key", "value-to-revoke")
    v.revoke("a/key", reason="leaked")
    with pytest.raises(SecretRevoked, match="revoked"):
        v.get("a/key")
    assert v.list()[0].revoked
    assert b"value-to-revoke" not in (tmp_path / "v.bin").read_bytes()
    v.set("a/key", "fresh-value-1")
    assert v.get("a/key").get_secret_value() == "fresh-value-1"


def test_every_access_is_audited_without_values(tmp_path: Path) -> None:
    audit = AuditLog(Database(f"sqlite:///{tmp_path / 'a.db'}"))
    v = vault(tmp_path / "v.bin", audit=audit, actor="alice")
    v.set("alpaca/api_key", "audited-secret-1")
    v.get("alpaca/api_key")
    v.stage("alpaca/api_key", "audited-secret-2")
    v.promote("alpaca/api_key")
    v.revoke("alpaca/api_key")
    with pytest.raises(SecretRevoked):
        v.get("alpaca/api_key")
    actions = [(e.action, e.outcome, e.system, e.actor) for e in audit.entries()]
    assert actions[0] == ("credential.write", "success", "alpaca", "alice")
    assert ("credential.read", "revoked", "alpaca", "alice") in actions
    assert [a for a, *_ in actions].count("credential.rotate") == 2
    dump = repr(audit.entries())
    assert "audited-secret" not in dump
    assert audit.verify() is None


def test_resolver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v = vault(tmp_path / "v.bin")
    v.set("alpaca/api_key", "resolved-value")
    assert resolve_vault_reference("alpaca/api_key", vault=v) == "resolved-value"
    resolver = VaultResolver(v)
    assert resolver(" alpaca/api_key ") == "resolved-value"
    with pytest.raises(ConfigurationError, match=r"\$\{vault:alpaca/missing\}"):
        resolver("alpaca/missing")
    # default: the vault under PORTICO_HOME with the environment's passphrase
    monkeypatch.setenv("PORTICO_VAULT_PASSPHRASE", "env-pass")
    CredentialVault(log2_n=FAST).set("av/api_key", "from-default-vault")
    assert resolve_vault_reference("av/api_key") == "from-default-vault"
    assert isinstance(v.get("alpaca/api_key"), SecretStr)


def test_from_environment(monkeypatch: pytest.MonkeyPatch, portico_home: Path) -> None:
    monkeypatch.delenv("PORTICO_VAULT_PASSPHRASE", raising=False)
    assert CredentialVault.from_environment() is None
    monkeypatch.setenv("PORTICO_VAULT_PASSPHRASE", "env-pass-2")
    found = CredentialVault.from_environment()
    assert found is not None and found.path == portico_home / "vault.bin"


def test_rewrites_keep_the_salt_new_passphrase_gets_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    v = vault(path)
    v.set("a/key", "secret-value-1")
    first = path.read_bytes()
    v.set("a/key", "secret-value-2")
    second = path.read_bytes()
    assert first[11:27] == second[11:27]  # salt reused: the scrypt key is derived once per process
    assert first[43:55] != second[43:55]  # a fresh nonce every write
    v.rotate_passphrase("another-passphrase")
    assert path.read_bytes()[11:27] != second[11:27]
    v.set("a/other", "secret-value-3")
    assert vault(path, "another-passphrase").get("a/other").get_secret_value() == "secret-value-3"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "v.bin"
    vault(path).set("seed/x", "seed-value-0")

    def writer(n: int) -> None:
        v = vault(path)  # its own instance, as another process would have
        for i in range(8):
            v.set(f"w{n}/s{i}", f"value-{n}-{i}-xyz")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = vault(path).names()
    assert len(names) == 33 and "w3/s7" in names
