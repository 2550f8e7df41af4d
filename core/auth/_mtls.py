"""Mutual TLS: a client certificate and key from the vault, custom CA bundles, expiry reporting."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from portico.auth._base import AuthContext, option, require_credential
from portico.errors import ConfigurationError

__all__ = ["CertificateStatus", "MtlsAuth", "certificate_status"]


@dataclass(frozen=True)
class CertificateStatus:
    """When a certificate expires and how urgent that is."""

    subject: str
    issuer: str
    not_after: datetime
    days_left: float
    severity: str
    """``ok``, ``warning`` (within the warning window), ``critical`` (within a week) or ``expired``."""

    @property
    def expired(self) -> bool:
        """Whether the certificate is already past its end date."""
        return self.days_left <= 0


def certificate_status(pem: str | bytes, now: datetime, *, warn_days: float = 30.0) -> CertificateStatus:
    """Read a PEM certificate and grade its remaining lifetime."""
    data = pem.encode() if isinstance(pem, str) else pem
    cert = x509.load_pem_x509_certificate(data)
    not_after = cert.not_valid_after_utc
    days = (not_after - now).total_seconds() / 86400
    severity = "expired" if days <= 0 else "critical" if days <= 7 else "warning" if days <= warn_days else "ok"
    return CertificateStatus(cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), not_after, days, severity)


@contextlib.contextmanager
def _private_files(*contents: bytes) -> Iterator[list[str]]:
    """Write PEMs to 0600 files in a private directory for ``ssl`` (which reads only paths), then delete them."""
    with tempfile.TemporaryDirectory(prefix="portico-mtls-") as directory:
        os.chmod(directory, 0o700)
        paths = []
        for index, content in enumerate(contents):
            path = os.path.join(directory, f"{index}.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            paths.append(path)
        yield paths


class MtlsAuth(httpx.Auth):
    """Client-certificate authentication: carries the :class:`ssl.SSLContext` the client must use.

    TLS happens below ``httpx.Auth``, so this flow adds nothing to requests; the client is built
    with ``verify=auth.ssl_context`` (:meth:`client_kwargs`). The certificate's expiry is reported to
    the monitor when the auth is built, ``warn_days`` ahead.

    Credentials: ``certificate`` (PEM, may include the chain), ``private_key`` (PEM), optional
    ``key_password`` and ``ca_certificate`` (PEM of a private CA). Options: ``ca_bundle`` (a CA file
    path), ``warn_days`` (default 30).
    """

    def __init__(self, ctx: AuthContext, credentials: Mapping[str, SecretStr | str], options: Mapping[str, Any]) -> None:
        self.ctx = ctx
        cert = require_credential(ctx, credentials, "certificate", "client_certificate")
        key = require_credential(ctx, credentials, "private_key", "client_key")
        password = require_credential(ctx, credentials, "key_password", optional=True)
        ca_pem = require_credential(ctx, credentials, "ca_certificate", optional=True)
        assert cert is not None and key is not None
        self.warn_days = float(option(ctx, options, "warn_days", 30.0, kind=float))
        ca_bundle = option(ctx, options, "ca_bundle", None)
        self._cert_pem = cert.get_secret_value().encode()
        try:
            self.status = certificate_status(self._cert_pem, ctx.clock.now(), warn_days=self.warn_days)
        except ValueError:
            raise ConfigurationError(
                f"{ctx.system_id}: the client certificate is not a valid PEM certificate",
                path=f"systems.{ctx.system_id}.authentication.credentials.certificate",
            ) from None
        try:
            serialization.load_pem_private_key(
                key.get_secret_value().encode(), password.get_secret_value().encode() if password else None
            )
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"{ctx.system_id}: the client private key is not a valid PEM key (or its password is wrong)",
                path=f"systems.{ctx.system_id}.authentication.credentials.private_key",
            ) from None
        context = ssl.create_default_context(
            cafile=str(ca_bundle) if ca_bundle else None, cadata=ca_pem.get_secret_value() if ca_pem else None
        )
        with _private_files(self._cert_pem, key.get_secret_value().encode()) as (cert_path, key_path):
            context.load_cert_chain(cert_path, key_path, password=password.get_secret_value() if password else None)
        self.ssl_context = context
        self.report()

    def __repr__(self) -> str:
        return f"MtlsAuth(system={self.ctx.system_id!r}, subject={self.status.subject!r}, days_left={self.status.days_left:.0f})"

    def report(self) -> CertificateStatus:
        """Grade the certificate now and tell the monitor (and the audit log) when it needs attention."""
        self.status = certificate_status(self._cert_pem, self.ctx.clock.now(), warn_days=self.warn_days)
        if self.status.severity != "ok" and self.ctx.emit is not None:
            self.ctx.emit(
                "auth.certificate_expiry",
                system=self.ctx.system_id,
                severity="error" if self.status.severity in {"expired", "critical"} else "warning",
                subject=self.status.subject,
                not_after=self.status.not_after.isoformat(),
                days_left=round(self.status.days_left, 1),
            )
        if self.status.severity == "expired" and self.ctx.audit is not None:
            self.ctx.record("auth.certificate_expired", outcome="failure", subject=self.status.subject)
        return self.status

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.AsyncClient``/``ApiClient`` transports: ``{"verify": ssl_context}``."""
        return {"verify": self.ssl_context}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request
