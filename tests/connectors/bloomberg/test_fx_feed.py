"""The FX rate feed end to end: 156 pairs from the Bloomberg mock each cycle, retried 3 times, the pairs
Bloomberg does not answer filled from a secondary (the Alpha Vantage connector on its mock, standing in
for Refinitiv until that connector is merged) with one alert, then a clean cycle once Bloomberg recovers;
and the rate book's lookups (inverse, through USD, as of a time) and export."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.errors import NotFound, PayloadRejected
from portico.marketdata import FxRateBook, FxRateFeed, StoredRate
from portico.models import FxRate
from tests.connectors.alpha_vantage.conftest import AvHarness
from tests.connectors.bloomberg.conftest import BbgHarness
from tests.connectors.bloomberg.test_connector import MOCK_CURRENCIES

PAIRS = [(b, q) for b in MOCK_CURRENCIES for q in MOCK_CURRENCIES if b != q]
GAPS = {"NOKSEK Curncy", "SGDHKD Curncy"}


class Alerts:
    def __init__(self) -> None:
        self.raised: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, **data: Any) -> None:
        self.raised.append((event, data))


@pytest.fixture
async def setup(fake_clock: FakeClock) -> AsyncIterator[tuple[FxRateFeed, BbgHarness, Alerts]]:
    bloomberg = BbgHarness(fake_clock, unknown_identifiers=GAPS)
    secondary = AvHarness(fake_clock)
    alerts = Alerts()
    primary = bloomberg.connector()
    fallback = secondary.connector()
    feed = FxRateFeed(
        primary, fallback, PAIRS, book=FxRateBook(), clock=fake_clock, alert=alerts, retry_delay=30.0
    )
    yield feed, bloomberg, alerts
    await primary.close()
    await fallback.close()


async def test_gaps_fall_back_per_pair_with_one_alert_then_the_feed_recovers(
    setup: tuple[FxRateFeed, BbgHarness, Alerts], fake_clock: FakeClock
) -> None:
    feed, bloomberg, alerts = setup
    first = await feed.run_cycle()
    assert first.primary_attempts == 3  # Bloomberg asked three times for what it did not answer
    posts = bloomberg.posted()
    assert [len(p["universe"]["contains"]) for p in posts] == [156, 2, 2]  # retries ask only for the gaps
    assert first.from_fallback == {("NOK", "SEK"), ("SGD", "HKD")}
    assert len(first.from_primary) == 154 and not first.failed
    assert (first.finished - first.started).total_seconds() < 15 * 60  # within one cycle
    assert len(alerts.raised) == 1
    event, data = alerts.raised[0]
    assert event == "fx.fallback" and data["severity"] == "warning"
    assert data["fell_back"] == ["NOK/SEK", "SGD/HKD"] and data["failed"] == []
    assert data["primary"] == "bbg" and data["secondary"] == "av"
    assert "RC 10" in data["reasons"]["NOK/SEK"]

    nok = feed.book.get_fx_rate("NOK", "SEK")
    assert nok.how == "direct" and nok.sources == ["av"] and nok.legs[0].fallback
    assert feed.book.get_fx_rate("EUR", "USD").sources == ["bbg"]

    bloomberg.mock.unknown_identifiers.clear()  # Bloomberg recovers
    bloomberg.advance(900)
    second = await feed.run_cycle()
    assert second.primary_attempts == 1 and len(second.from_primary) == 156 and not second.from_fallback
    assert len(alerts.raised) == 1  # no new alert
    assert feed.book.get_fx_rate("NOK", "SEK").sources == ["bbg"]
    # the first cycle's fallback rate is still what was known then
    assert feed.book.get_fx_rate("NOK", "SEK", at=first.finished).sources == ["av"]


async def test_with_no_secondary_the_gaps_fail_and_the_alert_says_so(fake_clock: FakeClock) -> None:
    bloomberg = BbgHarness(fake_clock, unknown_identifiers={"EURUSD Curncy"})
    primary = bloomberg.connector()
    alerts = Alerts()
    feed = FxRateFeed(
        primary, None, [("EUR", "USD"), ("USD", "JPY")], book=FxRateBook(), clock=fake_clock, alert=alerts
    )
    try:
        cycle = await feed.run_cycle()
    finally:
        await primary.close()
    assert cycle.failed == {("EUR", "USD"): "no secondary source"}
    assert alerts.raised[0][1]["failed"] == ["EUR/USD"]
    assert fake_clock.sleeps.count(30.0) >= 2  # the retry pauses between the three attempts


class _Fixed:
    """A secondary answering one fixed quote (to trip the feed's quote checks)."""

    system = "fixed"

    def __init__(self, rate: FxRate) -> None:
        self.rate = rate

    async def get_fx_rate(self, base: str, quote: str) -> FxRate:
        return self.rate


@pytest.mark.parametrize(
    ("bid", "ask", "age", "problem"),
    [
        (Decimal("1.2"), Decimal("1.1"), 0, "crossed quote"),
        (Decimal("1.1"), Decimal("1.2"), 3600, "stale quote"),
    ],
)
async def test_a_crossed_or_stale_fallback_quote_is_refused(
    fake_clock: FakeClock, bid, ask, age: int, problem: str
) -> None:
    bloomberg = BbgHarness(fake_clock, unknown_identifiers={"EURUSD Curncy"})
    primary = bloomberg.connector()
    rate = FxRate(
        base="EUR",
        quote="USD",
        rate=Decimal("1.15"),
        bid=bid,
        ask=ask,
        timestamp=fake_clock.now() - timedelta(seconds=age),
    )
    feed = FxRateFeed(
        primary,
        _Fixed(rate),
        [("EUR", "USD")],
        book=FxRateBook(),
        clock=fake_clock,
        alert=Alerts(),
        attempts=1,
    )
    try:
        cycle = await feed.run_cycle()
    finally:
        await primary.close()
    assert cycle.failed[("EUR", "USD")].startswith(problem)
    with pytest.raises(NotFound):
        feed.book.get_fx_rate("EUR", "USD")


def _rate(base: str, quote: str, mid: str, minute: int, source: str = "bbg") -> StoredRate:
    stamp = datetime(2026, 3, 10, 15, minute, tzinfo=UTC)
    return StoredRate(base, quote, Decimal(mid), None, None, stamp, source)


def test_the_book_inverts_and_triangulates_through_usd_and_says_so() -> None:
    book = FxRateBook()
    book.add(_rate("EUR", "USD", "1.08", 0))
    book.add(_rate("USD", "JPY", "150", 5))
    inverse = book.get_fx_rate("USD", "EUR")
    assert inverse.how == "inverse" and inverse.rate == Decimal(1) / Decimal("1.08")
    cross = book.get_fx_rate("EUR", "JPY")
    assert (cross.how, cross.via, cross.rate) == ("triangulated", "USD", Decimal("162.00"))
    assert cross.timestamp == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # the older leg's time
    with pytest.raises(NotFound, match="through USD"):
        book.get_fx_rate("GBP", "JPY")
    with pytest.raises(PayloadRejected):
        book.get_fx_rate("EUR", "EUR")


def test_the_book_answers_as_of_a_time_and_exports_every_rate() -> None:
    book = FxRateBook()
    book.add(_rate("EUR", "USD", "1.08", 0))
    book.add(_rate("EUR", "USD", "1.09", 15, source="av"))
    assert book.get_fx_rate("EUR", "USD", at=datetime(2026, 3, 10, 15, 10, tzinfo=UTC)).rate == Decimal(
        "1.08"
    )
    assert book.get_fx_rate("EUR", "USD").rate == Decimal("1.09")
    with pytest.raises(NotFound):
        book.get_fx_rate("EUR", "USD", at=datetime(2026, 3, 10, 14, 0, tzinfo=UTC))
    rows = book.export()
    assert [(r["mid"], r["source"]) for r in rows] == [(Decimal("1.08"), "bbg"), (Decimal("1.09"), "av")]
    assert rows[0]["timestamp"] == "2026-03-10T15:00:00+00:00"


def test_a_feed_without_pairs_or_with_bad_settings_is_refused(fake_clock: FakeClock) -> None:
    with pytest.raises(PayloadRejected, match="at least one currency pair"):
        FxRateFeed(_Fixed.__new__(_Fixed), None, [], book=FxRateBook(), clock=fake_clock, alert=Alerts())  # type: ignore[arg-type]
    with pytest.raises(PayloadRejected, match="attempts"):
        FxRateFeed(
            _Fixed.__new__(_Fixed),
            None,
            PAIRS,
            book=FxRateBook(),
            clock=fake_clock,
            alert=Alerts(),
            attempts=0,
        )  # type: ignore[arg-type]


async def test_cycles_start_every_interval(fake_clock: FakeClock) -> None:

    bloomberg = BbgHarness(fake_clock)
    primary = bloomberg.connector()
    feed = FxRateFeed(
        primary, None, PAIRS, book=FxRateBook(), clock=bloomberg.synced, alert=Alerts(), interval=900.0
    )  # type: ignore[arg-type]
    try:
        await feed.run(asyncio.Event(), max_cycles=3)
    finally:
        await primary.close()
    starts = [c.started for c in feed.cycles]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(starts)] == [900.0, 900.0]
    assert all(len(c.from_primary) == 156 for c in feed.cycles)
    # each cycle's rates are fresh: three snapshots per pair, 900 s apart
    eur = [r for r in feed.book.export() if (r["base"], r["quote"]) == ("EUR", "USD")]
    assert len(eur) == 3


def test_a_stored_book_keeps_rates_across_restarts_as_exact_decimals(tmp_path) -> None:
    from portico.marketdata import StoredFxRateBook
    from portico.store import Database

    url = f"sqlite:///{tmp_path / 'portico.db'}"
    book = StoredFxRateBook(Database(url))
    book.add(StoredRate("EUR", "USD", Decimal("1.084215"), Decimal("1.08412"), Decimal("1.08431"),
                        datetime(2026, 3, 10, 15, 0, tzinfo=UTC), "bbg"))  # fmt: skip
    book.add(
        StoredRate(
            "USD", "JPY", Decimal("147.225"), None, None, datetime(2026, 3, 10, 15, 0, tzinfo=UTC), "av", True
        )
    )
    book.add(
        StoredRate(
            "EUR", "USD", Decimal("1.0843"), None, None, datetime(2026, 3, 10, 15, 0, tzinfo=UTC), "bbg"
        )
    )  # replaces

    reopened = StoredFxRateBook(Database(url))
    assert reopened.export() == book.export()
    assert len(reopened.export()) == 2
    assert reopened.get_fx_rate("EUR", "USD").rate == Decimal("1.0843")
    cross = reopened.get_fx_rate("EUR", "JPY")
    assert cross.how == "triangulated" and cross.rate == Decimal("1.0843") * Decimal("147.225")
    assert [leg.fallback for leg in cross.legs] == [False, True]
