"""The Bloomberg connector against the in-process mock: the request flow (submit, poll, download), what
it sends, what it maps, its deadline, its idempotent submit, and its refusals of bad input.

Expected prices are the mock's seeded values for seed 5 at the fake clock's start (2026-01-05 14:30 UTC),
captured once and written here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portico.clock import FakeClock
from portico.errors import (
    ConfigurationError,
    NotFound,
    NotSupported,
    PayloadRejected,
    ReadTimeout,
    VenueRejected,
)
from portico.models import BarInterval
from portico.models._iso import CURRENCY_CODES
from tests.connectors.bloomberg.conftest import CLIENT_SECRET, BbgHarness

MOCK_CURRENCIES = ["AUD", "CAD", "CHF", "CNY", "EUR", "GBP", "HKD", "JPY", "NOK", "NZD", "SEK", "SGD", "USD"]


async def test_quotes_are_one_request_polled_until_its_output_is_published(bbg: BbgHarness) -> None:
    connector = bbg.connector()
    quotes = await connector.get_latest_quotes(["AAPL", "MSFT US Equity"])
    aapl = quotes["AAPL"]
    assert (aapl.bid_price, aapl.ask_price, aapl.last_price) == (
        Decimal("190.38"),
        Decimal("190.44"),
        Decimal("190.41"),
    )
    assert aapl.currency == "USD" and aapl.source == "bloomberg"
    # the output was produced 100 s after submission; the snapshot time says so, in UTC
    assert aapl.timestamp == datetime(2026, 1, 5, 14, 31, 40, tzinfo=UTC)
    assert quotes["MSFT US Equity"].last_price == Decimal("414.58")
    # four polls 30 s apart: at 0, 30, 60 and 90 s nothing, at 120 s the output is listed
    assert bbg.clock.sleeps == [30.0, 30.0, 30.0, 30.0]
    listing = bbg.app.journal.entries("GET", "/eap/catalogs/1234/content/responses/")
    assert len(listing) == 5


async def test_what_is_sent_is_a_data_request_with_api_version_and_a_bearer_token(bbg: BbgHarness) -> None:
    connector = bbg.connector()
    await connector.get_latest_quotes(["AAPL"])
    (document,) = bbg.posted()
    assert document["@type"] == "DataRequest"
    assert document["universe"]["contains"] == [
        {"@type": "Identifier", "identifierType": "TICKER", "identifierValue": "AAPL US Equity"}
    ]
    assert [f["mnemonic"] for f in document["fieldList"]["contains"]] == [
        "PX_BID",
        "PX_ASK",
        "PX_LAST",
        "PX_VOLUME",
        "CRNCY",
    ]
    assert document["trigger"] == {"@type": "SubmitTrigger"}
    assert document["formatting"] == {"@type": "MediaType", "outputMediaType": "application/json"}
    for entry in bbg.app.journal.entries():
        if entry.path.startswith("/eap/"):
            headers = {k.lower(): v for k, v in entry.headers.items()}
            assert headers["api-version"] == "2"
            assert headers["authorization"].startswith("Bearer ") or headers["authorization"] == "***"
    poll = bbg.app.journal.entries("GET", "/eap/catalogs/1234/content/responses/")[0]
    assert f"requestIdentifier={document['identifier']}" in poll.query
    assert f"prefix={document['name']}" in poll.query


async def test_one_token_serves_every_call(bbg: BbgHarness) -> None:
    connector = bbg.connector()
    await connector.get_latest_quotes(["AAPL"])
    await connector.get_fx_rate("EUR", "USD")
    assert bbg.mock.token_requests == 1


async def test_the_catalog_is_the_scheduled_one_found_once(bbg: BbgHarness) -> None:
    connector = bbg.connector()
    await connector.get_latest_quotes(["AAPL"])
    await connector.get_latest_quotes(["MSFT"])
    assert bbg.app.journal.count("GET", "/eap/catalogs/") == 1


async def test_a_configured_catalog_is_used_without_listing(bbg: BbgHarness) -> None:
    connector = bbg.connector({"catalog": "1234"})
    await connector.get_latest_quotes(["AAPL"])
    assert bbg.app.journal.count("GET", "/eap/catalogs/") == 0


async def test_csv_output_maps_to_the_same_quotes_as_json() -> None:
    answers = []
    harnesses = [BbgHarness(FakeClock()), BbgHarness(FakeClock())]  # two mocks at the same simulated time
    for harness, output in zip(harnesses, ("json", "csv"), strict=True):
        connector = harness.connector({"output_format": output})
        answers.append(await connector.get_latest_quotes(["IBM", "JPM"]))
        await connector.close()
    assert harnesses[1].posted()[0]["formatting"]["outputMediaType"] == "text/csv"
    assert answers[0] == answers[1]


async def test_no_output_within_the_reply_timeout_is_a_read_timeout_naming_the_request(
    bbg_factory: Callable[..., BbgHarness],
) -> None:
    harness = bbg_factory(processing_seconds=10_000)
    connector = harness.connector({"reply_timeout": 100.0})
    with pytest.raises(ReadTimeout) as caught:
        await connector.get_latest_quotes(["AAPL"])
    identifier = harness.posted()[0]["identifier"]
    assert caught.value.venue_code == identifier
    assert "within 100s" in caught.value.message
    assert harness.clock.sleeps == [30.0, 30.0, 30.0, 10.0]  # never past the deadline


async def test_an_unknown_security_is_not_found_with_its_return_code(bbg: BbgHarness) -> None:
    connector = bbg.connector()
    with pytest.raises(NotFound) as caught:
        await connector.get_latest_quotes(["AAPL", "ZZZZ9"])
    assert caught.value.venue_code == "RC10"
    assert "ZZZZ9 US Equity" in caught.value.message


async def test_reference_data_returns_the_fields_as_written_by_isin(bbg: BbgHarness) -> None:
    connector = bbg.connector()
    found = await connector.get_reference_data(["US0378331005"], ["name", "ID_CUSIP", "PX_LAST"])
    row = found["US0378331005"]
    assert (row["NAME"], row["ID_CUSIP"], row["RC"]) == ("Aapl Corporation", "037833100", 0)
    assert bbg.posted()[0]["universe"]["contains"][0]["identifierType"] == "ISIN"


async def test_fundamentals_map_the_mnemonics(bbg: BbgHarness) -> None:
    found = await bbg.connector().get_fundamentals("AAPL")
    assert found.market_capitalization == Decimal("457936050000")
    assert found.pe_ratio == Decimal("31.73")
    assert found.dividend_yield == Decimal("0.0316")  # EQY_DVD_YLD_IND 3.16 is a percentage
    assert found.shares_outstanding == Decimal("2405000000")
    assert found.sector == "Technology"


async def test_daily_history_is_a_history_request_with_its_date_range(bbg: BbgHarness) -> None:
    connector = bbg.connector()
    bars = await connector.get_bars(
        "IBM", BarInterval.DAY, start=datetime(2025, 12, 29, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC)
    )
    # 2026-01-01 is a holiday: four sessions
    assert [b.timestamp.date().isoformat() for b in bars] == [
        "2025-12-29",
        "2025-12-30",
        "2025-12-31",
        "2026-01-02",
    ]
    assert (bars[-1].open, bars[-1].high, bars[-1].low, bars[-1].close) == (
        Decimal("178.41"), Decimal("190.18"), Decimal("178.15"), Decimal("190"),
    )  # fmt: skip
    assert bars[-1].volume == Decimal("2124634")
    (document,) = bbg.posted()
    assert document["@type"] == "HistoryRequest"
    assert document["fieldList"]["@type"] == "HistoryFieldList"
    assert document["runtimeOptions"] == {
        "@type": "HistoryRuntimeOptions",
        "dateRange": {"@type": "IntervalDateRange", "startDate": "2025-12-29", "endDate": "2026-01-02"},
        "period": "daily",
    }


async def test_fx_series_bars_are_named_base_slash_quote(bbg: BbgHarness) -> None:
    bars = await bbg.connector().get_fx_series("EUR", "USD", BarInterval.DAY, limit=5)
    assert len(bars) == 5
    assert {b.symbol for b in bars} == {"EUR/USD"} and {b.currency for b in bars} == {"USD"}
    assert bbg.posted()[0]["universe"]["contains"][0]["identifierValue"] == "EURUSD Curncy"


async def test_156_pairs_are_priced_in_one_request_and_a_gap_is_reported_per_pair(
    bbg_factory: Callable[..., BbgHarness],
) -> None:
    harness = bbg_factory(unknown_identifiers={"NOKSEK Curncy"})
    pairs = [(b, q) for b in MOCK_CURRENCIES for q in MOCK_CURRENCIES if b != q]
    assert len(pairs) == 156
    found = await harness.connector().get_fx_rates(pairs)
    assert len(harness.posted()) == 1
    assert set(found.missing) == {("NOK", "SEK")}
    assert "RC 10" in found.missing[("NOK", "SEK")]
    assert len(found.rates) == 155
    for rate in found.rates.values():
        assert rate.bid is not None and rate.ask is not None
        assert rate.bid <= rate.rate <= rate.ask
    eur = found.rates[("EUR", "USD")]
    assert (eur.bid, eur.rate, eur.ask) == (Decimal("1.075405"), Decimal("1.075527"), Decimal("1.075649"))


async def test_a_universe_beyond_max_universe_is_split(bbg: BbgHarness) -> None:
    pairs = [(b, q) for b in MOCK_CURRENCIES for q in MOCK_CURRENCIES if b != q]
    found = await bbg.connector({"max_universe": 50}).get_fx_rates(pairs)
    assert sorted(len(d["universe"]["contains"]) for d in bbg.posted()) == [6, 50, 50, 50]  # sent at once
    assert len(found.rates) == 156 and not found.missing


async def test_a_submit_whose_answer_was_lost_is_retried_and_recognised(bbg: BbgHarness) -> None:
    bbg.app.faults.add(
        {"route": "/eap/catalogs/1234/requests/", "method": "POST", "kind": "drop_after", "times": 1}
    )
    quotes = await bbg.connector().get_latest_quotes(["AAPL"])
    posts = bbg.app.journal.entries("POST", "/eap/catalogs/1234/requests/")
    assert [p.status for p in posts] == [
        None,
        409,
    ]  # the first landed, its answer was lost; the retry conflicts
    assert len(bbg.mock.requests) == 1  # one request at Bloomberg, not two
    assert quotes["AAPL"].last_price == Decimal("190.41")


async def test_check_finds_the_scheduled_catalog(bbg: BbgHarness) -> None:
    result = await bbg.connector().check()
    assert result.ok and result.checks == {"reachable": True, "authenticated": True, "catalog": True}
    assert "1234" in result.detail


async def test_check_with_a_wrong_secret_is_not_authenticated_and_never_shows_it(bbg: BbgHarness) -> None:
    wrong = "wrong-secret-value-9911"
    connector = bbg.connector(secret=wrong)
    result = await connector.check()
    assert not result.ok and result.checks["authenticated"] is False
    assert "invalid_client" in result.detail
    assert wrong not in result.detail and CLIENT_SECRET not in result.detail
    assert wrong not in repr(connector) and wrong not in repr(connector.context)


async def test_check_reports_a_catalog_that_is_not_accessible(bbg: BbgHarness) -> None:
    result = await bbg.connector({"catalog": "9999"}).check()
    assert not result.ok and result.checks["catalog"] is False


async def test_an_unknown_mnemonic_is_refused_by_bloomberg_pointing_at_it(bbg: BbgHarness) -> None:
    with pytest.raises(VenueRejected) as caught:
        await bbg.connector().get_reference_data(["AAPL"], ["PX_LAST", "NO_SUCH_FIELD"])
    assert caught.value.status_code == 400
    assert caught.value.venue_code == "/fieldList/contains/1/mnemonic"
    assert "NO_SUCH_FIELD" in caught.value.message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get_reference_data(["AAPL"], ["px last"]), "not a Bloomberg field mnemonic"),
        (lambda c: c.get_reference_data(["AAPL"], []), "at least one field"),
        (lambda c: c.get_reference_data([], ["PX_LAST"]), "at least one security"),
        (lambda c: c.get_latest_quotes(["  "]), "empty symbol"),
        (lambda c: c.get_fx_rate("EUR", "EUR"), "not a currency pair"),
        (lambda c: c.get_fx_rate("EUR", "XXY"), "not an ISO 4217"),
        (lambda c: c.get_fx_rates([]), "at least one currency pair"),
        (lambda c: c.get_bars("AAPL", limit=-1), "limit must be positive"),
        (
            lambda c: c.get_bars(
                "AAPL", start=datetime(2026, 2, 1, tzinfo=UTC), end=datetime(2026, 1, 1, tzinfo=UTC)
            ),
            "is after end",
        ),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(bbg: BbgHarness, call, message: str) -> None:
    connector = bbg.connector()
    with pytest.raises(PayloadRejected, match=message):
        await call(connector)
    assert bbg.posted() == []


async def test_intraday_and_adjusted_history_are_not_supported(bbg: BbgHarness) -> None:
    connector = bbg.connector()
    with pytest.raises(NotSupported, match="daily, weekly and monthly"):
        await connector.get_bars("AAPL", BarInterval.MIN_1)
    with pytest.raises(NotSupported, match="unadjusted"):
        await connector.get_bars("AAPL", adjusted=True)
    with pytest.raises(NotSupported, match="statements"):
        await connector.get_fundamentals("AAPL", statements=True)


@pytest.mark.parametrize(
    ("connection", "key"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"catalog": "12-34"}, "catalog"),
        ({"output_format": "xml"}, "output_format"),
        ({"max_universe": 0}, "max_universe"),
        ({"equity_yellow_key": " "}, "equity_yellow_key"),
        ({"pollinterval": 5}, "pollinterval"),
    ],
)
def test_bad_connection_settings_name_the_key(
    bbg: BbgHarness, connection: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        bbg.connector(connection)
    assert caught.value.path == f"systems.bbg.connection.{key}"


def test_every_mock_currency_is_iso_4217() -> None:
    assert set(MOCK_CURRENCIES) <= CURRENCY_CODES


async def test_a_snapshot_older_than_max_age_is_reported_stale(bbg: BbgHarness) -> None:
    # the output is produced 100 s after submission and found at the 120 s poll: 20 s old when read
    connector = bbg.connector()
    fresh = await connector.get_fx_rates([("EUR", "USD")], max_age=60)
    assert ("EUR", "USD") in fresh.rates
    stale = await connector.get_fx_rates([("EUR", "USD")], max_age=10)
    assert ("EUR", "USD") not in stale.rates
    assert stale.missing[("EUR", "USD")].startswith("stale: snapshot")
    with pytest.raises(PayloadRejected, match="max_age"):
        await connector.get_fx_rates([("EUR", "USD")], max_age=0)


async def test_156_pairs_fit_in_one_15_minute_cycle_under_the_throttle(
    bbg_factory: Callable[..., BbgHarness],
) -> None:
    # the vendor's 1200 calls/minute budget is spent one call per poll: with a 5-minute processing time and
    # 30 s polls the whole pull is 1 token + 1 listing + 1 POST + 11 polls + 1 download, in simulated time
    harness = bbg_factory(processing_seconds=300.0)
    pairs = [(b, q) for b in MOCK_CURRENCIES for q in MOCK_CURRENCIES if b != q]
    started = harness.clock.now()
    found = await harness.connector().get_fx_rates(pairs)
    elapsed = (harness.clock.now() - started).total_seconds()
    assert len(found.rates) == 156
    assert elapsed <= 15 * 60
    assert len([e for e in harness.app.journal.entries() if e.path.startswith("/eap/")]) == 14


async def test_a_pricing_source_is_sent_as_pricing_source_options(bbg: BbgHarness) -> None:
    connector = bbg.connector({"pricing_source": "BGN"})
    await connector.get_latest_quotes(["AAPL"])
    await connector.get_bars("AAPL", limit=3)
    data, history = bbg.posted()
    assert data["pricingSourceOptions"] == {
        "@type": "DataPricingSourceOptions",
        "prefer": {"mnemonic": "BGN"},
    }
    assert history["pricingSourceOptions"]["@type"] == "HistoryPricingSourceOptions"
