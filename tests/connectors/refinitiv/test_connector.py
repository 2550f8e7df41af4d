"""The connector against the in-process mock on a fake clock: paging, throttling, token refresh, the login
guard, the session quota, the FX pull and bad input."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portico.auth import AuthContext, AuthenticationManager, ClientCredentialsAuth
from portico.connectors.refinitiv import SCHEME, RefinitivConnector
from portico.connectors.refinitiv import plugin as refinitiv_plugin
from portico.errors import AuthError, ConfigurationError, NotFound, PayloadRejected
from portico.models import BarInterval
from portico.plugins import PluginManager
from portico.sdk import ConnectorContext
from tests.connectors.refinitiv.conftest import APP_KEY, PASSWORD, LsegHarness

Q4_START = datetime(2025, 10, 1, tzinfo=UTC)
Q4_END = datetime(2025, 12, 31, tzinfo=UTC)
Q4_TRADING_DAYS = 64  # October 23 + November 19 (Thanksgiving) + December 22 (Christmas)


def _history_calls(harness: LsegHarness) -> list[str]:
    return [
        e.query
        for e in harness.app.journal.entries(
            path="/data/historical-pricing/v1/views/interday-summaries/AAPL.O"
        )
    ]


async def test_a_long_history_is_fetched_in_pages_that_do_not_overlap(lseg: LsegHarness) -> None:
    connector = lseg.connector(connection={"interday_rows_per_request": 25})
    bars = await connector.get_bars("AAPL.O", BarInterval.DAY, start=Q4_START, end=Q4_END)
    assert len(bars) == Q4_TRADING_DAYS
    assert len({b.timestamp for b in bars}) == Q4_TRADING_DAYS
    assert bars[0].timestamp == datetime(2025, 10, 1, tzinfo=UTC)
    assert bars[-1].timestamp == datetime(2025, 12, 31, tzinfo=UTC)
    calls = _history_calls(lseg)
    assert len(calls) == 3  # 25 + 25 + 14 rows
    assert all("count=25" in q for q in calls)
    assert "end=2025-12-31" in calls[0] and "end=2025-12-31" not in calls[1]


async def test_paging_does_not_trust_the_count_when_the_platform_caps_lower(
    lseg_factory: Callable[..., LsegHarness],
) -> None:
    harness = lseg_factory(interday_row_cap=10)
    connector = harness.connector(connection={"interday_rows_per_request": 25})
    try:
        bars = await connector.get_bars("AAPL.O", BarInterval.DAY, start=Q4_START, end=Q4_END)
    finally:
        await connector.close()
    assert len(bars) == Q4_TRADING_DAYS
    assert len(_history_calls(harness)) == 7  # 6 pages of 10 and one of 4


async def test_a_limit_is_served_from_the_newest_rows(lseg: LsegHarness) -> None:
    connector = lseg.connector(connection={"interday_rows_per_request": 3})
    bars = await connector.get_bars("AAPL.O", BarInterval.DAY, end=Q4_END, limit=7)
    assert [b.timestamp.day for b in bars] == [22, 23, 24, 26, 29, 30, 31]  # 25 December is a holiday
    assert len(_history_calls(lseg)) == 3  # 3 + 3 + 1


async def test_the_page_guard_stops_a_history_that_never_ends(lseg: LsegHarness) -> None:
    connector = lseg.connector(connection={"interday_rows_per_request": 5, "max_pages": 2})
    with pytest.raises(PayloadRejected, match="did not end after 2 pages"):
        await connector.get_bars("AAPL.O", BarInterval.DAY, start=Q4_START, end=Q4_END)


async def test_the_limiter_keeps_calls_under_five_a_second(lseg: LsegHarness) -> None:
    connector = lseg.connector(connection={"rics_per_snapshot": 1})
    pairs = [("EUR", "USD"), ("GBP", "USD"), ("USD", "JPY"), ("USD", "CHF"), ("AUD", "USD"), ("USD", "CAD"),
             ("NZD", "USD"), ("USD", "SEK"), ("USD", "NOK"), ("USD", "HKD"), ("USD", "SGD"), ("EUR", "GBP")]  # fmt: skip
    started = lseg.clock.monotonic()
    # one after the other: the fake clock jumps on every limiter wait, which would also move requests
    # still in flight if they were concurrent
    rates = [await connector.get_fx_rate(base, quote) for base, quote in pairs]
    assert len(rates) == 12
    statuses = [e.status for e in lseg.app.journal.entries(path="/data/pricing/snapshots/v1/")]
    assert statuses == [200] * 12  # never a 429 from the platform
    assert lseg.clock.monotonic() - started >= 2.0  # 12 calls at 5 a second take over two seconds


async def test_without_the_limiter_the_platform_throttles_and_the_retry_recovers(lseg: LsegHarness) -> None:
    connector = lseg.connector(connection={"rics_per_snapshot": 1}, limiter=False)
    pairs = [("EUR", "USD"), ("GBP", "USD"), ("USD", "JPY"), ("USD", "CHF"), ("AUD", "USD"), ("USD", "CAD"),
             ("NZD", "USD"), ("USD", "SEK")]  # fmt: skip
    result = await connector.get_fx_rates(pairs)
    assert len(result.rates) == 8
    statuses = [e.status for e in lseg.app.journal.entries(path="/data/pricing/snapshots/v1/")]
    assert 429 in statuses


async def test_150_pairs_in_two_snapshot_calls_with_errors_per_pair(lseg: LsegHarness) -> None:
    connector = lseg.connector()
    others = sorted(c for c in ["AED", "ARS", "BDT", "BGN", "BHD", "BRL", "CLP", "CNY", "COP", "CZK", "DKK", "EGP", "GHS", "HKD", "HUF", "IDR", "ILS", "INR", "ISK", "JOD", "KES", "KRW", "KWD", "KZT", "LKR", "MAD", "MXN", "MYR", "NGN", "NOK", "OMR", "PEN", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "SAR", "SEK", "SGD", "THB", "TND", "TRY", "TWD", "UAH", "UYU", "VND", "ZAR", "CAD", "CHF", "JPY"])  # fmt: skip
    pairs = [("USD", c) for c in others] + [("EUR", "USD"), ("GBP", "USD"), ("AUD", "USD"), ("NZD", "USD")]
    pairs += [(b, q) for b in ("EUR", "GBP") for q in others if q not in {"EUR", "GBP"}][: 150 - len(pairs)]
    pairs.append(("USD", "XAU"))  # gold has no spot RIC of this shape: that pair fails alone
    assert len(pairs) == 151
    result = await connector.get_fx_rates(pairs)
    assert len(result.rates) == 150
    assert list(result.missing) == [("USD", "XAU")]
    assert "XAU=" in result.missing[("USD", "XAU")]
    assert isinstance(result.errors[("USD", "XAU")], NotFound)
    assert len(lseg.app.journal.entries(path="/data/pricing/snapshots/v1/")) == 2  # 100 RICs a call
    cross = result.rates[("EUR", "CHF")]  # a cross: EURCHF=R
    assert cross.bid is not None and cross.ask is not None and cross.bid < cross.ask


async def test_the_token_is_refreshed_before_it_expires_with_the_rotating_refresh_token(
    lseg: LsegHarness,
) -> None:
    connector = lseg.connector()
    await connector.get_fx_rate("EUR", "USD")
    lseg.clock.advance(250)  # 300 s tokens, refreshed 60 s early
    await connector.get_fx_rate("EUR", "USD")
    assert lseg.mock.tokens.grants == ["password", "refresh_token"]
    statuses = [e.status for e in lseg.app.journal.entries(path="/data/pricing/snapshots/v1/")]
    assert statuses == [200, 200]  # refreshed ahead of expiry: no 401 on the way


async def test_fifty_concurrent_calls_on_a_stale_token_cause_one_refresh(lseg: LsegHarness) -> None:
    connector = lseg.connector(limiter=False)
    lseg.mock.requests_per_second = 1000
    await connector.get_fx_rate("EUR", "USD")
    lseg.clock.advance(290)
    await asyncio.gather(*(connector.get_fx_rate("EUR", "USD") for _ in range(50)))
    assert lseg.mock.tokens.grants == ["password", "refresh_token"]


async def test_the_login_guard_refuses_before_the_platform_locks_the_account(
    lseg_factory: Callable[..., LsegHarness],
) -> None:
    harness = lseg_factory(access_lifetime=30)  # shorter than the 60 s refresh skew: every call renews
    connector = harness.connector(auth=harness.auth(max_token_requests_per_minute=3))
    try:
        for _ in range(3):
            await connector.get_fx_rate("EUR", "USD")
        with pytest.raises(AuthError, match="refused locally: 3 token requests in the last minute"):
            await connector.get_fx_rate("EUR", "USD")
        assert len(harness.mock.tokens.grants) == 3  # the fourth never reached the platform
        harness.clock.advance(61)
        await connector.get_fx_rate("EUR", "USD")  # the window has passed
    finally:
        await connector.close()


def test_the_guard_cannot_be_set_past_the_platforms_limit(lseg: LsegHarness) -> None:
    with pytest.raises(Exception, match="1-50"):
        lseg.auth(max_token_requests_per_minute=51)


async def test_a_second_session_is_refused_unless_it_takes_over(lseg: LsegHarness) -> None:
    first = lseg.connector(system_id="first")
    await first.get_fx_rate("EUR", "USD")
    second = lseg.connector(system_id="second")
    with pytest.raises(AuthError, match="Session quota is reached.*take_exclusive_sign_on: true"):
        await second.get_fx_rate("EUR", "USD")
    third = lseg.connector(system_id="third", auth=lseg.auth(system_id="third", take_exclusive_sign_on=True))
    await third.get_fx_rate("EUR", "USD")
    with pytest.raises(AuthError):
        await first.get_fx_rate("EUR", "USD")  # its session was taken over


async def test_closing_the_connector_ends_the_session_so_the_next_login_works(lseg: LsegHarness) -> None:
    first = lseg.connector(system_id="first")
    await first.get_fx_rate("EUR", "USD")
    await first.close()
    assert lseg.mock.tokens.sessions == []
    second = lseg.connector(system_id="second")
    await second.get_fx_rate("EUR", "USD")


async def test_v2_client_credentials_through_the_built_in_scheme(lseg: LsegHarness) -> None:
    context = AuthContext(system_id="lseg", scheme="oauth2_client_credentials", clock=lseg.clock,  # type: ignore[arg-type]
                          transport=lseg.transport)  # fmt: skip
    auth = ClientCredentialsAuth(
        context,
        {"client_id": "portico-service", "client_secret": "portico-secret"},
        {"token_url": "http://lseg.mock/auth/oauth2/v2/token", "token_endpoint_auth_method": "client_secret_post",
         "scope": "trapi"},
    )  # fmt: skip
    connector = lseg.connector(auth=auth)
    rate = await connector.get_fx_rate("USD", "JPY")
    assert rate.base == "USD" and rate.quote == "JPY"
    assert lseg.mock.tokens.grants == ["client_credentials"]


def test_the_plugin_contributes_the_password_scheme() -> None:
    plugins = PluginManager(autoload=False)
    plugins.register(refinitiv_plugin, name="refinitiv")
    assert SCHEME in AuthenticationManager(plugins=plugins).schemes()
    assert plugins.connector("refinitiv") is RefinitivConnector


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get_bars("AAPL.O", BarInterval.MIN_15, limit=5), "no 15min summaries"),
        (lambda c: c.get_bars("AAPL.O", BarInterval.DAY, start=Q4_END, end=Q4_START), "is after end"),
        (lambda c: c.get_bars("AAPL.O", BarInterval.DAY, limit=0), "limit must be at least 1"),
        (lambda c: c.get_bars("AAPL.O", BarInterval.DAY, start=datetime(2026, 1, 2)), "has no time zone"),
        (lambda c: c.get_bars("not a ric", BarInterval.DAY, limit=1), "is not a RIC"),
        (lambda c: c.get_fx_rate("EUR", "EUR"), "not a currency pair"),
        (lambda c: c.get_latest_quotes([]), "no RICs given"),
        (lambda c: c.get_reference_data(["IBM.N"], []), "at least one RIC and one field"),
    ],
)
async def test_bad_input_is_refused_before_any_call(lseg: LsegHarness, call: Callable, message: str) -> None:
    connector = lseg.connector()
    with pytest.raises(PayloadRejected, match=message):
        await call(connector)
    assert lseg.app.journal.entries() == []


async def test_secrets_stay_out_of_logs_and_reprs(
    lseg: LsegHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = lseg.auth()
    connector = lseg.connector(auth=auth)
    await connector.get_fx_rate("EUR", "USD")
    token = auth.current_token
    assert token is not None
    access = token.access_token.get_secret_value()
    texts = [caplog.text, repr(auth), repr(connector), repr(connector.context), str(token)]
    for secret in (PASSWORD, APP_KEY, access):
        assert all(secret not in text for text in texts)


async def test_snapshots_and_fundamentals_from_the_mock(lseg: LsegHarness) -> None:
    connector = lseg.connector()
    snapshots = await connector.get_snapshots(["AAPL.O", "VOD.L"])
    aapl = snapshots["AAPL.O"]
    assert aapl.latest_quote is not None and aapl.latest_trade is not None and aapl.daily_bar is not None
    assert aapl.daily_bar.timestamp == datetime(2026, 1, 6, tzinfo=UTC)
    assert snapshots["VOD.L"].latest_quote is not None and snapshots["VOD.L"].latest_quote.currency == "GBP"
    fundamentals = await connector.get_fundamentals("SAPG.DE")
    assert (fundamentals.name, fundamentals.currency, fundamentals.country) == ("SAP SE", "EUR", "Germany")
    trades = await connector.get_trades("AAPL.O", start=datetime(2026, 1, 6, 15, 0, tzinfo=UTC),
                                        end=datetime(2026, 1, 6, 15, 1, tzinfo=UTC))  # fmt: skip
    assert trades and all(datetime(2026, 1, 6, 15, 0, tzinfo=UTC) <= t.timestamp <= datetime(2026, 1, 6, 15, 1, tzinfo=UTC)
                          for t in trades)  # fmt: skip
    stamps = [t.timestamp for t in trades]
    assert stamps == sorted(stamps)


async def test_an_intraday_fx_series_is_inverted_for_the_other_direction(lseg: LsegHarness) -> None:
    connector = lseg.connector()
    start, end = datetime(2026, 1, 6, 15, 0, tzinfo=UTC), datetime(2026, 1, 6, 15, 30, tzinfo=UTC)
    usd_jpy = await connector.get_fx_series("USD", "JPY", BarInterval.MIN_5, start=start, end=end)
    jpy_usd = await connector.get_fx_series("JPY", "USD", BarInterval.MIN_5, start=start, end=end)
    assert [b.timestamp.minute for b in usd_jpy] == [0, 5, 10, 15, 20, 25, 30]
    assert [b.symbol for b in jpy_usd] == ["JPY/USD"] * 7
    for straight, inverse in zip(usd_jpy, jpy_usd, strict=True):
        assert abs(straight.close * inverse.close - 1) < Decimal("1e-6")


async def test_search_finds_instruments_best_match_first(lseg: LsegHarness) -> None:
    connector = lseg.connector()
    found = await connector.search_instruments("technology ibm.n")
    assert found == []  # every word must match
    found = await connector.search_instruments("New York")
    assert [i.symbol for i in found] == ["GS.N", "IBM.N", "JPM.N"]
    exact = await connector.search_instruments("IBM.N")
    assert exact[0].symbol == "IBM.N" and exact[0].name == "International Business Machines Corp"
    assert exact[0].venue_ids["refinitiv"] == "IBM.N"
    search = lseg.app.journal.entries(path="/discovery/search/v1/")[-1]
    assert search.json()["View"] == "EquityQuotes"


async def test_an_empty_search_is_refused(lseg: LsegHarness) -> None:
    with pytest.raises(PayloadRejected, match="search text is empty"):
        await lseg.connector().search_instruments("  ")


async def test_the_platforms_login_rate_answer_is_an_auth_error_that_says_wait(
    lseg_factory: Callable[..., LsegHarness],
) -> None:
    harness = lseg_factory(login_limit=1, access_lifetime=30)
    connector = harness.connector()
    try:
        await connector.get_fx_rate("EUR", "USD")
        with pytest.raises(AuthError, match="login-rate protection answered; wait a minute"):
            await connector.get_fx_rate("EUR", "USD")
    finally:
        await connector.close()


async def test_a_server_fault_is_retried_and_the_call_succeeds(lseg: LsegHarness) -> None:
    lseg.app.faults.add({"route": "/data/pricing/snapshots/v1/", "kind": "error", "status": 503, "times": 1})
    connector = lseg.connector()
    rate = await connector.get_fx_rate("GBP", "USD")
    assert rate.base == "GBP"
    statuses = [e.status for e in lseg.app.journal.entries(path="/data/pricing/snapshots/v1/")]
    assert statuses == [503, 200]


async def test_the_health_check_reports_refused_credentials(lseg_factory: Callable[..., LsegHarness]) -> None:
    harness = lseg_factory(users={"test-user": "another-password"})
    connector = harness.connector()
    try:
        result = await connector.check()
    finally:
        await connector.close()
    assert not result.ok
    assert result.checks["authenticated"] is False
    assert "Invalid username or password" in result.detail


async def test_a_search_limit_out_of_range_is_refused(lseg: LsegHarness) -> None:
    with pytest.raises(PayloadRejected, match="limit must be 1-10000"):
        await lseg.connector().search_instruments("apple", limit=0)


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"cross_ric_suffix": "R"}, "cross_ric_suffix"),
        ({"interday_rows_per_request": 20000}, "interday_rows_per_request"),
        ({"rics_per_snapshot": 0}, "rics_per_snapshot"),
        ({"rows_per_request": 10}, "unknown key"),
    ],
)
def test_bad_connection_settings_name_the_key(connection: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ConnectorContext.for_testing(RefinitivConnector, connection=connection)


async def test_a_ric_the_account_is_not_entitled_to_is_an_auth_error(lseg: LsegHarness) -> None:
    lseg.mock.unpermitted.add("VOD.L")
    connector = lseg.connector()
    with pytest.raises(AuthError, match="not entitled to VOD.L") as caught:
        await connector.get_latest_quotes(["AAPL.O", "VOD.L"])
    assert caught.value.venue_code == "NotEntitled"
    result = await connector.get_fx_rates([("EUR", "USD")])
    assert list(result.rates) == [("EUR", "USD")]  # other instruments are unaffected
    with pytest.raises(AuthError, match="no permission for VOD.L"):
        await connector.get_bars("VOD.L", BarInterval.DAY, limit=3)


async def test_fx_quote_events_page_without_repeats(lseg: LsegHarness) -> None:
    connector = lseg.connector(connection={"intraday_rows_per_request": 7})
    start, end = datetime(2026, 1, 6, 15, 0, tzinfo=UTC), datetime(2026, 1, 6, 15, 1, tzinfo=UTC)
    quotes = await connector.get_quotes("EUR=", start=start, end=end)
    stamps = [q.timestamp for q in quotes]
    assert len(stamps) == 21  # one every three seconds, both ends included
    assert stamps == sorted(set(stamps))
    assert stamps[0] == start and stamps[-1] == end
    assert all(
        q.bid_price is not None and q.ask_price is not None and q.bid_price < q.ask_price for q in quotes
    )


async def test_stale_fx_quotes_are_missing_with_the_reason(lseg: LsegHarness) -> None:
    connector = lseg.connector()
    fresh = await connector.get_fx_rates([("EUR", "USD")], max_age=60)
    assert list(fresh.rates) == [("EUR", "USD")]
    lseg.mock.quiet["EUR="] = datetime(2026, 1, 6, 15, 58, tzinfo=UTC)  # its feed went quiet two minutes ago
    stale = await connector.get_fx_rates([("EUR", "USD"), ("USD", "JPY")], max_age=60)
    assert list(stale.rates) == [("USD", "JPY")]
    assert stale.missing[("EUR", "USD")].startswith(
        "PayloadRejected: EUR= is stale: quoted at 2026-01-06T15:58:00"
    )
    with pytest.raises(PayloadRejected, match="max_age must be a positive"):
        await connector.get_fx_rates([("EUR", "USD")], max_age=0)
    with pytest.raises(PayloadRejected, match="at least one currency pair"):
        await connector.get_fx_rates([])
