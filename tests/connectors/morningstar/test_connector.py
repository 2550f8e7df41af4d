"""The Morningstar connector against its mock in-process: fund data, returns, holdings, lookups, and the
safety checks of the task flow (token expiry, token kept to its origin, bounded results, bounded waits)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from decimal import Decimal

import pytest

from portico.connectors.morningstar import FundHolding, ReturnFrequency
from portico.errors import (
    AuthError,
    ConfigurationError,
    NotFound,
    PayloadRejected,
    ReadTimeout,
    VenueRejected,
)
from portico.models import AssetClass
from tests.connectors.morningstar.conftest import MsHarness


async def test_fund_data_of_two_funds(ms: MsHarness) -> None:
    connector = ms.connector()
    profiles = await connector.get_fund_data(["F00000YOOK", "FOUSA00D6E"])
    assert [p.sec_id for p in profiles] == ["F00000YOOK", "FOUSA00D6E"]
    first, second = profiles
    assert first.name == "Morningstar US Equity"
    assert first.currency == "USD"
    assert first.domicile == "US"
    assert first.expense_ratio == Decimal("0.84")
    assert first.inception_date == date(2018, 11, 2)
    assert first.category_group == "Equity"
    assert second.expense_ratio == Decimal("0.58")
    assert second.category_group == "Allocation"
    assert connector.last_warnings == []


async def test_fund_data_by_ticker_and_isin_keeps_the_callers_symbols(ms: MsHarness) -> None:
    connector = ms.connector()
    profiles = await connector.get_fund_data(["SPY", "AU60ETL00162"])
    assert {(p.symbol, p.sec_id) for p in profiles} == {("SPY", "FEUSA04AER"), ("AU60ETL00162", "F0AUS05U7H")}
    walter = next(p for p in profiles if p.sec_id == "F0AUS05U7H")
    assert (walter.currency, walter.domicile, walter.asset_class) == ("AUD", "AU", AssetClass.FUND)


async def test_ticker_resolutions_are_cached(ms: MsHarness) -> None:
    connector = ms.connector()
    await connector.get_fund_data(["SPY"])
    await connector.get_fund_data(["SPY"])
    lookups = [e for e in ms.app.journal.entries("GET", None) if e.path.endswith("/search_security")]
    assert len(lookups) == 1


async def test_unknown_ticker_is_not_found_naming_it(ms: MsHarness) -> None:
    with pytest.raises(NotFound, match="'ZZZZQ'"):
        await ms.connector().get_fund_data(["ZZZZQ"])


async def test_partly_unknown_sec_ids_warn_and_return_the_rest(ms: MsHarness) -> None:
    connector = ms.connector()
    profiles = await connector.get_fund_data(["F00000YOOK", "F00000ZZZZ"])
    assert [p.sec_id for p in profiles] == ["F00000YOOK"]
    assert connector.last_warnings == ["Investments not found: F00000ZZZZ"]


async def test_unmatched_fail_setting_fails_the_request(ms: MsHarness) -> None:
    connector = ms.connector(connection={"unmatched_investment_behavior": "FAIL"})
    with pytest.raises(NotFound, match="F00000ZZZZ"):
        await connector.get_fund_data(["F00000YOOK", "F00000ZZZZ"])


async def test_monthly_returns_of_two_funds(ms: MsHarness) -> None:
    connector = ms.connector()
    returns = await connector.get_returns(["F00000YOOK", "FEUSA04AER"], date(2025, 9, 1), date(2025, 11, 30))
    assert [(r.sec_id, r.period_end) for r in returns] == [
        ("F00000YOOK", date(2025, 9, 30)), ("F00000YOOK", date(2025, 10, 31)), ("F00000YOOK", date(2025, 11, 30)),
        ("FEUSA04AER", date(2025, 9, 30)), ("FEUSA04AER", date(2025, 10, 31)), ("FEUSA04AER", date(2025, 11, 30)),
    ]  # fmt: skip
    assert all(r.frequency is ReturnFrequency.MONTHLY for r in returns)
    # the value morningstar_data reads from the same mock at seed 7 (test_vendor_client)
    assert returns[1].total_return == Decimal("2.070271")


async def test_the_request_body_matches_the_package(ms: MsHarness) -> None:
    await ms.connector().get_returns(
        ["F00000YOOK"], date(2025, 10, 1), date(2025, 10, 31), "daily", currency="usd"
    )
    post = next(e for e in ms.app.journal.entries("POST", None) if e.path.endswith("/get_investment_data"))
    body = json.loads(post.body)
    assert body == {
        "investments": ["F00000YOOK"],
        "datapoints": [{"datapointId": "HS793", "isTsdp": True, "startDate": "2025-10-01", "endDate": "2025-10-31",
                        "currency": "USD"}],
        "time_series_format": "LongWithoutName",
        "display_name": False,
        "unmatched_investment_behavior": "WARNING",
        "preview": False,
    }  # fmt: skip


async def test_holdings_of_two_funds_on_a_date(ms: MsHarness) -> None:
    holdings = await ms.connector().get_holdings(["F00000YOOK", "FOUSA00D6E"], date(2025, 12, 31))
    assert {h.fund_sec_id for h in holdings} == {"F00000YOOK", "FOUSA00D6E"}
    assert len([h for h in holdings if h.fund_sec_id == "F00000YOOK"]) == 5
    msft = next(h for h in holdings if h.ticker == "MSFT")
    assert isinstance(msft, FundHolding)
    assert (msft.isin, msft.country, msft.currency, msft.holding_type) == (
        "US5949181045",
        "US",
        "USD",
        "EQUITY",
    )
    assert isinstance(msft.shares, Decimal) and isinstance(msft.market_value, Decimal)
    assert msft.portfolio_date == date(2025, 12, 31)
    total = sum((h.weight or Decimal(0)) for h in holdings if h.fund_sec_id == "FOUSA00D6E")
    assert abs(total - 100) < Decimal("0.01")


async def test_holdings_over_several_pages_are_merged(ms: MsHarness) -> None:
    ms.mock.page_size = 2
    holdings = await ms.connector().get_holdings(["F00000YOOK", "FOUSA00D6E"], date(2025, 12, 31))
    task = next(t for t in ms.mock.tasks.values() if t.kind == "get_holdings_task")
    assert task.result is not None and len(task.result["pages"]) == 5  # 9 positions, 2 a page
    assert [h.name for h in holdings][:3] == ["Microsoft Corp", "Apple Inc", "Alphabet Inc Class A"]
    assert len(holdings) == 9


async def test_latest_holdings_by_default_and_holding_dates(ms: MsHarness) -> None:
    connector = ms.connector()
    holdings = await connector.get_holdings(["SPY"])
    assert {h.portfolio_date for h in holdings} == {date(2025, 12, 31)}
    assert {h.fund_symbol for h in holdings} == {"SPY"}
    dates = await connector.get_holding_dates(["F00000YOOK"])
    assert dates == {"F00000YOOK": [date(2025, 12, 31), date(2025, 11, 30), date(2025, 10, 31)]}


async def test_holdings_on_a_date_without_a_portfolio_is_not_found(ms: MsHarness) -> None:
    with pytest.raises(NotFound, match="2019-06-30"):
        await ms.connector().get_holdings(["F00000YOOK"], date(2019, 6, 30))


async def test_search_by_ticker_isin_and_sec_id(ms: MsHarness) -> None:
    connector = ms.connector()
    [apple] = await connector.search_instruments("AAPL")
    assert (apple.symbol, apple.asset_class, apple.isin, apple.country) == (
        "AAPL",
        AssetClass.EQUITY,
        "US0378331005",
        "US",
    )
    assert apple.venue_ids["morningstar"] == "0P000000GY"
    [fund] = await connector.search_instruments("US6176971074")
    assert (fund.symbol, fund.asset_class) == ("MSTQX", AssetClass.FUND)
    [etf] = await connector.search_instruments("FEUSA04AER;FE")
    assert (etf.symbol, etf.asset_class, etf.currency) == ("SPY", AssetClass.ETF, "USD")


async def test_fundamentals_view(ms: MsHarness) -> None:
    fundamentals = await ms.connector().get_fundamentals("SPY")
    assert (fundamentals.symbol, fundamentals.name, fundamentals.currency, fundamentals.sector) == (
        "SPY", "SPDR S&P 500 ETF Trust", "USD", "Equity",
    )  # fmt: skip


async def test_tasks_are_polled_until_done_on_the_context_clock(ms: MsHarness) -> None:
    ms.mock.pending_polls = 3
    connector = ms.connector()
    await connector.get_fund_data(["F00000YOOK"])
    assert connector.client.polls == 3
    assert ms.clock.sleeps.count(0.02) == 3  # next_poll_delay_milliseconds=20, on the fake clock


async def test_result_files_are_fetched_without_the_token(ms: MsHarness) -> None:
    await ms.connector().get_fund_data(["F00000YOOK"])
    files = [e for e in ms.app.journal.entries("GET", None) if "/files/" in e.path]
    polls = [e for e in ms.app.journal.entries("GET", None) if "/v1/task/" in e.path]
    assert files and polls
    assert all("authorization" not in {k.lower() for k in e.headers} for e in files)
    assert all("authorization" in {k.lower() for k in e.headers} for e in polls)


# -- safety checks ---------------------------------------------------------------------------------


async def test_an_expired_token_is_refused_before_any_call(ms: MsHarness) -> None:
    token = ms.mock.issue_token(lifetime=60)
    connector = ms.connector(token=token)
    await connector.open()
    ms.clock.advance(61)
    with pytest.raises(AuthError, match="expired.*Analytics Lab"):
        await connector.get_fund_data(["F00000YOOK"])
    assert ms.app.journal.entries("POST", None) == []
    assert token not in str(ms.app.journal.entries("GET", None))


async def test_a_token_that_is_no_jwt_is_a_configuration_error(ms: MsHarness) -> None:
    with pytest.raises(ConfigurationError, match="not a JWT") as caught:
        await ms.connector(token="not-a-jwt-secret-value").open()
    assert "not-a-jwt-secret-value" not in str(caught.value)


async def test_a_token_the_service_refuses_is_an_auth_error(ms: MsHarness) -> None:
    token = ms.mock.issue_token()
    ms.mock.revoked.add(token)
    with pytest.raises(AuthError, match="revoked") as caught:
        await ms.connector(token=token).get_fund_data(["F00000YOOK"])
    assert token not in str(caught.value) and token not in repr(caught.value)


async def test_a_poll_url_on_an_untrusted_host_is_refused(ms: MsHarness) -> None:
    ms.mock.poll_base = "https://collector.example"
    connector = ms.connector()
    with pytest.raises(PayloadRejected, match="collector.example"):
        await connector.get_fund_data(["F00000YOOK"])
    assert [e for e in ms.app.journal.entries("GET", None) if "/v1/task/" in e.path] == []


async def test_a_poll_url_on_a_morningstar_host_is_followed(ms: MsHarness) -> None:
    # the package's own documentation shows poll URLs on datalab.morningstar.com, not on MD_API's host
    ms.mock.poll_base = "https://datalab.morningstar.com"
    profiles = await ms.connector().get_fund_data(["F00000YOOK"])
    assert [p.sec_id for p in profiles] == ["F00000YOOK"]


async def test_a_poll_url_over_plain_http_on_a_trusted_host_is_refused(ms: MsHarness) -> None:
    ms.mock.poll_base = "http://datalab.morningstar.com"
    with pytest.raises(PayloadRejected, match="HTTPS"):
        await ms.connector().get_fund_data(["F00000YOOK"])


async def test_a_result_file_over_plain_http_elsewhere_is_refused(ms: MsHarness) -> None:
    connector = ms.connector()
    with pytest.raises(PayloadRejected, match="only HTTPS"):
        await connector.client.frame("http://storage.example/result.feather")


async def test_a_holdings_page_larger_than_the_limit_is_refused(ms: MsHarness) -> None:
    connector = ms.connector(connection={"max_result_bytes": 4096})
    bomb = gzip.compress(b"{}\n" * 100_000)  # 300 kB of lines in a few hundred bytes
    assert len(bomb) < 4096
    url, _ = ms.mock.store_file("http://morningstar.mock", "bomb.jsonl.gz", bomb)
    with pytest.raises(PayloadRejected, match="max_result_bytes"):
        await connector.client.lines(url)


async def test_a_holdings_page_that_is_not_gzip_is_refused(ms: MsHarness) -> None:
    connector = ms.connector()
    url, _ = ms.mock.store_file("http://morningstar.mock", "plain.jsonl.gz", b'{"secIds": ["X"]}\n')
    with pytest.raises(PayloadRejected, match="not gzip"):
        await connector.client.lines(url)


async def test_a_feather_file_larger_than_the_limit_is_refused(ms: MsHarness) -> None:
    connector = ms.connector(connection={"max_result_bytes": 64})
    with pytest.raises(PayloadRejected, match="max_result_bytes"):
        await connector.get_fund_data(["F00000YOOK"])


async def test_a_task_still_pending_after_the_timeout_stops_waiting(ms: MsHarness) -> None:
    ms.mock.pending_polls = 10_000
    ms.mock.poll_delay_ms = 1000
    connector = ms.connector(connection={"task_timeout": 5})
    with pytest.raises(ReadTimeout, match="still pending after 5 s"):
        await connector.get_fund_data(["F00000YOOK"])
    assert connector.client.polls == 5


async def test_an_expired_file_url_is_refused_by_the_mock(ms: MsHarness) -> None:
    connector = ms.connector()
    url, _ = ms.mock.store_file("http://morningstar.mock", "late.feather", b"x")
    ms.mock.clock.advance(ms.mock.file_lifetime + 1)
    with pytest.raises(AuthError):
        await connector.client.frame(url)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get_fund_data([]), "at least one symbol"),
        (lambda c: c.get_fund_data(["  "]), "empty symbol"),
        (lambda c: c.get_fund_data(["F0000;;YOOK!"]), "neither a Morningstar SecId"),
        (lambda c: c.get_fund_data(["F00000YOOK"], [{"id": "OS01W"}]), "datapointId"),
        (lambda c: c.get_returns(["F00000YOOK"], date(2025, 3, 1), date(2025, 1, 1)), "after end"),
        (
            lambda c: c.get_returns(["F00000YOOK"], date(2025, 1, 1), frequency="hourly"),
            "unknown return frequency",
        ),
        (lambda c: c.get_returns(["F00000YOOK"], date(2025, 1, 1), currency="dollars"), "ISO 4217"),
        (lambda c: c.get_returns(["F00000YOOK"], "January"), "must be a date"),
        (lambda c: c.get_fund_data(["F00000YOOK"] * 501), "at most 500"),
        (lambda c: c.get_fundamentals("SPY", statements=True), "no financial statements"),
        (lambda c: c.search_instruments("SPY", limit=0), "limit must be at least 1"),
    ],
)
async def test_bad_input_is_refused_with_a_clear_message(ms: MsHarness, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PayloadRejected, match=message):
        await call(ms.connector())


async def test_an_unknown_data_point_is_the_vendors_refusal(ms: MsHarness) -> None:
    with pytest.raises(VenueRejected, match="XX999") as caught:
        await ms.connector().get_fund_data(["F00000YOOK"], [{"datapointId": "XX999"}])
    assert caught.value.venue_code == "BadRequestError"


async def test_unknown_connection_setting_is_a_configuration_error(ms: MsHarness) -> None:
    with pytest.raises(ConfigurationError, match="task_timeout"):
        ms.connector(connection={"task_timeout": -1})


# -- plugin and secrets ----------------------------------------------------------------------------


def test_the_plugin_loads_through_its_entry_point() -> None:
    from portico.connectors.morningstar import MorningstarConnector
    from portico.plugins import PluginManager

    assert PluginManager().connectors["morningstar"] is MorningstarConnector


async def test_the_token_is_in_no_repr(ms: MsHarness) -> None:
    token = ms.mock.issue_token()
    connector = ms.connector(token=token)
    await connector.open()
    client = connector.client
    for text in (repr(connector), repr(client._api), repr(client._files), repr(connector.context)):
        assert token not in text
    from portico.connectors.morningstar.client import BearerTokenAuth

    assert repr(BearerTokenAuth(token)) == "BearerTokenAuth(token=***)"


async def test_health_check_passes_and_reports_the_token_expiry(ms: MsHarness) -> None:
    result = await ms.connector(token=ms.mock.issue_token(lifetime=7200)).check()
    assert result.ok, result.detail
    assert "token valid until 2026-01-05T16:30:00+00:00" in result.detail


async def test_health_check_fails_on_a_refused_token(ms: MsHarness) -> None:
    token = ms.mock.issue_token()
    ms.mock.revoked.add(token)
    result = await ms.connector(token=token).check()
    assert not result.ok
    assert result.checks == {"reachable": True, "authenticated": False}
