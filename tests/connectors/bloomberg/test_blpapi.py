"""The connector with ``connection.api: blpapi`` against the in-process blpapi fake (blpapi itself is not
installable here): the same calls, rows and mapping as over Data License, and BLPAPI's own failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.connectors.bloomberg import BloombergConnector
from portico.connectors.bloomberg.blpapi_session import blpapi_identifier, load_blpapi
from portico.errors import ConfigurationError, ConnectionFailed, NotFound, ReadTimeout, VenueRejected
from portico.mocks._kit import MockClock
from portico.mocks.bloomberg.blpapi_fake import FakeBlpapi
from portico.models import BarInterval
from portico.sdk import ConnectorContext
from tests.connectors.bloomberg.conftest import BbgHarness


def _connector(fake: Any, clock: FakeClock, **connection: Any) -> BloombergConnector:
    context = ConnectorContext.for_testing(
        BloombergConnector,
        connection={"api": "blpapi", "blpapi_host": "terminal.local", "blpapi_port": 8194, **connection},
        clock=clock,
        options={"blpapi_module": fake},
    )
    return BloombergConnector(context)


@pytest.fixture
async def blp(fake_clock: FakeClock) -> AsyncIterator[tuple[BloombergConnector, FakeBlpapi]]:
    fake = FakeBlpapi(seed=5, clock=MockClock(fake_clock.now()))
    connector = _connector(fake, fake_clock)
    await connector.open()
    yield connector, fake
    await connector.close()


async def test_quotes_are_one_reference_data_request_on_refdata(
    blp: tuple[BloombergConnector, FakeBlpapi],
) -> None:
    connector, fake = blp
    quotes = await connector.get_latest_quotes(["AAPL", "US5949181045"])
    (request,) = fake.requests
    assert request.kind == "ReferenceDataRequest"
    assert request.values["securities"] == ["AAPL US Equity", "/isin/US5949181045"]
    assert request.values["fields"] == ["PX_BID", "PX_ASK", "PX_LAST", "PX_VOLUME", "CRNCY"]
    assert fake.sessions[0].options.host == "terminal.local" and fake.sessions[0].options.port == 8194
    # the same seeded prices as the Data License mock at the same moment (seed 5, 2026-01-05 14:30 UTC)
    aapl = quotes["AAPL"]
    assert aapl.currency == "USD"
    assert aapl.bid_price is not None and aapl.ask_price is not None and aapl.bid_price < aapl.ask_price
    assert aapl.timestamp == datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # stamped on arrival
    assert quotes["US5949181045"].last_price is not None


async def test_blpapi_and_dl_rest_agree_on_the_same_seeded_rate(fake_clock: FakeClock) -> None:
    harness = BbgHarness(fake_clock, processing_seconds=0.0)
    rest = harness.connector()
    fake = FakeBlpapi(seed=5, clock=MockClock(fake_clock.now()))
    blpapi = _connector(fake, fake_clock)
    try:
        over_rest = await rest.get_fx_rate("EUR", "USD")
        over_blpapi = await blpapi.get_fx_rate("EUR", "USD")
    finally:
        await rest.close()
        await blpapi.close()
    assert (over_blpapi.bid, over_blpapi.rate, over_blpapi.ask) == (
        over_rest.bid,
        over_rest.rate,
        over_rest.ask,
    )
    assert over_rest.rate == Decimal("1.075515")  # seed 5 at 2026-01-05 14:30 UTC


async def test_history_is_a_historical_data_request_per_security(
    blp: tuple[BloombergConnector, FakeBlpapi],
) -> None:
    connector, fake = blp
    bars = await connector.get_bars(
        "IBM", BarInterval.DAY, start=datetime(2025, 12, 29, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC)
    )
    (request,) = fake.requests
    assert request.kind == "HistoricalDataRequest"
    assert (request.values["startDate"], request.values["endDate"], request.values["periodicitySelection"]) == (
        "20251229", "20260102", "DAILY",
    )  # fmt: skip
    assert [b.timestamp.date().isoformat() for b in bars] == [
        "2025-12-29",
        "2025-12-30",
        "2025-12-31",
        "2026-01-02",
    ]
    assert bars[-1].close == Decimal("190")  # the Data License mock's close for the same day


async def test_a_security_error_is_not_found(blp: tuple[BloombergConnector, FakeBlpapi]) -> None:
    connector, _ = blp
    with pytest.raises(NotFound) as caught:
        await connector.get_latest_quotes(["ZZZZ9"])
    assert caught.value.venue_code == "RC10"


async def test_a_field_exception_is_a_refusal_naming_the_field(
    blp: tuple[BloombergConnector, FakeBlpapi],
) -> None:
    connector, _ = blp
    with pytest.raises(VenueRejected, match="NO_SUCH_FIELD") as caught:
        await connector.get_reference_data(["IBM"], ["PX_LAST", "NO_SUCH_FIELD"])
    assert caught.value.venue_code == "BAD_FLD"


async def test_check_opens_the_session_and_the_service(blp: tuple[BloombergConnector, FakeBlpapi]) -> None:
    connector, fake = blp
    result = await connector.check()
    assert result.ok and "terminal.local:8194" in result.detail
    assert fake.sessions[0].started


async def test_a_session_that_does_not_start_is_a_failed_check_and_connection_failure(
    fake_clock: FakeClock,
) -> None:
    connector = _connector(FakeBlpapi(start_fails=True), fake_clock)
    try:
        result = await connector.check()
        assert not result.ok and "could not start a Bloomberg session at terminal.local:8194" in result.detail
        with pytest.raises(ConnectionFailed):
            await connector.get_latest_quotes(["AAPL"])
    finally:
        await connector.close()


async def test_a_silent_session_times_out(fake_clock: FakeClock) -> None:
    connector = _connector(FakeBlpapi(silent=True), fake_clock, blpapi_timeout=0.01)
    try:
        with pytest.raises(ReadTimeout, match="ReferenceDataRequest"):
            await connector.get_latest_quotes(["AAPL"])
    finally:
        await connector.close()


async def test_close_stops_the_session(fake_clock: FakeClock) -> None:
    fake = FakeBlpapi()
    connector = _connector(fake, fake_clock)
    await connector.get_latest_quotes(["IBM"])
    await connector.close()
    assert fake.sessions[0].stopped


def test_without_the_package_api_blpapi_is_a_configuration_error_saying_where_it_comes_from() -> None:
    try:
        import blpapi  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("blpapi is installed here")
    with pytest.raises(ConfigurationError, match="Bloomberg's\\s+own package index"):
        load_blpapi()


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [("TICKER", "IBM US Equity", "IBM US Equity"), ("ISIN", "US4592001014", "/isin/US4592001014"),
     ("BB_GLOBAL", "BBG000BLNNH6", "/bbgid/BBG000BLNNH6"), ("CUSIP", "459200101", "/cusip/459200101")],
)  # fmt: skip
def test_blpapi_identifier(kind: str, value: str, expected: str) -> None:
    assert blpapi_identifier(kind, value) == expected


@pytest.mark.parametrize(
    ("connection", "problem"),
    [
        ({"api": "blpapi"}, None),  # a Terminal on this machine: the bytes never leave it
        ({"api": "blpapi", "blpapi_host": "bpipe.example.net"}, "tcp://bpipe.example.net"),
        ({"api": "dl_rest"}, None),  # https only
    ],
)
def test_the_transport_check_sees_the_blpapi_socket(connection: dict[str, Any], problem: str | None) -> None:
    from portico.config import insecure_transport_problems
    from portico.config._models import SystemConfig
    from portico.connectors.bloomberg import SPEC

    system = SystemConfig.model_validate(
        {"type": "data_service", "connector": "bloomberg", "connection": connection}
    )
    found = insecure_transport_problems("bbg", system, SPEC)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and "not encrypted" in found[0][1] and "bpipe.example.net" in found[0][1]


async def test_live_quotes_stream_from_mktdata_until_closed(fake_clock: FakeClock) -> None:
    fake = FakeBlpapi(seed=5, clock=MockClock(fake_clock.now()))
    connector = _connector(fake, fake_clock)
    quotes = []
    stream = connector.stream_quotes(["IBM", "EURUSD Curncy"])
    try:
        async for quote in stream:
            quotes.append(quote)
            if len(quotes) == 4:
                break
    finally:
        await stream.aclose()
        await connector.close()
    assert [q.symbol for q in quotes] == ["IBM", "EURUSD Curncy", "IBM", "EURUSD Curncy"]
    assert all(
        q.bid_price is not None and q.ask_price is not None and q.bid_price <= q.ask_price for q in quotes
    )
    session = fake.sessions[0]
    assert session.options.host == "terminal.local"
    assert session.unsubscribed and session.stopped  # closing the stream unsubscribes and stops its session


async def test_a_refused_subscription_is_not_found(fake_clock: FakeClock) -> None:
    connector = _connector(FakeBlpapi(), fake_clock)
    try:
        with pytest.raises(NotFound, match="ZZZZ9 US Equity") as caught:
            async for _ in connector.stream_quotes(["ZZZZ9"]):
                pass
    finally:
        await connector.close()
    assert caught.value.venue_code == "BAD_SEC"


async def test_streaming_needs_the_blpapi_api(bbg: BbgHarness) -> None:
    from portico.errors import NotSupported

    with pytest.raises(NotSupported, match="connection.api: blpapi"):
        async for _ in bbg.connector().stream_quotes(["AAPL"]):
            pass
