"""OpenPGP for file feeds: decrypt and verify incoming files, encrypt (and sign) outgoing ones.

GnuPG does the cryptography (through python-gnupg); the keys live in a keyring under portico's home
(``<home>/gnupg`` unless ``gnupg_home`` says otherwise), passphrases come from the vault and are
registered with the log redactor. An incoming file is decrypted to a file beside it and its
signature checked: unless ``require_signature`` is off, a file that is not signed, whose signature
does not verify, or whose signer is not one of ``trusted_signers`` is refused
(:class:`SignatureRefused`) and the decrypted bytes are deleted, so it can never be loaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from portico._secrets import default_redactor
from portico.errors import ConfigurationError, PayloadRejected

__all__ = ["Decrypted", "PgpKeyring", "PgpSettings", "SignatureRefused"]


class SignatureRefused(PayloadRejected):
    """A file's signature is missing, invalid or from a signer not trusted: it is not loaded."""


class PgpSettings(BaseModel):
    """OpenPGP for SFTP feeds (``data_import.pgp``)."""

    model_config = ConfigDict(extra="forbid")

    gnupg_home: str | None = Field(
        default=None, description="GnuPG home holding the keyring; default: <portico home>/gnupg"
    )
    passphrase: SecretStr | None = Field(
        default=None, description="passphrase of portico's own secret key (from the vault)"
    )
    require_signature: bool = Field(
        default=True, description="refuse an incoming file that is not signed by a trusted signer"
    )
    trusted_signers: list[str] = Field(
        default_factory=list, description="fingerprints of the keys allowed to sign incoming files"
    )
    recipients: list[str] = Field(
        default_factory=list, description="fingerprints outgoing files are encrypted to"
    )
    sign_with: str | None = Field(
        default=None, description="fingerprint of portico's key that signs outgoing files"
    )
    gpg_binary: str = Field(default="gpg", description="the gpg program (a name on PATH or a path)")

    def model_post_init(self, __context: Any) -> None:
        if self.passphrase is not None:
            default_redactor().add_secret(self.passphrase)


@dataclass(frozen=True)
class Decrypted:
    """An incoming file, decrypted: where its plain bytes are and who signed it (None: unsigned)."""

    path: Path
    signer: str | None


def _fingerprint(value: str) -> str:
    return value.replace(" ", "").upper()


class PgpKeyring:
    """A GnuPG keyring and the operations feeds need on it.

    Args:
        home: the GnuPG home folder (created ``0700`` when missing).
        gpg_binary: the gpg program.
    """

    def __init__(self, home: Path, *, gpg_binary: str = "gpg") -> None:
        import gnupg

        binary = shutil.which(gpg_binary)
        if binary is None:
            raise ConfigurationError(
                f"gpg program {gpg_binary!r} not found: install GnuPG or set data_import.pgp.gpg_binary",
                path="data_import.pgp.gpg_binary",
            )
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        self.home = home
        self.gpg = gnupg.GPG(gpgbinary=binary, gnupghome=str(home))
        self.gpg.encoding = "utf-8"

    @classmethod
    def from_settings(cls, settings: PgpSettings, portico_home: Path) -> PgpKeyring:
        """The keyring ``settings`` name (``<portico home>/gnupg`` by default)."""
        home = Path(settings.gnupg_home).expanduser() if settings.gnupg_home else portico_home / "gnupg"
        return cls(home, gpg_binary=settings.gpg_binary)

    def import_keys(self, armored: str) -> list[str]:
        """Import public or secret keys (ASCII armour); their fingerprints."""
        result = self.gpg.import_keys(armored)
        if not result.fingerprints:
            raise ConfigurationError(
                f"no OpenPGP key could be imported ({_status(result)})", path="data_import.pgp"
            )
        return [_fingerprint(f) for f in result.fingerprints]

    def decrypt(self, source: Path, settings: PgpSettings, *, output: Path | None = None) -> Decrypted:
        """Decrypt ``source`` (to ``output``, default: its name without ``.pgp``/``.gpg``/``.asc``) and check its signature.

        Raises:
            PayloadRejected: the file cannot be decrypted with the keyring's keys.
            SignatureRefused: a signature is required and missing, invalid, or from an untrusted signer.
        """
        target = output or _plain_name(source)
        partial = target.with_name(target.name + ".decrypting")
        passphrase = settings.passphrase.get_secret_value() if settings.passphrase else None
        try:
            with source.open("rb") as handle:
                result = self.gpg.decrypt_file(handle, passphrase=passphrase, output=str(partial))
            if not result.ok:
                raise PayloadRejected(f"{source.name}: cannot decrypt ({_status(result)})")
            signer = (
                _fingerprint(result.pubkey_fingerprint or result.fingerprint)
                if result.valid and (result.pubkey_fingerprint or result.fingerprint)
                else None
            )
            if settings.require_signature:
                trusted = {_fingerprint(f) for f in settings.trusted_signers}
                if signer is None:
                    signed = result.signature_id is not None or str(result.status or "").startswith(
                        ("signature", "no public key")
                    )
                    why = "its signature does not verify" if signed else "it is not signed"
                    raise SignatureRefused(
                        f"{source.name}: refused, {why} ({result.status or 'no signature'})"
                    )
                if signer not in trusted:
                    raise SignatureRefused(
                        f"{source.name}: refused, signed by {signer}, which is not a trusted signer"
                    )
            partial.replace(target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise
        return Decrypted(target, signer)

    def encrypt(
        self, source: Path, settings: PgpSettings, *, output: Path | None = None, armor: bool = False
    ) -> Path:
        """Encrypt ``source`` to ``settings.recipients`` (signed with ``sign_with`` when set); the encrypted file."""
        if not settings.recipients:
            raise ConfigurationError(
                "encrypting needs data_import.pgp.recipients", path="data_import.pgp.recipients"
            )
        target = output or source.with_name(source.name + ".pgp")
        passphrase = settings.passphrase.get_secret_value() if settings.passphrase else None
        with source.open("rb") as handle:
            result = self.gpg.encrypt_file(
                handle,
                recipients=list(settings.recipients),
                sign=settings.sign_with,
                passphrase=passphrase if settings.sign_with else None,
                always_trust=True,
                armor=armor,
                output=str(target),
            )
        if not result.ok:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            raise PayloadRejected(f"{source.name}: cannot encrypt ({_status(result)})")
        return target

    def fingerprints(self, *, secret: bool = False) -> Sequence[str]:
        """Fingerprints of the keys in the keyring."""
        return [_fingerprint(k["fingerprint"]) for k in self.gpg.list_keys(secret)]


def _status(result: Any) -> str:
    return str(getattr(result, "status", None) or "gpg gave no status")


def _plain_name(source: Path) -> Path:
    if source.suffix.lower() in (".pgp", ".gpg", ".asc"):
        return source.with_suffix("")
    return source.with_name(source.name + ".plain")
