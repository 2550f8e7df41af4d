"""Alpha Vantage's in-body errors (always HTTP 200) become typed errors; the key never leaks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from portico.connectors.alpha_vantage.client import classify_body, error_for_response, seconds_to_quota_reset
from portico.errors import (
    NotSupported,
    PayloadRejected,
    PorticoError,
    RateLimited,
    ServerError,
    VenueRejected,
)
from portico.models import BarInterval
from tests.connectors.alpha_vantage.conftest import FREE_KEY, PREMIUM_KEY, AvHarness

DATA = Path(__file__).parent / "data"


def body(name: str) -> dict[str, str]:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("error_invalid_call.json", "invalid"),
        ("information_daily_quota.json", "day"),
        ("information_premium.json", "premium"),
        ("note_per_minute.json", "minute"),
    ],
)
def test_documented_messages_are_classified(name: str, kind: str) -> None:
    found = classify_body(body(name))
    assert found is not None and found[0] == kind


def test_other_message_variants() -> None:
    detected = {
        "Information": "We have detected your API key as ABCD1234 and our standard API rate limit is 25 requests per "
        "day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly "
        "remove all daily rate limits."
    }
    assert classify_body(detected) == ("day", detected["Information"])
    burst = {
        "Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more "
        "sparingly (1 request per second). You may subscribe to any of the premium plans at "
        "https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day) and instantly "
        "unlock all premium endpoints"
    }
    assert classify_body(burst) is not None and classify_body(burst)[0] == "minute"  # type: ignore[index]
    missing = {
        "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on ..."
    }
    assert classify_body(missing)[0] == "auth"  # type: ignore[index]
    assert classify_body({}) == ("empty", "Alpha Vantage returned an empty body")
    assert classify_body({"Meta Data": {}, "Time Series (Daily)": {}}) is None
    # a data body that happens to carry an Information key among others is data
    assert classify_body({"Information": "x", "Meta Data": {}, "Time Series (Daily)": {}}) is None


def test_echoed_key_is_masked() -> None:
    import httpx

    response = httpx.Response(
        429,
        headers={"x-portico-av-kind": "day", "retry-after": "100"},
        content=json.dumps(
            {
                "Information": "We have detected your API key as SECRETKEY99 and our standard API rate limit is 25 "
                "requests per day."
            }
        ).encode(),
    )
    error = error_for_response(response)
    assert isinstance(error, RateLimited) and "SECRETKEY99" not in str(error) and "***" in str(error)


def test_quota_resets_at_midnight_eastern() -> None:
    from datetime import UTC, datetime

    assert seconds_to_quota_reset(datetime(2026, 1, 5, 4, 0, tzinfo=UTC)) == 3600.0  # 23:00 New York


async def test_per_minute_note_is_retried_within_budget(av: AvHarness) -> None:
    av.mock.faults.extend([{"kind": "note", "function": "GLOBAL_QUOTE", "times": 1}])
    connector = av.connector()
    quotes = await connector.get_latest_quotes(["IBM"])
    assert quotes["IBM"].last_price
    assert [r.outcome for r in av.records] == ["retry", "ok"]
    assert 60.0 in av.clock.sleeps


async def test_persistent_throttle_ends_in_rate_limited(av: AvHarness) -> None:
    av.mock.faults.extend([{"kind": "note", "function": "GLOBAL_QUOTE"}])
    connector = av.connector()
    with pytest.raises(RateLimited) as info:
        await connector.get_latest_quotes(["IBM"])
    assert info.value.retry_after == 60.0 and info.value.venue_code == "Note"
    assert "call frequency" in info.value.message
    assert len(av.records) == 3  # the retry policy's three attempts


async def test_daily_quota_is_not_waited_for(av: AvHarness) -> None:
    connector = av.connector(key=FREE_KEY, tier="premium_75")  # portico thinks premium; the vendor says free
    for _ in range(25):
        await connector.search_instruments("IBM")
        av.advance(13)  # stay under the vendor's 5/minute
    with pytest.raises(RateLimited) as info:
        await connector.search_instruments("IBM")
    assert info.value.retry_after and info.value.retry_after > 3600
    assert "25 requests per day" in info.value.message
    assert av.records[-1].outcome == "failed" and av.records[-1].attempt == 1


async def test_premium_function_on_a_free_key_is_not_supported(av: AvHarness) -> None:
    connector = av.connector(key=FREE_KEY, tier="free")
    with pytest.raises(NotSupported, match="premium"):
        await connector.get_bars("IBM", BarInterval.DAY, adjusted=True, limit=5)
    assert len(av.records) == 1


async def test_unknown_symbol_is_venue_rejected(av: AvHarness) -> None:
    connector = av.connector()
    with pytest.raises(VenueRejected) as info:
        await connector.get_bars("NOSUCH", BarInterval.DAY, limit=5)
    assert "Invalid API call" in info.value.message and info.value.venue_code == "Error Message"
    assert info.value.request == "GET /query TIME_SERIES_DAILY" and info.value.system == "av"


@pytest.mark.parametrize(("kind", "match"), [("empty", "empty body"), ("non_json", "not JSON")])
async def test_empty_or_non_json_body_is_payload_rejected(av: AvHarness, kind: str, match: str) -> None:
    av.mock.faults.extend([{"kind": kind}])
    with pytest.raises(PayloadRejected, match=match):
        await av.connector().get_fx_rate("EUR", "USD")


async def test_server_errors_are_retried_then_raised(av: AvHarness) -> None:
    av.mock.faults.extend([{"kind": "http_503"}])
    with pytest.raises(ServerError):
        await av.connector().get_fx_rate("EUR", "USD")
    assert [r.outcome for r in av.records] == ["retry", "retry", "failed"]


async def test_the_api_key_never_appears(av: AvHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    av.mock.faults.extend(
        [{"kind": "note", "function": "OVERVIEW"}, {"kind": "error", "function": "GLOBAL_QUOTE"}]
    )
    connector = av.connector()
    errors: list[PorticoError] = []
    for call in (connector.get_fundamentals("IBM"), connector.get_latest_quotes(["IBM"])):
        try:
            await call
        except PorticoError as exc:
            errors.append(exc)
    assert len(errors) == 2
    texts = [str(e) for e in errors] + [repr(e.to_dict()) for e in errors] + [repr(r) for r in av.records]
    texts += [caplog.text, repr(connector), repr(connector.client.api)]
    assert not [t for t in texts if PREMIUM_KEY in t]
    assert {r.endpoint for r in av.records} == {"GET /query OVERVIEW", "GET /query GLOBAL_QUOTE"}


async def test_a_spent_daily_quota_is_remembered_until_it_resets(av: AvHarness) -> None:
    av.mock.faults.extend([{"kind": "information", "times": 1}])
    connector = av.connector()
    with pytest.raises(RateLimited):
        await connector.get_fx_rate("EUR", "USD")
    with pytest.raises(RateLimited, match="known from an earlier answer") as info:
        await connector.get_fx_rate("EUR", "USD")
    assert len(av.records) == 1 and info.value.retry_after
    av.advance(info.value.retry_after + 1)  # past midnight in New York
    assert (await connector.get_fx_rate("EUR", "USD")).rate > 0
