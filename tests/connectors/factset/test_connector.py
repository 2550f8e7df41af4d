"""The FactSet connector against its mock in-process: prices, currencies, batch requests, symbology cache,
throttling, and the clear errors bad input gets."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from portico.connectors.factset import FactSetConnector
from portico.errors import ConfigurationError, NotFound, NotSupported, PayloadRejected, ReadTimeout
from portico.models import BarInterval, CorporateActionType
from portico.sdk import ConnectorContext
from tests.connectors.factset.conftest import FactSetHarness
from tests.connectors.factset.keys import API_KEY, USER

START, END = date(2024, 3, 4), date(2024, 3, 8)


async def _raw_prices(fs: FactSetHarness, ids: str, **params: str) -> list[dict]:
    # the mock's answer read directly, to hold the connector's mapping against
    async with httpx.AsyncClient(transport=fs.transport, base_url="http://factset.mock") as raw:
        answer = await raw.get(
            "/content/factset-prices/v1/prices",
            params={"ids": ids, "startDate": "2024-03-04", "endDate": "2024-03-08", **params},
            auth=(USER, API_KEY),
        )
    return list(answer.json()["data"])


async def test_daily_bars_for_a_week_match_the_answer(fs: FactSetHarness) -> None:
    connector = fs.connector()
    bars = await connector.get_bars(
        "AAPL",
        BarInterval.DAY,
        start=datetime(2024, 3, 4, 5, tzinfo=UTC),
        end=datetime(2024, 3, 8, 21, tzinfo=UTC),
    )
    raw = await _raw_prices(fs, "AAPL")
    assert [b.timestamp.date() for b in bars] == [date(2024, 3, d) for d in (4, 5, 6, 7, 8)]
    assert [b.close for b in bars] == [Decimal(str(r["price"])) for r in raw]
    assert [b.volume for b in bars] == [Decimal(str(r["volume"])) * 1000 for r in raw]
    assert {b.currency for b in bars} == {"USD"}


async def test_prices_in_another_currency_are_converted(fs: FactSetHarness) -> None:
    connector = fs.connector()
    local = (await connector.get_prices(["VOD-GB"], start=START, end=END))["VOD-GB"]
    in_usd = (await connector.get_prices(["VOD-GB"], start=START, end=END, currency="usd"))["VOD-GB"]
    assert {b.currency for b in local} == {"GBP"} and {b.currency for b in in_usd} == {"USD"}
    # the mock converts at 1.25 USD per GBP
    assert in_usd[0].close == pytest.approx(local[0].close * Decimal("1.25"), abs=Decimal("0.001"))


async def test_prices_of_two_ids_are_keyed_by_the_id_asked(fs: FactSetHarness) -> None:
    connector = fs.connector()
    bars = await connector.get_prices(["aapl", "P8R3C2-R"], start=START, end=END, interval=BarInterval.WEEK)
    assert set(bars) == {"AAPL", "P8R3C2-R"}
    assert [b.timestamp.date() for b in bars["AAPL"]] == [date(2024, 3, 4)]  # one week, stamped on its Monday


async def test_many_ids_run_as_a_batch_against_the_mock(fs_factory) -> None:  # type: ignore[no-untyped-def]
    fs = fs_factory(batch_seconds=5.0)
    connector = fs.connector(connection={"batch_ids_over": 2, "batch_poll_seconds": 2})
    ids = ["AAPL", "MSFT", "FDS", "VOD-GB"]
    bars = await connector.get_prices(ids, start=START, end=END)
    assert {k: len(v) for k, v in bars.items()} == {"AAPL": 5, "MSFT": 5, "FDS": 5, "VOD-GB": 5}
    assert connector.client.batches_started == 1
    calls = [(e.method, e.path, e.status) for e in fs.app.journal.entries()]
    # a 5 s batch polled every 2 s: running at 2 and 4 s, done at 6 s, then the result
    assert calls == [
        ("POST", "/content/factset-prices/v1/prices", 202),
        ("GET", "/content/batch/v1/status", 202),
        ("GET", "/content/batch/v1/status", 202),
        ("GET", "/content/batch/v1/status", 201),
        ("GET", "/content/batch/v1/result", 200),
    ]


async def test_a_batch_outliving_its_deadline_is_a_read_timeout(fs_factory) -> None:  # type: ignore[no-untyped-def]
    fs = fs_factory(batch_seconds=600.0)
    connector = fs.connector(
        connection={"batch_ids_over": 1, "batch_poll_seconds": 5, "batch_deadline_seconds": 20}
    )
    with pytest.raises(ReadTimeout, match="not done after 20s"):
        await connector.get_prices(["AAPL", "MSFT"], start=START, end=END)


async def test_tickers_are_resolved_once_per_ttl(fs: FactSetHarness) -> None:
    connector = fs.connector(connection={"symbology_ttl_seconds": 3600})

    def reference_calls() -> int:
        return sum(1 for e in fs.app.journal.entries() if e.path.endswith("/references"))

    assert await connector.resolve_ids(["AAPL", "MSFT-US"]) == {"AAPL": "MH33D6-R", "MSFT-US": "P8R3C2-R"}
    assert await connector.resolve_ids(["aapl"]) == {"AAPL": "MH33D6-R"}
    assert reference_calls() == 1
    fs.advance(3601)
    await connector.resolve_ids(["AAPL"])
    assert reference_calls() == 2


async def test_price_answers_fill_the_symbology_cache(fs: FactSetHarness) -> None:
    connector = fs.connector()
    await connector.get_prices(["FDS"], start=START, end=END)
    assert await connector.resolve_ids(["FDS"]) == {"FDS": "TNBWK4-R"}
    assert not any(e.path.endswith("/references") for e in fs.app.journal.entries())


async def test_calls_are_paced_to_the_25_per_second_limit(fs_factory) -> None:  # type: ignore[no-untyped-def]
    fs = fs_factory(requests_per_second=25)
    connector = fs.connector()
    await asyncio.gather(*(connector.get_prices(["AAPL"], start=START, end=START) for _ in range(60)))
    statuses = [e.status for e in fs.app.journal.entries()]
    assert len(statuses) == 60 and set(statuses) == {200}  # none throttled: the limiter spaced them


async def test_the_mocks_limit_trips_without_pacing(fs_factory) -> None:  # type: ignore[no-untyped-def]
    # the safety the test above relies on: the mock does answer 429 past 25 calls in one second
    fs = fs_factory(requests_per_second=25)
    async with httpx.AsyncClient(transport=fs.transport, base_url="http://factset.mock") as raw:
        answers = [
            await raw.get(
                "/content/factset-prices/v1/references", params={"ids": "FDS"}, auth=(USER, API_KEY)
            )
            for _ in range(26)
        ]
    assert [a.status_code for a in answers[-2:]] == [200, 429]
    assert answers[-1].json()["message"] == "Rate limit is set to 25 requests per second."


async def test_corporate_actions_and_overview_from_the_mock(fs: FactSetHarness) -> None:
    connector = fs.connector()
    actions = await connector.get_corporate_actions(
        "FDS", start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 12, 31, tzinfo=UTC)
    )
    assert [(a.ex_date, a.action_type) for a in actions] == [
        (date(2024, 2, 10), CorporateActionType.CASH_DIVIDEND),
        (date(2024, 5, 10), CorporateActionType.CASH_DIVIDEND),
        (date(2024, 6, 10), CorporateActionType.SPLIT),
        (date(2024, 8, 10), CorporateActionType.CASH_DIVIDEND),
        (date(2024, 11, 10), CorporateActionType.CASH_DIVIDEND),
    ]
    overview = await connector.get_fundamentals("VOD-GB")
    assert (overview.name, overview.currency, overview.country) == ("Vodafone Group Plc", "GBP", "GB")
    assert overview.shares_outstanding == Decimal("27033000000.0")


async def test_an_unknown_symbol_is_not_found(fs: FactSetHarness) -> None:
    connector = fs.connector()
    with pytest.raises(NotFound, match="NOSUCH"):
        await connector.get_bars("NOSUCH", start=datetime(2024, 3, 4, tzinfo=UTC))
    with pytest.raises(NotFound):
        await connector.get_fundamentals("NOSUCH")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.get_prices([], start=START, end=END), PayloadRejected, "at least one ticker"),
        (lambda c: c.get_prices(["X"] * 2001), PayloadRejected, "at most 2000 ids"),
        (
            lambda c: c.get_prices(["AAPL"], start=END, end=START),
            PayloadRejected,
            "start 2024-03-08 is after end",
        ),
        (lambda c: c.get_prices(["AAPL"], currency="EURO"), PayloadRejected, "not an ISO 4217 currency"),
        (lambda c: c.get_prices(["AAPL"], adjust="HALF"), PayloadRejected, "adjust 'HALF' is not SPLIT"),
        (lambda c: c.get_returns(["AAPL"], frequency="Q"), PayloadRejected, "frequency 'Q' is not one of"),
        (lambda c: c.get_returns(["AAPL"], dividend_adjust="ALL"), PayloadRejected, "dividend_adjust 'ALL'"),
        (lambda c: c.get_bars("AAPL", BarInterval.MIN_5), NotSupported, "end-of-day prices"),
        (lambda c: c.get_fundamentals("AAPL", statements=True), NotSupported, "Fundamentals API"),
    ],
)
async def test_bad_input_gets_a_clear_error_before_any_call(
    fs: FactSetHarness,
    call,
    error: type[Exception],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    connector = fs.connector()
    with pytest.raises(error, match=message):
        await call(connector)
    assert fs.app.journal.entries() == []


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"batch_ids_over": 0}, "batch_ids_over"),
        ({"calendar": "MOON"}, "calendar"),
        ({"batch_size": 10}, "unknown key"),
    ],
)
def test_bad_connection_settings_are_configuration_errors(connection: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ConnectorContext.for_testing(FactSetConnector, connection=connection)


async def test_missing_credentials_fail_at_open_naming_what_is_needed() -> None:
    context = ConnectorContext.for_testing(FactSetConnector, credentials={"username": USER})
    with pytest.raises(ConfigurationError, match="needs credentials username and password"):
        await FactSetConnector(context).open()


async def test_the_health_check_does_not_wait_for_spent_budget(fs: FactSetHarness) -> None:
    connector = fs.connector()
    limiter = connector.context.rate_limiter
    for _ in range(25):
        await limiter.acquire(1.0)  # the second's budget spent by other calls
    result = await connector.check()
    assert not result.ok and result.rate_limited_until is not None
    assert fs.app.journal.entries() == []


async def test_shares_and_market_values_from_the_mock(fs: FactSetHarness) -> None:
    connector = fs.connector()
    shares = await connector.get_shares(["FDS", "AAPL"], start=START, end=END, frequency="W")
    assert [(s.symbol, s.date, s.security) for s in shares] == [
        ("AAPL", date(2024, 3, 8), Decimal("15204137000.0")),
        ("FDS", date(2024, 3, 8), Decimal("38050000.0")),
    ]
    values = await connector.get_market_values(["FDS"], start=START, end=START, currency="EUR")
    (value,) = values
    close = (await connector.get_prices(["FDS"], start=START, end=START, currency="EUR"))["FDS"][0].close
    assert value.currency == "EUR"
    assert value.security == pytest.approx(close * Decimal("38050000"), rel=Decimal("1e-6"))


async def test_a_server_error_from_the_mock_is_retried(fs: FactSetHarness) -> None:
    fs.app.faults.add(
        {"route": "/content/factset-prices/v1/prices", "kind": "error", "status": 503, "times": 1}
    )
    connector = fs.connector()
    bars = await connector.get_prices(["AAPL"], start=START, end=END)
    assert len(bars["AAPL"]) == 5
    assert [e.status for e in fs.app.journal.entries()] == [503, 200]


async def test_a_malformed_answer_from_the_mock_is_payload_rejected(fs: FactSetHarness) -> None:
    fs.app.faults.add({"route": "/content/factset-prices/v1/prices", "kind": "malformed"})
    connector = fs.connector()
    with pytest.raises(PayloadRejected, match="not JSON"):
        await connector.get_prices(["AAPL"], start=START, end=END)


async def test_no_secret_reaches_the_logs(fs: FactSetHarness, caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    from tests.connectors.factset.keys import private_jwk

    caplog.set_level(logging.DEBUG)
    oauth = fs.connector(oauth=True, system_id="factset_oauth")
    await oauth.get_prices(["AAPL"], start=START, end=END)
    basic = fs.connector(credentials={"username": USER, "password": API_KEY})
    await basic.get_prices(["AAPL"], start=START, end=END)
    auth = oauth.context.auth
    token = auth.current_token.access_token.get_secret_value()  # type: ignore[union-attr]
    logged = "\n".join(r.getMessage() for r in caplog.records) + json.dumps(
        [str(r.__dict__) for r in caplog.records]
    )
    assert caplog.records, "the calls log nothing: this test would prove nothing"
    for secret in (API_KEY, private_jwk()["d"], token):
        assert secret not in logged
