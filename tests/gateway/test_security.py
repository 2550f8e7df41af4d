"""Sessions, tokens and login limits on a fake clock; the refusal to bind beyond loopback; CORS."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest

from portico.clock import FakeClock
from portico.errors import ConfigurationError
from portico.gateway import (
    Gateway,
    GatewayConfig,
    GrantConfig,
    LoginLimiter,
    SecurityStore,
    hash_password,
    verify_password,
)
from portico.home import portico_home
from portico.store import Database
from tests.gateway.stack import PASSWORDS, Stack, gateway_section, running_stack


@pytest.fixture
def store(tmp_path, fake_clock: FakeClock) -> SecurityStore:
    config = GatewayConfig.model_validate(gateway_section())
    return SecurityStore(config, Database(f"sqlite:///{tmp_path / 'gw.db'}"), fake_clock)


def test_password_hashes_verify_and_differ_by_salt() -> None:
    one, two = hash_password("pw"), hash_password("pw")
    assert one != two and one.startswith("scrypt$16384$8$1$")
    assert verify_password("pw", one) and verify_password("pw", two)
    assert not verify_password("PW", one)
    assert not verify_password("pw", "md5$abc") and not verify_password("pw", "garbage")


def test_sessions_last_eight_hours(store: SecurityStore, fake_clock: FakeClock) -> None:
    session, expires = store.open_session("alice")
    assert expires - fake_clock.now().timestamp() == 8 * 3600
    fake_clock.advance(7 * 3600 + 59 * 60)
    assert store.session_principal(session) is not None
    fake_clock.advance(60)
    assert store.session_principal(session) is None
    store.open_session("bob")  # opening a session removes the expired ones
    with store.db.begin() as conn:
        users = [r.user for r in conn.execute(store.tables["sessions"].select())]
    assert users == ["bob"]


def test_tokens_expire_are_stored_hashed_and_follow_the_user(
    store: SecurityStore, fake_clock: FakeClock
) -> None:
    scopes = [GrantConfig(resource="systems", permission="READ")]
    token, described = store.create_token("alice", "ci", scopes, expires_in_days=2)
    principal = store.token_principal(token)
    assert (
        principal is not None
        and principal.can("systems", "alpaca_a", "read")
        and not principal.can("accounts", "x/y", "read")
    )
    with store.db.begin() as conn:
        rows = [dict(r) for r in conn.execute(store.tables["tokens"].select()).mappings()]
    secret = token.split("_", 2)[2]
    assert all(secret not in str(v) for row in rows for v in row.values())
    fake_clock.advance(2 * 86400)
    assert store.token_principal(token) is None
    # a disabled user's token stops working at once
    token2, _ = store.create_token("alice", "ci2", scopes, expires_in_days=30)
    store.config.users["alice"].disabled = True
    assert store.token_principal(token2) is None
    assert described["scopes"] == [{"resource": "systems", "match": "*", "permission": "READ"}]


def test_login_limiter_trips_after_five_failures_per_user_and_address(fake_clock: FakeClock) -> None:
    limiter = LoginLimiter(fake_clock, max_failures=5, window=900)
    for _ in range(4):
        limiter.failed("user:bob", "addr:1.2.3.4")
    assert limiter.retry_after("user:bob", "addr:1.2.3.4") is None
    limiter.failed("user:bob", "addr:1.2.3.4")
    assert limiter.retry_after("user:bob", "addr:9.9.9.9") == 900
    assert limiter.retry_after("user:eve", "addr:1.2.3.4") == 900  # the address is limited for every name
    fake_clock.advance(900)
    assert limiter.retry_after("user:bob", "addr:1.2.3.4") is None


def test_login_rate_limit_over_http(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTICO_HOME", str(tmp_path_factory.mktemp("rl-home")))
    with running_stack(login_max_failures=3) as stack, httpx.Client(base_url=stack.url) as http:
        http.cookies.clear()
        for _ in range(3):
            assert (
                http.post("/v1/auth/login", json={"username": "carol", "password": "wrong"}).status_code
                == 401
            )
        limited = http.post("/v1/auth/login", json={"username": "carol", "password": "carol-pw-3"})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        outcomes = [
            e.outcome
            for e in stack.integration.audit.tail(50)
            if e.action == "gateway.login" and e.actor == "user:carol"
        ]
        assert outcomes[-4:] == ["failure", "failure", "failure", "rate_limited"]


def test_refuses_a_public_bind_without_tls_and_users(stack: Stack) -> None:
    bare = GatewayConfig.model_validate({"enabled": True})
    with pytest.raises(ConfigurationError, match=r"without TLS .* and users"):
        Gateway(stack.integration, bare, host="0.0.0.0").check_exposure()
    with pytest.raises(ConfigurationError, match=r"without TLS"):
        Gateway(
            stack.integration, GatewayConfig.model_validate(gateway_section()), host="10.1.2.3"
        ).check_exposure()
    tls = GatewayConfig.model_validate(
        {**gateway_section(), "tls_certfile": "/x.crt", "tls_keyfile": "/x.key"}
    )
    Gateway(stack.integration, tls, host="0.0.0.0").check_exposure()  # TLS and users: allowed
    Gateway(stack.integration, bare, host="127.0.0.1").check_exposure()  # loopback: allowed


async def test_cors_opens_only_to_the_configured_origins(stack: Stack) -> None:
    config = GatewayConfig.model_validate({**gateway_section(), "cors_origins": ["https://app.example"]})
    gateway = Gateway(stack.integration, config)
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "idempotency-key"}
        ok = await http.options("/v1/systems", headers={"Origin": "https://app.example", **asked})
        evil = await http.options("/v1/systems", headers={"Origin": "https://evil.example", **asked})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in evil.headers


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_tls_serves_https_with_a_secure_session_cookie(stack: Stack, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    config = GatewayConfig.model_validate(
        {**gateway_section(), "tls_certfile": str(cert), "tls_keyfile": str(key)}
    )
    gateway = Gateway(stack.integration, config, port=0)
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(gateway.start(), stack.loop))
    try:
        assert gateway.url.startswith("https://127.0.0.1:")
        async with httpx.AsyncClient(
            base_url=gateway.url, verify=ssl.create_default_context(cafile=str(cert))
        ) as http:
            login = await http.post(
                "/v1/auth/login", json={"username": "alice", "password": PASSWORDS["alice"]}
            )
            assert login.status_code == 200
            cookie = login.headers["set-cookie"].lower()
            assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port gets no answer
            async with httpx.AsyncClient(timeout=5) as plain:
                await plain.get(gateway.url.replace("https://", "http://") + "/v1/health")
    finally:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(gateway.stop(), stack.loop))


def test_requests_per_user_are_rate_limited(fake_clock: FakeClock) -> None:
    from portico.gateway._security import _RequestLimiter

    limiter = _RequestLimiter(LoginLimiter(fake_clock, max_failures=3, window=60.0))
    assert [limiter.retry_after("bob") for _ in range(3)] == [None, None, None]
    assert limiter.retry_after("bob") == 60.0
    assert limiter.retry_after("alice") is None  # per user
    fake_clock.advance(60)
    assert limiter.retry_after("bob") is None


async def test_the_api_answers_429_past_the_per_user_limit(stack: Stack) -> None:
    config = GatewayConfig.model_validate({**gateway_section(), "requests_per_minute": 3})
    gateway = Gateway(stack.integration, config)
    transport = httpx.ASGITransport(app=gateway)
    headers = {"Authorization": f"Bearer {stack.tokens['alice']}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as http:
        codes = [(await http.get("/v1/me")).status_code for _ in range(4)]
        limited = await http.get("/v1/me")
    assert codes == [200, 200, 200, 429]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


async def test_an_upload_over_the_limit_is_413_and_nothing_is_imported(stack: Stack) -> None:
    config = GatewayConfig.model_validate({**gateway_section(), "max_upload_bytes": 64})
    gateway = Gateway(stack.integration, config)
    transport = httpx.ASGITransport(app=gateway)
    headers = {"Authorization": f"Bearer {stack.tokens['carol']}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as http:
        answer = await http.post("/v1/imports/positions", files={"file": ("big.csv", b"x" * 65)})
    assert answer.status_code == 413 and answer.json()["field"] == "body.file"
    uploads = portico_home() / "gateway-uploads"
    assert not uploads.exists() or not list(uploads.iterdir())  # the partial upload was removed
