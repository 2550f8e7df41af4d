"""Schwab's OAuth 2 scheme against the mock (in-process): sign-in, single-flight refresh, the 7-day
refresh token's term, its warning and alert, and no loop of failing refreshes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from portico.auth import AuthenticationManager, CredentialVault
from portico.clock import FakeClock
from portico.connectors.schwab import SPEC, SchwabAuth
from portico.connectors.schwab.spec import AUTH_SCHEME
from portico.errors import AuthError, ConfigurationError
from portico.mocks import DEFAULT_START, mock_transport
from portico.mocks.schwab import SchwabMockApp, create_app
from portico.plugins import PluginManager
from portico.sdk import resolve_url_templates
from tests.connectors.schwab.conftest import APP_KEY, APP_SECRET, CALLBACK

BASE = "http://schwab.mock"
ACCOUNTS = "/trader/v1/accounts/accountNumbers"


class Harness:
    """A mock in-process, a fake clock both sides agree on, and what the scheme told the monitor."""

    def __init__(self, **options: Any) -> None:
        self.app: SchwabMockApp = create_app(seed=3, start=DEFAULT_START, clients={APP_KEY: APP_SECRET})
        self.clock = FakeClock(DEFAULT_START)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.transport = mock_transport(self.app)
        self.vault: CredentialVault | None = options.pop("vault", None)
        manager = AuthenticationManager(
            clock=self.clock,
            transport=self.transport,
            emit=self.emit,
            vault=self.vault,
            interactive=options.pop("interactive", None),
        )
        manager.register_scheme(AUTH_SCHEME, SchwabAuth)
        scheme = SPEC.auth_scheme()
        assert scheme is not None
        merged = resolve_url_templates({**scheme.options, "redirect_uri": CALLBACK, **options}, {"api": BASE})
        credentials = {"client_id": SecretStr(APP_KEY), "client_secret": SecretStr(APP_SECRET)}
        auth = manager.build("schwab_live", AUTH_SCHEME, credentials, merged)
        assert isinstance(auth, SchwabAuth)
        self.auth = auth

    def emit(self, event: str, **data: Any) -> None:
        self.events.append((event, data))

    def alerts(self) -> list[tuple[str, str]]:
        return [(e, d["severity"]) for e, d in self.events if e.startswith("auth.refresh_token_")]

    def token_requests(self) -> int:
        return len(self.app.journal.entries("POST", "/v1/oauth/token"))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.app.clock.advance(seconds)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=BASE, transport=self.transport, auth=self.auth)


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield Harness(auto_login=True)


async def test_sign_in_and_calls(harness: Harness) -> None:
    async with harness.client() as client:
        answer = await client.get(ACCOUNTS)
    assert answer.status_code == 200
    assert harness.token_requests() == 1
    token = harness.auth.current_token
    assert token is not None and token.expires_at == DEFAULT_START + timedelta(minutes=30)
    assert harness.auth.refresh_status().grade == "ok"
    assert harness.auth.refresh_status().expires_at == DEFAULT_START + timedelta(days=7)


async def test_fifty_calls_after_expiry_cause_one_refresh(harness: Harness) -> None:
    async with harness.client() as client:
        await client.get(ACCOUNTS)
        harness.advance(1501)  # inside the 300 s before the 30-minute expiry
        answers = await asyncio.gather(*(client.get(ACCOUNTS) for _ in range(50)))
    assert {a.status_code for a in answers} == {200}
    assert harness.token_requests() == 2  # the sign-in, then one refresh
    forms = [e.body for e in harness.app.journal.entries("POST", "/v1/oauth/token")]
    assert "grant_type=refresh_token" in (forms[1] or "")


async def test_warning_a_day_before_the_refresh_token_expires_then_a_critical_alert(harness: Harness) -> None:
    async with harness.client() as client:
        await client.get(ACCOUNTS)
        harness.advance(timedelta(days=6, hours=1).total_seconds())
        assert (await client.get(ACCOUNTS)).status_code == 200
        assert (await client.get(ACCOUNTS)).status_code == 200
        assert harness.alerts() == [("auth.refresh_token_expiring", "warning")]  # once, not per call
        harness.advance(timedelta(hours=23).total_seconds())
        sent = harness.token_requests()
        with pytest.raises(AuthError) as caught:
            await client.get(ACCOUNTS)
        with pytest.raises(AuthError):
            await client.get(ACCOUNTS)
    assert "run `portico credentials login schwab_live`" in caught.value.message
    assert "expired" in caught.value.message
    assert harness.token_requests() == sent  # an expired refresh token is never sent
    assert harness.alerts() == [
        ("auth.refresh_token_expiring", "warning"),
        ("auth.refresh_token_expired", "critical"),
    ]


async def test_a_refused_refresh_is_not_retried(harness: Harness) -> None:
    async with harness.client() as client:
        await client.get(ACCOUNTS)
        harness.app.expire(access=True, refresh=True)  # Schwab revoked it early
        harness.advance(1600)
        with pytest.raises(AuthError) as caught:
            await client.get(ACCOUNTS)
        for _ in range(5):
            with pytest.raises(AuthError):
                await client.get(ACCOUNTS)
    assert "Schwab refused the refresh token (unsupported_token_type)" in caught.value.message
    assert "portico credentials login schwab_live" in caught.value.message
    assert harness.token_requests() == 2  # the sign-in and the one refused refresh: no loop
    assert harness.alerts() == [("auth.refresh_token_expired", "critical")]
    assert APP_SECRET not in caught.value.message


async def test_a_token_the_mock_expired_early_is_refreshed_once_on_401(harness: Harness) -> None:
    async with harness.client() as client:
        await client.get(ACCOUNTS)
        harness.app.expire(access=True)
        answer = await client.get(ACCOUNTS)
    assert answer.status_code == 200
    assert harness.token_requests() == 2


async def test_paste_back_sign_in_for_the_https_callback() -> None:
    landed: list[str] = []

    def paste(system: str, prompt: str) -> str:
        assert system == "schwab_live" and "paste" in prompt
        return landed[0]

    harness = Harness(interactive=paste)

    async def browser(url: str) -> None:
        # the user signs in; the browser then lands on the https callback, which does not load
        async with httpx.AsyncClient(transport=harness.transport) as client:
            answer = await client.get(url)
        assert answer.status_code == 302
        landed.append(answer.headers["location"])

    token = await harness.auth.login(browser)
    assert landed[0].startswith(CALLBACK + "?code=")
    assert token.refresh_token is not None
    assert harness.auth.refresh_status().grade == "ok"


async def test_a_pasted_url_with_the_wrong_state_is_refused() -> None:
    harness = Harness(interactive=lambda system, prompt: f"{CALLBACK}?code=C0.x%40&state=forged")
    with pytest.raises(AuthError, match="wrong state"):
        await harness.auth.login(lambda url: None)
    assert harness.token_requests() == 0


async def test_without_a_sign_in_the_error_says_to_log_in() -> None:
    harness = Harness()
    async with harness.client() as client:
        with pytest.raises(
            AuthError,
            match=r"not signed in to Schwab; sign in again: run `portico credentials login schwab_live`",
        ):
            await client.get(ACCOUNTS)


def test_localhost_callbacks_are_refused() -> None:
    with pytest.raises(AuthError, match="only a registered https://127.0.0.1 callback"):
        Harness(redirect_uri="https://localhost:8182")


def test_auto_login_is_for_mocks_only() -> None:
    manager = AuthenticationManager()
    manager.register_scheme(AUTH_SCHEME, SchwabAuth)
    options = resolve_url_templates(
        {**SPEC.auth[0].options, "auto_login": True}, {"api": "https://api.schwabapi.com"}
    )
    with pytest.raises(AuthError, match="only for a mock"):
        manager.build("s", AUTH_SCHEME, {"client_id": "k", "client_secret": "s"}, options)


def test_the_scheme_is_found_through_the_plugin() -> None:
    manager = AuthenticationManager(plugins=PluginManager())
    assert AUTH_SCHEME in manager.schemes()
    with pytest.raises(ConfigurationError, match="needs credential 'client_id'"):
        manager.build("s", AUTH_SCHEME, {}, resolve_url_templates(dict(SPEC.auth[0].options), {"api": BASE}))


async def test_the_sign_in_time_survives_a_restart(tmp_path: Path) -> None:
    vault = CredentialVault(tmp_path / "v.bin", "schwab-test-pass", log2_n=10)
    first = Harness(auto_login=True, vault=vault)
    async with first.client() as client:
        await client.get(ACCOUNTS)
    second = Harness(vault=vault)
    second.clock.advance(timedelta(days=7, seconds=1).total_seconds())
    async with second.client() as client:
        with pytest.raises(AuthError, match="expired at 2026-01-12T15:00:00"):
            await client.get(ACCOUNTS)
    assert second.token_requests() == 0
    assert "oauth_token" not in repr(second.auth) and APP_SECRET not in repr(second.auth)


async def test_no_secret_reaches_the_logs_or_the_audit_events(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    async with harness.client() as client:
        await client.get(ACCOUNTS)
        harness.app.expire(access=True, refresh=True)
        harness.advance(1600)
        with pytest.raises(AuthError):
            await client.get(ACCOUNTS)
    token = harness.auth.current_token
    assert token is not None and token.refresh_token is not None
    secrets = [APP_SECRET, token.access_token.get_secret_value(), token.refresh_token.get_secret_value()]
    recorded = caplog.text + repr(harness.events) + repr(harness.auth)
    assert [s for s in secrets if s in recorded] == []
