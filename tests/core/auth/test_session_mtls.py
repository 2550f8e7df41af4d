"""Session auth (IB Client Portal style: status, tickle, re-authenticate, TOTP login) against a small
gateway over real HTTP, and mutual TLS against a uvicorn server that requires client certificates."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from portico.auth import AuditLog, AuthenticationManager, MtlsAuth, SessionAuth, TotpGenerator
from portico.clock import FakeClock
from portico.errors import AuthError, ConfigurationError
from portico.mocks import RunningMock, start_mock

SEED = base64.b32encode(b"portico-totp-seed-0001").decode()


class Gateway:
    """The session behaviour of IB's Client Portal gateway, reduced to what session auth touches."""

    def __init__(self, polls_until_auth: int = 2, clock: FakeClock | None = None) -> None:
        self.authenticated = False
        self.polls_until_auth = polls_until_auth
        self.pending: int | None = None
        self.calls: list[str] = []
        self.clock = clock
        self.refuse_reauth = False

    def app(self) -> Starlette:
        async def status(request: Request) -> JSONResponse:
            self.calls.append("status")
            if self.pending is not None:
                self.pending -= 1
                if self.pending <= 0:
                    self.authenticated, self.pending = True, None
            return JSONResponse({"authenticated": self.authenticated, "competing": False, "connected": True,
                                 "message": "", "MAC": "00:00", "serverInfo": {"serverName": "mock"}})

        async def reauth(request: Request) -> JSONResponse:
            self.calls.append("reauthenticate")
            if self.refuse_reauth:
                return JSONResponse({"error": "no bridge"}, status_code=500)
            self.pending = self.polls_until_auth
            return JSONResponse({"message": "triggered"})

        async def login(request: Request) -> JSONResponse:
            self.calls.append("login")
            body = await request.json()
            totp = TotpGenerator(SEED, clock=self.clock)
            if body.get("username") != "trader" or body.get("password") != "gateway-pass-1" or not totp.verify(body.get("otp", "")):
                return JSONResponse({"error": "bad credentials"}, status_code=401)
            self.pending = 1
            return JSONResponse({"message": "logged in"})

        async def tickle(request: Request) -> JSONResponse:
            self.calls.append("tickle")
            return JSONResponse({"session": "ab12cd", "ssoExpires": 600000, "collission": False, "userId": 1,
                                 "iserver": {"authStatus": {"authenticated": self.authenticated, "competing": False}}})

        async def accounts(request: Request) -> JSONResponse:
            self.calls.append("accounts")
            if not self.authenticated:
                return JSONResponse({"error": "not authenticated"}, status_code=401)
            return JSONResponse([{"accountId": "DU123456"}])

        return Starlette(routes=[
            Route("/v1/api/iserver/auth/status", status, methods=["POST", "GET"]),
            Route("/v1/api/iserver/reauthenticate", reauth, methods=["POST"]),
            Route("/v1/api/login", login, methods=["POST"]),
            Route("/v1/api/tickle", tickle, methods=["POST"]),
            Route("/v1/api/portfolio/accounts", accounts, methods=["GET"]),
        ])


@pytest.fixture
def gateway() -> Iterator[tuple[Gateway, RunningMock]]:
    gw = Gateway()
    running = start_mock(gw.app())
    try:
        yield gw, running
    finally:
        running.stop_sync()


async def test_session_checks_reauthenticates_and_retries_401_once(
    manager: AuthenticationManager, gateway: tuple[Gateway, RunningMock], audit: AuditLog, clock: FakeClock
) -> None:
    gw, running = gateway
    auth = manager.build("ib", "session", {}, {"check_interval": 60})
    assert isinstance(auth, SessionAuth)
    async with httpx.AsyncClient(base_url=f"{running.base_url}/v1/api", auth=auth) as client:
        results = await asyncio.gather(*(client.get("/portfolio/accounts") for _ in range(10)))
        assert {r.status_code for r in results} == {200}
        assert gw.calls.count("reauthenticate") == 1  # single-flight
        assert auth.reauth_count == 1

        before = len(gw.calls)
        await client.get("/portfolio/accounts")
        assert gw.calls[before:] == ["accounts"]  # status checked at most every check_interval

        gw.authenticated = False  # the gateway drops the session between checks
        response = await client.get("/portfolio/accounts")
        assert response.status_code == 200
        assert gw.calls.count("reauthenticate") == 2
        assert [c for c in gw.calls[before + 1:] if c == "accounts"] == ["accounts", "accounts"]  # one retry

        tickle = await auth.tickle()
        assert tickle["iserver"]["authStatus"]["authenticated"] is True
        assert "session" not in (auth.last_tickle or {})
    await auth.aclose()
    assert [e.action for e in audit.entries()].count("auth.reauthenticate") == 2


async def test_session_reauth_failure_is_an_auth_error(
    manager: AuthenticationManager, gateway: tuple[Gateway, RunningMock]
) -> None:
    gw, running = gateway
    gw.refuse_reauth = True
    auth = manager.build("ib", "session", {}, {})
    async with httpx.AsyncClient(base_url=f"{running.base_url}/v1/api", auth=auth) as client:
        with pytest.raises(AuthError, match=r"^ib: re-authentication refused: HTTP 500") as info:
            await client.get("/portfolio/accounts")
    assert info.value.system == "ib"
    gw.refuse_reauth, gw.polls_until_auth = False, 99
    auth2 = manager.build("ib", "session", {}, {"reauth_polls": 3})
    async with httpx.AsyncClient(base_url=f"{running.base_url}/v1/api", auth=auth2) as client:
        with pytest.raises(AuthError, match="still unauthenticated after 3"):
            await client.get("/portfolio/accounts")
    await auth.aclose()
    await auth2.aclose()


async def test_session_login_with_totp(
    vault: Any, audit: AuditLog, clock: FakeClock
) -> None:
    gw = Gateway(clock=clock)
    running = start_mock(gw.app())
    try:
        manager = AuthenticationManager(vault=vault, audit=audit, clock=clock)
        auth = manager.build("ib", "session",
                             {"username": "trader", "password": "gateway-pass-1", "totp_seed": SEED},
                             {"login_path": "/login"})
        async with httpx.AsyncClient(base_url=f"{running.base_url}/v1/api", auth=auth) as client:
            assert (await client.get("/portfolio/accounts")).status_code == 200
        assert "login" in gw.calls and "auth.mfa_challenge" in [e.action for e in audit.entries()]
        gw.authenticated = False
        wrong = manager.build("ib2", "session", {"username": "trader", "password": "nope-nope-1", "totp_seed": SEED},
                              {"login_path": "/login"})
        async with httpx.AsyncClient(base_url=f"{running.base_url}/v1/api", auth=wrong) as client:
            with pytest.raises(AuthError, match="HTTP 401"):
                await client.get("/portfolio/accounts")
        await auth.aclose()
        await wrong.aclose()
    finally:
        running.stop_sync()


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_keepalive_tickles_on_the_clock_and_reauthenticates(gateway: tuple[Gateway, RunningMock]) -> None:
    gw, running = gateway
    gw.polls_until_auth = 1
    clock = FakeClock(auto_advance=False)
    auth = AuthenticationManager(clock=clock).build(
        "ib", "session", {}, {"base_url": f"{running.base_url}/v1/api", "tickle_interval": 60, "poll_delay": 0})
    assert isinstance(auth, SessionAuth)
    await auth.ensure()
    auth.start_keepalive()
    await _until(lambda: clock.pending_sleepers == 1)
    assert gw.calls.count("tickle") == 0
    clock.advance(60)
    await _until(lambda: gw.calls.count("tickle") == 1)
    gw.authenticated = False
    await _until(lambda: clock.pending_sleepers == 1)
    clock.advance(60)
    await _until(lambda: gw.calls.count("tickle") == 2 and gw.calls.count("reauthenticate") == 2)
    await auth.aclose()
    assert auth._keepalive is None


# -- mutual TLS ----------------------------------------------------------------------------------------

def _cert(subject: str, issuer_key: Any, issuer_name: x509.Name | None, key: Any, *, ca: bool, days: float,
          usage: Any = None, san: str | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        import ipaddress

        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san))]), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                      content_commitment=False, key_encipherment=False,
                                                      data_encipherment=False, key_agreement=False,
                                                      encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(obj: Any) -> str:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("portico test CA", ca_key, None, ca_key, ca=True, days=365)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("127.0.0.1", ca_key, ca.subject, server_key, ca=False, days=30,
                   usage=ExtendedKeyUsageOID.SERVER_AUTH, san="127.0.0.1")
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("portico-client", ca_key, ca.subject, client_key, ca=False, days=10,
                   usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    for name, obj in (("ca.pem", ca), ("server.pem", server), ("server.key", server_key)):
        (tmp_path / name).write_text(_pem(obj))
    return {"dir": tmp_path, "ca": _pem(ca), "client": _pem(client), "client_key": _pem(client_key),
            "ca_key": ca_key, "ca_cert": ca}


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float = 15.0) -> None:
    """Wait for the server to listen, failing (not hanging) if it dies or does not start in time."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not server.started:
        if not thread.is_alive():
            raise AssertionError("the TLS test server exited before it started listening")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise AssertionError(f"the TLS test server did not start within {timeout} s")
        pause.wait(0.01)


def test_a_server_that_cannot_start_fails_the_wait_instead_of_hanging(tmp_path: Path) -> None:
    config = uvicorn.Config(Starlette(), host="127.0.0.1", port=0, log_level="critical", lifespan="off",
                            ssl_certfile=str(tmp_path / "missing.pem"), ssl_keyfile=str(tmp_path / "missing.key"))
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    def run() -> None:
        with pytest.raises(OSError):  # the missing certificate: the server never listens
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(AssertionError, match="exited before it started"):
        _wait_started(server, thread, timeout=10.0)
    assert time.monotonic() - started < 10.0


@pytest.fixture
def tls_server(pki: dict[str, Any]) -> Iterator[str]:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    d = pki["dir"]
    config = uvicorn.Config(Starlette(routes=[Route("/whoami", whoami)]), host="127.0.0.1", port=0,
                            log_level="warning", ssl_certfile=str(d / "server.pem"), ssl_keyfile=str(d / "server.key"),
                            ssl_ca_certs=str(d / "ca.pem"), ssl_cert_reqs=ssl.CERT_REQUIRED, lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_started(server, thread)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


async def test_mtls_end_to_end_and_expiry_report(
    manager: AuthenticationManager, pki: dict[str, Any], tls_server: str, events: list[tuple[str, dict[str, Any]]]
) -> None:
    auth = manager.build("bank", "mtls", {"certificate": pki["client"], "private_key": pki["client_key"],
                                          "ca_certificate": pki["ca"]}, {"warn_days": 30})
    assert isinstance(auth, MtlsAuth)
    async with httpx.AsyncClient(auth=auth, **auth.client_kwargs()) as client:
        assert (await client.get(f"{tls_server}/whoami")).json() == {"ok": True}
    # without the client certificate the server refuses the handshake
    plain = ssl.create_default_context(cadata=pki["ca"])
    async with httpx.AsyncClient(verify=plain) as client:
        with pytest.raises(httpx.HTTPError):
            await client.get(f"{tls_server}/whoami")
    # TLS verification stays on: without the private CA the server's certificate is not trusted
    default = manager.build("bank", "mtls", {"certificate": pki["client"], "private_key": pki["client_key"]}, {})
    assert isinstance(default, MtlsAuth)
    async with httpx.AsyncClient(**default.client_kwargs()) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"{tls_server}/whoami")

    expiry = [data for name, data in events if name == "auth.certificate_expiry"]
    assert expiry and expiry[0]["severity"] == "warning" and 9 < expiry[0]["days_left"] <= 10
    # a periodic health check re-grades it as time passes
    manager.clock.advance(4 * 86400)  # type: ignore[attr-defined]
    assert manager.certificates()["bank"].severity == "critical"
    assert events[-1][1]["severity"] == "error"
    assert auth.status.severity == "warning" and not auth.status.expired
    assert "BEGIN" not in repr(auth)


def test_mtls_expired_and_bad_inputs(manager: AuthenticationManager, pki: dict[str, Any], clock: FakeClock,
                                     events: list[tuple[str, dict[str, Any]]]) -> None:
    clock.advance(11 * 86400)
    auth = manager.build("bank", "mtls", {"certificate": pki["client"], "private_key": pki["client_key"]}, {})
    assert isinstance(auth, MtlsAuth) and auth.status.expired and auth.status.severity == "expired"
    expiry = [data for name, data in events if name == "auth.certificate_expiry"]
    assert expiry[-1]["severity"] == "error" and expiry[-1]["days_left"] < 0
    with pytest.raises(ConfigurationError, match="not a valid PEM certificate") as info:
        manager.build("bank", "mtls", {"certificate": "garbage", "private_key": pki["client_key"]}, {})
    assert info.value.path == "systems.bank.authentication.credentials.certificate"
    with pytest.raises(ConfigurationError, match="private key"):
        manager.build("bank", "mtls", {"certificate": pki["client"], "private_key": "-----BEGIN x-----"}, {})
