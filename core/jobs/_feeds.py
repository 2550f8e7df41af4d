"""Secure file feeds: pull from SFTP, decrypt and verify with PGP, import; each file once.

A custodian or bank drops files (often ``*.xml.pgp``) on an SFTP server. For an ``sftp://`` source a
:class:`SecureFeed` pulls the files not taken before (:mod:`portico.jobs._sftp`), decrypts those
ending in ``.pgp``/``.gpg``/``.asc`` (or all, with ``decrypt: true``) and refuses any whose signature
does not come from a trusted signer (:mod:`portico.jobs._pgp`): a refused file raises the
``jobs.signature_refused`` alert, is recorded as failed and is never handed to the importer. The rest
are imported under their plain name as the delivery's key, so the importer's idempotency and
row-count watch apply as for any file. Each file is marked once its import is over; a crash before
that leaves it to be taken again, and the importer makes the retake a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from portico.errors import ConfigurationError, PayloadRejected, PorticoError
from portico.jobs._importer import STAGES, DataImporter, ImportResult
from portico.jobs._pgp import PgpKeyring, PgpSettings, SignatureRefused
from portico.jobs._sftp import PulledFile, SftpDestination, SftpServer, SftpSource

__all__ = ["SecureFeed"]


def _remote_name(url: str, sealed: Path) -> str | None:
    """The remote file name: the URL's own (with ``.pgp`` added) or, for a folder URL, the sealed file's."""
    from urllib.parse import urlparse

    path = urlparse(url).path
    if path.endswith("/") or not path:
        return sealed.name
    name = path.rsplit("/", 1)[-1]
    return name if name.lower().endswith(_ENCRYPTED) else f"{name}.pgp"


_ENCRYPTED = (".pgp", ".gpg", ".asc")


class SecureFeed:
    """Pull, decrypt, verify and import the files of ``sftp://`` sources.

    Args:
        importer: the importer files are loaded with.
        servers: SFTP servers' settings.
        pgp: OpenPGP settings (None: encrypted files cannot be read and fail clearly).
        keyring: the keyring to use (default: the one ``pgp`` names, under the importer's home).
        staging: where pulled files are kept (default ``<home>/inbox/sftp``).
    """

    def __init__(
        self,
        importer: DataImporter,
        servers: list[SftpServer],
        pgp: PgpSettings | None = None,
        *,
        keyring: PgpKeyring | None = None,
        staging: Path | None = None,
    ) -> None:
        self.importer = importer
        self.servers = servers
        self.pgp = pgp
        self._keyring = keyring
        self.staging = staging or importer.home / "inbox" / "sftp"

    @property
    def keyring(self) -> PgpKeyring:
        """The PGP keyring (opened on first use)."""
        if self._keyring is None:
            if self.pgp is None:
                raise ConfigurationError(
                    "an encrypted file arrived but data_import.pgp is not configured", path="data_import.pgp"
                )
            self._keyring = PgpKeyring.from_settings(self.pgp, self.importer.home)
        return self._keyring

    def source(self, consumer: str) -> SftpSource:
        """The SFTP source whose markers belong to ``consumer``."""
        return SftpSource(
            db=self.importer.db,
            clock=self.importer.clock,
            staging=self.staging,
            servers=self.servers,
            consumer=consumer,
        )

    def pull(self, url: str, consumer: str) -> list[PulledFile]:
        """The new files of ``url`` for ``consumer`` (not marked: see :meth:`finish`)."""
        return self.source(consumer).pull(url)

    def import_pulled(
        self,
        file: PulledFile,
        data_type: str,
        params: Mapping[str, Any],
        importer_call: Callable[..., ImportResult],
    ) -> ImportResult:
        """Decrypt (when needed) and import one pulled file with ``importer_call(path, data_type, params)``."""
        path = file.local_path
        if params.get("decrypt") or path.suffix.lower() in _ENCRYPTED:
            try:
                path = self.keyring.decrypt(path, self.pgp or PgpSettings()).path
            except SignatureRefused as exc:
                self._emit(
                    "jobs.signature_refused",
                    severity="critical",
                    file=file.name,
                    location=file.location,
                    reason=str(exc),
                )
                return self._refused(file, data_type, params, exc)
            except PorticoError as exc:
                self._emit(
                    "jobs.decrypt_failed",
                    severity="error",
                    file=file.name,
                    location=file.location,
                    reason=str(exc),
                )
                return self._refused(file, data_type, params, exc)
        forwarded = {k: v for k, v in params.items() if k != "decrypt"}
        forwarded.setdefault("source_key", path.name)
        return importer_call(str(path), data_type, forwarded)

    def run(
        self,
        url: str,
        data_type: str,
        params: Mapping[str, Any],
        importer_call: Callable[..., ImportResult],
        *,
        consumer: str | None = None,
    ) -> list[ImportResult]:
        """Pull ``url`` and import each new file as ``data_type``; results in name order."""
        source = self.source(consumer or data_type)
        results: list[ImportResult] = []
        for file in source.pull(url):
            result = self.import_pulled(file, data_type, params, importer_call)
            source.mark(file, result.status)
            results.append(result)
        return results

    def publish(self, local: Path, url: str, *, encrypt: bool | None = None) -> str:
        """Push ``local`` to the ``sftp://`` ``url`` (a folder ending in ``/`` or a file), encrypted first
        when ``encrypt`` (default: when ``data_import.pgp.recipients`` are configured); the remote path.

        The upload lands under a temporary name and is renamed into place, so the receiver never
        reads a part of it; the local encrypted copy is removed afterwards.
        """
        wanted = bool(self.pgp and self.pgp.recipients) if encrypt is None else encrypt
        if not wanted:
            return SftpDestination(self.servers).push(local, url)
        sealed = self.keyring.encrypt(local, self.pgp or PgpSettings())
        try:
            return SftpDestination(self.servers).push(sealed, url, _remote_name(url, sealed))
        finally:
            sealed.unlink(missing_ok=True)

    def _refused(
        self, file: PulledFile, data_type: str, params: Mapping[str, Any], exc: PorticoError
    ) -> ImportResult:
        result = ImportResult(
            run_id=uuid.uuid4().hex,
            data_type=data_type,
            source=f"{file.location}/{file.name}",
            source_key=file.name,
            destination=str(params.get("destination", "store")),
            started_at=self.importer.clock.now().isoformat(),
        )
        for name in STAGES:
            result.stage(name)
        result.stage("arrival").status = "ok"
        result.stage("file_validation").status = "failed"
        result.status = "failed"
        result.error = str(exc) if isinstance(exc, PayloadRejected) else f"{type(exc).__name__}: {exc}"
        result.finished_at = self.importer.clock.now().isoformat()
        return result

    def _emit(self, event: str, *, severity: str, **data: Any) -> None:
        monitor = self.importer.monitor
        if monitor is not None:
            monitor.emit(event, severity=severity, **data)
