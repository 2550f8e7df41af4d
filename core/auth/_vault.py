"""The credential vault: one encrypted file holding every secret portico uses.

File format (all of it authenticated; any changed byte is detected)::

    magic      8 bytes   b"PORTVLT2"
    log2_n     1 byte    scrypt cost (N = 2**log2_n), 10..17
    r          1 byte    scrypt block size, always 8
    p          1 byte    scrypt parallelism, always 1
    salt      16 bytes
    check     16 bytes   HMAC-SHA256(key, "portico-vault-check")[:16]: tells a wrong passphrase from damage
    nonce     12 bytes
    digest     8 bytes   SHA-256 of every header byte above, [:8]: tells a damaged header from a wrong passphrase
    payload    rest      AES-256-GCM(key, nonce, json, aad = every byte above)

The key is derived from the passphrase with scrypt. The header is read before anything is
authenticated, so its scrypt parameters are checked against fixed bounds first: an edited header cannot
make an open cost gigabytes and minutes (:class:`VaultUnsafeParameters`). Its digest is checked next,
so damage to the header is reported as damage (:class:`VaultCorrupted`) and only an intact header whose
check value does not match means a wrong passphrase (:class:`VaultPassphraseError`). Files in the
previous format (``PORTVLT1``, no digest) are still read, and rewritten in this one on the next write.

The JSON payload maps secret names to records (value, version, timestamps, staged value, revocation).
Writes go to a temporary file in the same directory (mode 0600), are fsynced, and replace the vault
with an atomic rename, under an exclusive lock file, after re-reading and decrypting the current file,
so a failed open never leads to a write.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import SecretStr

from portico.auth._errors import (
    SecretNotFound,
    SecretRevoked,
    VaultCorrupted,
    VaultError,
    VaultLocked,
    VaultPassphraseError,
    VaultUnsafeParameters,
)
from portico.auth._redaction import known_secrets, reveal
from portico.context import current_correlation_id
from portico.home import exclusive_lock, portico_home

if TYPE_CHECKING:
    from portico.auth._audit import AuditLog
    from portico.clock import Clock

__all__ = ["PASSPHRASE_ENV", "CredentialVault", "SecretInfo", "default_vault_path", "passphrase_from_environment"]

PASSPHRASE_ENV = "PORTICO_VAULT_PASSPHRASE"
_MAGIC = b"PORTVLT2"
_MAGIC_V1 = b"PORTVLT1"
_HEADER_V1 = struct.Struct(">8sBBB16s16s12s")
_DIGEST_SIZE = 8
_HEADER = struct.Struct(f">{_HEADER_V1.size}s{_DIGEST_SIZE}s")
_CHECK_LABEL = b"portico-vault-check"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,199}$")
# Fixed bounds on the scrypt cost a vault header may ask for: the most expensive accepted open is
# 2**17 * 128 * 8 bytes = 128 MiB and well under a second. r and p are always what portico writes.
_MIN_LOG2_N, _MAX_LOG2_N = 10, 17
_SCRYPT_R, _SCRYPT_P = 8, 1
DEFAULT_LOG2_N = 15
"""scrypt N = 2**15, r = 8: about 32 MiB and tens of milliseconds per open (OWASP's scrypt floor is 2**17 for
password hashing; a vault opened once per process can afford more, pass ``log2_n=17`` to choose it)."""


def _header_digest(header: bytes) -> bytes:
    return hashlib.sha256(header).digest()[:_DIGEST_SIZE]


def default_vault_path() -> Path:
    """``$PORTICO_HOME/vault.bin``."""
    return portico_home() / "vault.bin"


def passphrase_from_environment() -> SecretStr | None:
    """The master passphrase from ``PORTICO_VAULT_PASSPHRASE``, else the OS keyring when one is installed."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return SecretStr(value)
    try:
        import keyring  # optional: absent on servers

        stored = keyring.get_password("portico", "vault")
    except Exception:
        return None
    return SecretStr(stored) if stored else None


@dataclass(frozen=True)
class SecretInfo:
    """What ``list`` shows about a secret: never its value."""

    name: str
    version: int
    created_at: str
    updated_at: str
    staged: bool
    revoked: bool


def _os_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return "unknown"


def _now_iso(clock: Clock | None) -> str:
    now = clock.now() if clock is not None else datetime.now(UTC)
    return now.isoformat(timespec="seconds")


class CredentialVault:
    """An encrypted file of named secrets (AES-256-GCM, key by scrypt).

    Args:
        path: the vault file; default ``$PORTICO_HOME/vault.bin``.
        passphrase: the master passphrase; default from ``PORTICO_VAULT_PASSPHRASE`` or the keyring.
        audit: where reads, writes, rotations and revocations are recorded.
        clock: time source for record timestamps.
        log2_n: scrypt cost used when this vault (re)writes the file.
        actor: who is acting, for the audit log (default: the OS user).

    Raises:
        VaultLocked: no passphrase is available.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        passphrase: SecretStr | str | None = None,
        *,
        audit: AuditLog | None = None,
        clock: Clock | None = None,
        log2_n: int = DEFAULT_LOG2_N,
        actor: str | None = None,
    ) -> None:
        if not _MIN_LOG2_N <= log2_n <= _MAX_LOG2_N:
            raise VaultError(f"log2_n must be between {_MIN_LOG2_N} and {_MAX_LOG2_N}, got {log2_n}")
        self.path = Path(path) if path is not None else default_vault_path()
        secret = passphrase if passphrase is not None else passphrase_from_environment()
        if secret is None or not reveal(secret):
            raise VaultLocked(
                f"no vault passphrase: set {PASSPHRASE_ENV} or store one in the OS keyring", path=str(self.path)
            )
        self._passphrase = secret if isinstance(secret, SecretStr) else SecretStr(secret)
        self.audit = audit
        self.clock = clock
        self.log2_n = log2_n
        self.actor = actor or _os_user()
        self._keys: dict[tuple[bytes, int, int, int], bytes] = {}
        self._kdf: tuple[bytes, int, int, int] | None = None

    def __repr__(self) -> str:
        return f"CredentialVault({str(self.path)!r})"

    @classmethod
    def from_environment(
        cls, *, audit: AuditLog | None = None, clock: Clock | None = None, actor: str | None = None
    ) -> CredentialVault | None:
        """The default vault (``$PORTICO_HOME/vault.bin``) when a passphrase is configured, else ``None``.

        For the runtime: with ``PORTICO_VAULT_PASSPHRASE`` (or a keyring entry) set, tokens obtained by
        ``portico credentials login`` and rotated refresh tokens are read and kept; without it, auth
        still works, tokens just live in memory.
        """
        passphrase = passphrase_from_environment()
        if passphrase is None:
            return None
        return cls(None, passphrase, audit=audit, clock=clock, actor=actor)

    # -- crypto ------------------------------------------------------------------------------------

    def _key(self, salt: bytes, log2_n: int, r: int, p: int, passphrase: SecretStr | None = None) -> bytes:
        phrase = passphrase or self._passphrase
        cache_key = (salt + hashlib.sha256(phrase.get_secret_value().encode()).digest(), log2_n, r, p)
        key = self._keys.get(cache_key)
        if key is None:
            kdf = Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p)
            key = kdf.derive(phrase.get_secret_value().encode("utf-8"))
            self._keys[cache_key] = key
        return key

    def _decrypt(self, blob: bytes) -> dict[str, Any]:
        where = str(self.path)
        header_size = _HEADER_V1.size if blob[:8] == _MAGIC_V1 else _HEADER.size
        if len(blob) < header_size + 16:
            raise VaultCorrupted(f"vault file {where} is truncated ({len(blob)} bytes)", path=where)
        if blob[:8] not in (_MAGIC, _MAGIC_V1):
            raise VaultCorrupted(f"{where} is not a portico vault (bad magic bytes)", path=where)
        _magic, log2_n, r, p, salt, check, nonce = _HEADER_V1.unpack_from(blob)
        # Checked before anything else is computed: these bytes are not authenticated yet, and scrypt
        # would spend whatever memory and time they ask for.
        if not (_MIN_LOG2_N <= log2_n <= _MAX_LOG2_N and r == _SCRYPT_R and p == _SCRYPT_P):
            raise VaultUnsafeParameters(
                f"vault file {where} asks for scrypt N=2**{log2_n}, r={r}, p={p}; portico accepts only "
                f"N=2**{_MIN_LOG2_N}..2**{_MAX_LOG2_N}, r={_SCRYPT_R}, p={_SCRYPT_P}: the header is damaged or was edited",
                path=where,
            )
        if header_size == _HEADER.size and not hmac.compare_digest(
            _header_digest(blob[: _HEADER_V1.size]), blob[_HEADER_V1.size : header_size]
        ):
            raise VaultCorrupted(f"vault file {where} is damaged: its header fails its integrity check", path=where)
        key = self._key(salt, log2_n, r, p)
        expected = hmac.new(key, _CHECK_LABEL, hashlib.sha256).digest()[:16]
        if hmac.compare_digest(expected, check):
            self._kdf = (salt, log2_n, r, p)
        elif header_size == _HEADER.size:
            raise VaultPassphraseError(f"the passphrase does not open vault {where}", path=where)
        else:
            raise VaultPassphraseError(
                f"the passphrase does not open vault {where} (or its header is damaged)", path=where
            )
        try:
            plain = AESGCM(key).decrypt(nonce, blob[header_size:], blob[:header_size])
        except InvalidTag:
            raise VaultCorrupted(
                f"vault file {where} is damaged: its contents fail authentication (truncated or altered)", path=where
            ) from None
        try:
            data = json.loads(plain)
        except ValueError:
            raise VaultCorrupted(f"vault file {where} decrypted to invalid data", path=where) from None
        if not isinstance(data, dict) or not isinstance(data.get("secrets"), dict):
            raise VaultCorrupted(f"vault file {where} decrypted to an unexpected structure", path=where)
        return data

    def _encrypt(self, data: dict[str, Any], passphrase: SecretStr | None = None) -> bytes:
        # Rewrites keep the file's salt and cost, so the derived key is reused (scrypt is deliberately
        # slow); a fresh random nonce per write keeps GCM safe. A new passphrase gets a new salt.
        if passphrase is None and self._kdf is not None:
            salt, log2_n, r, p = self._kdf
        else:
            salt, log2_n, r, p = secrets.token_bytes(16), self.log2_n, _SCRYPT_R, _SCRYPT_P
        nonce = secrets.token_bytes(12)
        key = self._key(salt, log2_n, r, p, passphrase)
        check = hmac.new(key, _CHECK_LABEL, hashlib.sha256).digest()[:16]
        fields = _HEADER_V1.pack(_MAGIC, log2_n, r, p, salt, check, nonce)
        header = _HEADER.pack(fields, _header_digest(fields))
        plain = json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")
        return header + AESGCM(key).encrypt(nonce, plain, header)

    # -- file access -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with exclusive_lock(self.path.with_name(self.path.name + ".lock")):
            yield

    def _read(self) -> dict[str, Any]:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return {"version": 1, "secrets": {}}
        except OSError as exc:
            raise VaultError(f"cannot read vault {self.path}: {exc.strerror}", path=str(self.path)) from None
        return self._decrypt(blob)

    def _write(self, data: dict[str, Any], passphrase: SecretStr | None = None) -> None:
        blob = self._encrypt(data, passphrase)
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        # The rename is durable only once the directory entry is on disk.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write under the lock. A failed read raises before anything is written."""
        with self._locked():
            data = self._read()
            yield data
            self._write(data)

    def _audit(self, action: str, name: str, outcome: str = "success", **detail: Any) -> None:
        if self.audit is None:
            return
        system = name.split("/", 1)[0] if "/" in name else None
        self.audit.append(
            system=system,
            actor=self.actor,
            action=action,
            outcome=outcome,
            correlation_id=current_correlation_id(),
            detail={"secret_name": name, **detail},
        )

    @staticmethod
    def _check_name(name: str) -> None:
        if not _NAME.match(name or ""):
            raise VaultError(
                f"invalid secret name {name!r}: use letters, digits, '_', '-', '.', '/' (e.g. alpaca/api_key)"
            )

    # -- public API --------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the vault file exists."""
        return self.path.exists()

    def verify(self) -> int:
        """Open and authenticate the whole file; return the number of secrets. Raises on any damage."""
        return len(self._read()["secrets"])

    def set(self, name: str, value: SecretStr | str) -> None:
        """Store ``value`` under ``name`` (replacing the current value, clearing a revocation)."""
        self._check_name(name)
        plain = reveal(value) or ""
        if not plain:
            raise VaultError(f"refusing to store an empty value for {name!r}")
        known_secrets.register(plain)
        stamp = _now_iso(self.clock)
        with self._transaction() as data:
            record = data["secrets"].get(name)
            if record is None:
                record = {"created_at": stamp, "version": 0}
            record.update(value=plain, version=record.get("version", 0) + 1, updated_at=stamp, revoked_at=None)
            data["secrets"][name] = record
        self._audit("credential.write", name, version=record["version"])

    def get(self, name: str, *, staged: bool = False) -> SecretStr:
        """The current (or, with ``staged=True``, the staged) value of ``name``.

        Raises:
            SecretNotFound: nothing is stored under ``name`` (or nothing is staged).
            SecretRevoked: the secret was revoked.
        """
        self._check_name(name)
        try:
            record = self._read()["secrets"].get(name)
        except VaultError:
            self._audit("credential.read", name, outcome="failure")
            raise
        if record is None:
            self._audit("credential.read", name, outcome="not_found")
            raise SecretNotFound(name, path=str(self.path))
        if record.get("revoked_at"):
            self._audit("credential.read", name, outcome="revoked")
            raise SecretRevoked(name, path=str(self.path))
        value = (record.get("staged") or {}).get("value") if staged else record.get("value")
        if value is None:
            raise SecretNotFound(f"{name} (staged)", path=str(self.path))
        known_secrets.register(value)
        self._audit("credential.read", name, staged=staged)
        return SecretStr(value)

    def list(self) -> list[SecretInfo]:
        """Every stored secret's name and metadata, sorted by name; never values."""
        infos = []
        for name, record in sorted(self._read()["secrets"].items()):
            infos.append(
                SecretInfo(
                    name=name,
                    version=int(record.get("version", 0)),
                    created_at=record.get("created_at", ""),
                    updated_at=record.get("updated_at", ""),
                    staged=bool(record.get("staged")),
                    revoked=bool(record.get("revoked_at")),
                )
            )
        return infos

    def names(self) -> builtins.list[str]:
        """The stored names."""
        return [info.name for info in self.list()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._read()["secrets"]

    def delete(self, name: str) -> None:
        """Remove ``name`` and every value kept for it.

        Raises:
            SecretNotFound: nothing is stored under ``name``.
        """
        self._check_name(name)
        with self._transaction() as data:
            if name not in data["secrets"]:
                raise SecretNotFound(name, path=str(self.path))
            del data["secrets"][name]
        self._audit("credential.delete", name)

    def revoke(self, name: str, *, reason: str = "") -> None:
        """Mark ``name`` revoked and wipe its values; ``get`` then raises :class:`SecretRevoked`."""
        self._check_name(name)
        stamp = _now_iso(self.clock)
        with self._transaction() as data:
            record = data["secrets"].get(name)
            if record is None:
                raise SecretNotFound(name, path=str(self.path))
            for field in ("value", "staged", "previous"):
                record.pop(field, None)
            record.update(revoked_at=stamp, revoked_reason=reason, updated_at=stamp)
        self._audit("credential.revoke", name, reason=reason)

    def stage(self, name: str, value: SecretStr | str) -> None:
        """Store a new value for ``name`` beside the current one, which stays in use until :meth:`promote`."""
        self._check_name(name)
        plain = reveal(value) or ""
        if not plain:
            raise VaultError(f"refusing to stage an empty value for {name!r}")
        known_secrets.register(plain)
        stamp = _now_iso(self.clock)
        with self._transaction() as data:
            record = data["secrets"].get(name)
            if record is None:
                raise SecretNotFound(name, path=str(self.path))
            record["staged"] = {"value": plain, "staged_at": stamp}
        self._audit("credential.rotate", name, step="staged")

    def promote(self, name: str) -> None:
        """Make the staged value current; the old one is kept as ``previous`` until the next rotation."""
        self._check_name(name)
        stamp = _now_iso(self.clock)
        with self._transaction() as data:
            record = data["secrets"].get(name)
            if record is None:
                raise SecretNotFound(name, path=str(self.path))
            staged = record.get("staged")
            if not staged:
                raise VaultError(f"secret {name!r} has no staged value to promote", path=str(self.path))
            record["previous"] = {"value": record.get("value"), "replaced_at": stamp}
            record.update(value=staged["value"], version=record.get("version", 0) + 1, updated_at=stamp)
            record.pop("staged", None)
            record["revoked_at"] = None
        self._audit("credential.rotate", name, step="promoted", version=record["version"])

    def discard_staged(self, name: str) -> None:
        """Drop the staged value of ``name`` (its verification failed); the current value is untouched."""
        self._check_name(name)
        with self._transaction() as data:
            record = data["secrets"].get(name)
            if record is None:
                raise SecretNotFound(name, path=str(self.path))
            record.pop("staged", None)
        self._audit("credential.rotate", name, step="discarded")

    def rotate_secret(self, name: str, new_value: SecretStr | str, verify: Callable[[SecretStr], bool]) -> bool:
        """Stage ``new_value``, run ``verify`` on it, and promote it only if verification passes.

        Returns:
            whether the new value was promoted. On failure the old value stays current.
        """
        self.stage(name, new_value)
        try:
            ok = bool(verify(SecretStr(reveal(new_value) or "")))
        except Exception:
            ok = False
        if ok:
            self.promote(name)
        else:
            self.discard_staged(name)
            self._audit("credential.rotate", name, outcome="failure", step="verification_failed")
        return ok

    def rotate_passphrase(self, new_passphrase: SecretStr | str) -> None:
        """Re-encrypt the whole vault under ``new_passphrase`` (with a fresh salt), atomically."""
        new = new_passphrase if isinstance(new_passphrase, SecretStr) else SecretStr(new_passphrase)
        if not new.get_secret_value():
            raise VaultError("refusing an empty passphrase")
        with self._locked():
            data = self._read()
            self._write(data, new)
            self._passphrase = new
            self._kdf = None  # the next read learns the new salt
        self._audit("credential.rotate", "*", step="passphrase")
