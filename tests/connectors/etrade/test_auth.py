"""The etrade_oauth1 scheme against the mock: three-legged login, renew before the idle limit, one
renew on token_rejected, midnight-ET expiry (alert before, a new login asked after), and no loops.

The connector's fake clock and the mock's clock start at the same instant and are moved together
unless a test skews them on purpose."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from portico.clock import FakeClock
from portico.errors import AuthError
from portico.mocks import DEFAULT_START, RunningMock
from tests.connectors.etrade.conftest import ACCESS_TOKEN, CONSUMER_KEY, make_connector

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def advance(running: RunningMock, clock: FakeClock, seconds: float) -> None:
    running.app.clock.advance(seconds)
    clock.advance(seconds)


def calls(running: RunningMock, path: str) -> list[int | None]:
    """Statuses of the journaled requests whose path starts with ``path``."""
    return [e.status for e in running.app.journal.entries() if e.path.startswith(path)]


async def test_a_call_near_the_idle_limit_renews_first(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock=clock)
    await connector.get_account()
    advance(running, clock, 3600 + 55 * 60)  # 1 h 55 min idle: inside the 10-minute renew margin
    account = await connector.get_account()
    assert account.cash == 100_000
    assert calls(running, "/oauth/renew_access_token") == [200]
    assert running.app.oauth.access_tokens[ACCESS_TOKEN].renewals == 1
    await connector.close()


async def test_a_call_well_inside_the_idle_limit_does_not_renew(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock=clock)
    await connector.get_account()
    advance(running, clock, 3600 + 49 * 60)
    await connector.get_account()
    assert calls(running, "/oauth/renew_access_token") == []
    await connector.close()


async def test_concurrent_calls_share_one_renew(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock=clock)
    await connector.get_account()
    advance(running, clock, 2 * 3600 + 60)  # past the limit: the mock has inactivated the token
    quotes = await asyncio.gather(
        *(connector.get_latest_quotes([s]) for s in ("AAPL", "MSFT", "IBM", "TSLA", "SPY"))
    )
    assert [sorted(q) for q in quotes] == [["AAPL"], ["MSFT"], ["IBM"], ["TSLA"], ["SPY"]]
    assert calls(running, "/oauth/renew_access_token") == [200]
    await connector.close()


async def test_token_rejected_is_renewed_once_and_the_call_resent(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock=clock)
    key = (await connector.get_account()).account_id
    running.app.clock.advance(2 * 3600 + 1)  # only the venue saw the idle hours (another process, say)
    await connector.get_account()
    assert calls(running, f"/v1/accounts/{key}/balance") == [200, 401, 200]
    assert calls(running, "/oauth/renew_access_token") == [200]
    await connector.close()


async def test_a_refused_renew_asks_for_a_login_and_never_loops(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock=clock)
    key = (await connector.get_account()).account_id
    running.app.oauth.access_tokens[ACCESS_TOKEN].revoked = True
    for _ in range(2):
        with pytest.raises(AuthError) as refused:
            await connector.get_account()
        assert "portico credentials login etrade" in str(refused.value)
    # each call: one API request, one renew, nothing more
    assert calls(running, f"/v1/accounts/{key}/balance") == [200, 401, 401]
    assert calls(running, "/oauth/renew_access_token") == [401, 401]
    await connector.close()


async def test_after_midnight_eastern_nothing_is_sent_and_a_login_is_asked(
    served: Callable[..., RunningMock],
) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)  # 10:00 New York, 2026-01-05
    connector = make_connector(running, clock=clock)
    await connector.get_account()
    before = len(running.app.journal.entries())
    advance(running, clock, 14 * 3600)  # 00:00 New York (EST) on 2026-01-06
    with pytest.raises(AuthError) as expired:
        await connector.get_account()
    message = str(expired.value)
    assert "2026-01-06T00:00:00-05:00" in message
    assert "midnight US Eastern" in message
    assert "portico credentials login etrade" in message
    assert len(running.app.journal.entries()) == before
    await connector.close()


async def test_the_venue_saying_token_expired_ends_the_token(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock=clock)
    key = (await connector.get_account()).account_id
    running.app.clock.advance(14 * 3600 + 60)  # the venue's midnight came first (clocks apart)
    with pytest.raises(AuthError, match="token_expired"):
        await connector.get_account()
    with pytest.raises(AuthError, match="portico credentials login etrade"):
        await connector.get_account()
    assert calls(running, f"/v1/accounts/{key}/balance") == [200, 401]  # the second call never left
    assert calls(running, "/oauth/renew_access_token") == []
    await connector.close()


async def test_an_alert_goes_out_once_before_midnight(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    events: list[tuple[str, dict[str, Any]]] = []
    connector = make_connector(running, clock=clock, events=events)
    await connector.get_account()
    for _ in range(13):  # every hour, renewing as it goes, up to 23:00 New York
        advance(running, clock, 3600)
        await connector.get_account()
    assert not [e for e, _ in events if e == "auth.token_expiring"]
    advance(running, clock, 35 * 60)  # 23:35 New York: 25 minutes to go
    await connector.get_account()
    await connector.get_account()
    expiring = [d for e, d in events if e == "auth.token_expiring"]
    assert len(expiring) == 1
    assert expiring[0]["expires_at"] == "2026-01-06T00:00:00-05:00"  # midnight in New York (EST)
    assert expiring[0]["severity"] == "warning"
    await connector.close()


async def test_three_legged_login_with_the_oob_code(served: Callable[..., RunningMock]) -> None:
    running = served(access_tokens={}, start=datetime.now(UTC).replace(microsecond=0))
    clock = FakeClock(running.app.clock.now())
    opened: list[str] = []

    async def read_code(_system: str, prompt: str) -> str:
        # the user opens the authorize page and types the code it shows
        async with httpx.AsyncClient() as browser:
            page = await browser.get(opened[0])
        found = re.search(r'value="([A-Z0-9]+)"', page.text)
        assert found, page.text
        return found.group(1)

    connector = make_connector(
        running, clock=clock, credentials={"consumer_key": CONSUMER_KEY, "consumer_secret": "etrade-mock-consumer-secret"},
        interactive=read_code,
    )  # fmt: skip
    with pytest.raises(AuthError, match="not authorized"):
        await connector.get_account()
    await connector.auth.login(opened.append)
    assert re.fullmatch(
        rf"{running.base_url.rstrip('/')}/e/t/etws/authorize\?key={CONSUMER_KEY}&token=[\w-]+", opened[0]
    )
    account = await connector.get_account()
    assert account.cash == 100_000
    assert connector.auth.lifecycle.expires_at is not None
    await connector.close()


async def test_three_legged_login_with_a_callback_redirect(served: Callable[..., RunningMock]) -> None:
    running = served(access_tokens={}, start=datetime.now(UTC).replace(microsecond=0))
    clock = FakeClock(running.app.clock.now())
    connector = make_connector(
        running,
        clock=clock,
        credentials={"consumer_key": CONSUMER_KEY, "consumer_secret": "etrade-mock-consumer-secret"},
    )
    connector.auth.callback = "loopback"

    async def browser(url: str) -> None:
        # the authorize page redirects to the registered callback with oauth_verifier
        async with httpx.AsyncClient(follow_redirects=True) as client:
            await client.get(url)

    await connector.auth.login(lambda url: asyncio.ensure_future(browser(url)))
    assert (await connector.get_account()).cash == 100_000
    await connector.close()


async def test_a_wrong_verifier_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served(access_tokens={}, start=datetime.now(UTC).replace(microsecond=0))
    connector = make_connector(
        running,
        clock=FakeClock(running.app.clock.now()),
        credentials={"consumer_key": CONSUMER_KEY, "consumer_secret": "etrade-mock-consumer-secret"},
        interactive=lambda _system, _prompt: "WRONG",
    )
    with pytest.raises(AuthError, match="login refused") as refused:
        await connector.auth.login(lambda url: None)
    assert "etrade-mock-consumer-secret" not in str(refused.value)
    assert not connector.auth.authorized
    await connector.close()


async def test_scheme_repr_and_errors_hold_no_secret(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    running.app.oauth.access_tokens[ACCESS_TOKEN].revoked = True
    with pytest.raises(AuthError) as refused:
        await connector.get_account()
    for text in (repr(connector.auth), str(refused.value), repr(refused.value), repr(connector)):
        assert "etrade-mock-access-token-secret" not in text
        assert "etrade-mock-consumer-secret" not in text
    await connector.close()


def test_the_renew_window_follows_the_options() -> None:
    from portico.auth import AuthContext
    from portico.connectors.etrade.auth import EtradeOAuth1Scheme
    from portico.errors import ConfigurationError

    ctx = AuthContext(system_id="etrade", scheme="etrade_oauth1")
    creds = {"consumer_key": "k", "consumer_secret": "s"}
    scheme = EtradeOAuth1Scheme(ctx, creds, {"renew_margin": 1200, "expiry_alert_before": 600})
    assert scheme.lifecycle.renew_margin == timedelta(minutes=20)
    assert scheme.lifecycle.alert_before == timedelta(minutes=10)
    with pytest.raises(ConfigurationError, match="renew_margin"):
        EtradeOAuth1Scheme(ctx, creds, {"renew_margin": "soon"})


async def test_keep_alive_renews_only_when_due(served: Callable[..., RunningMock]) -> None:
    running = served()
    clock = FakeClock(DEFAULT_START)
    connector = make_connector(running, clock=clock)
    await connector.get_account()
    assert await connector.keep_alive() is False
    advance(running, clock, 3600 + 52 * 60)
    assert await connector.keep_alive() is True
    assert await connector.keep_alive() is False
    assert calls(running, "/oauth/renew_access_token") == [200]
    await connector.close()


async def test_revoke_ends_the_token_at_the_venue_and_here(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running)
    await connector.get_account()
    await connector.auth.revoke_remote()
    assert running.app.oauth.access_tokens[ACCESS_TOKEN].revoked
    assert not connector.auth.authorized
    with pytest.raises(AuthError, match="not authorized: run `portico credentials login etrade`"):
        await connector.get_account()
    await connector.close()
