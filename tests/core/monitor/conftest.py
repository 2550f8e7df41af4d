"""Fixtures for the monitor tests: captured log lines, a canary secret, call records."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from portico.http import CallRecord
from portico.monitor import Redactor, configure_logging

CANARY = "canary-S3cr3t-9f8e7d6c"


class LogCapture:
    """JSON log lines written by the configured pipeline."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == name]


@pytest.fixture
def redactor() -> Redactor:
    """A fresh redactor knowing the canary."""
    r = Redactor()
    r.add_secret(CANARY)
    return r


@pytest.fixture
def logs(redactor: Redactor) -> Iterator[LogCapture]:
    """JSON logging into a buffer through ``redactor``; restored afterwards."""
    stream = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=stream, redactor=redactor)
    yield LogCapture(stream)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == "portico":
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.reset_defaults()


def call(
    system: str = "alpaca_paper",
    *,
    endpoint: str = "GET /v2/account",
    status: int | None = 200,
    outcome: str = "ok",
    latency: float = 0.010,
    attempt: int = 1,
    rate_limit_wait: float = 0.0,
    correlation_id: str | None = None,
    error: Any = None,
) -> CallRecord:
    """A call record as the ApiClient reports it."""
    return CallRecord(
        system=system,
        method=endpoint.split(" ", 1)[0],
        endpoint=endpoint,
        status=status,
        outcome=outcome,  # type: ignore[arg-type]
        latency=latency,
        attempt=attempt,
        rate_limit_wait=rate_limit_wait,
        correlation_id=correlation_id,
        error=error,
    )


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on an ephemeral 127.0.0.1 port; yields its base URL."""
    import uvicorn

    class Quiet(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = Quiet(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.get_running_loop().create_task(server.serve())
    await wait_for(lambda: server.started or task.done())
    if task.done():
        task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy (a wait-for-condition helper, not a timing assumption)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, as PEM files (the test's own CA)."""
    from datetime import UTC, datetime, timedelta
    from ipaddress import IPv4Address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 requiring STARTTLS and AUTH; keeps what it receives."""

    def __init__(self, directory: Path, *, username: str = "alerts", password: str = "smtp-pw-123456") -> None:
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.cert, key = self_signed_cert(directory)
        self.messages: list[dict[str, Any]] = []
        self.username, self.password = username, password
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.messages.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "data": envelope.content.decode("utf-8", "replace"),
                        "tls": session.ssl is not None,
                        "authenticated": bool(session.authenticated),
                    }
                )
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == sink.username and (
                auth_data.password.decode() == sink.password
            )
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
            server_hostname="localhost",
        )

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
