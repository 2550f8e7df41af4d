"""The FX rate feed end to end with Refinitiv as the fallback (issue 19's integration point): Bloomberg's mock
leaves two of 156 pairs unanswered, the feed retries it three times, fills exactly those two from the
Refinitiv connector on its mock with one alert, then runs a clean cycle once Bloomberg recovers. And the
Refinitiv connector can be the feed's primary too (its ``get_fx_rates`` answers in the same shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portico.clock import FakeClock
from portico.marketdata import FxRateBook, FxRateFeed
from portico.mocks._kit import MockClock
from tests.connectors.bloomberg.conftest import BbgHarness
from tests.connectors.bloomberg.test_connector import MOCK_CURRENCIES
from tests.connectors.refinitiv.conftest import LsegHarness

PAIRS = [(b, q) for b in MOCK_CURRENCIES for q in MOCK_CURRENCIES if b != q]
GAPS = {"NOKSEK Curncy", "SGDHKD Curncy"}


class FollowingClock(MockClock):
    """The LSEG mock's clock reading the test's fake clock, so both mocks and the feed share one time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock.now())
        self._fake = clock

    def now(self) -> datetime:
        return self._fake.now()

    def monotonic(self) -> float:
        return self._fake.monotonic()


class Alerts:
    def __init__(self) -> None:
        self.raised: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, **data: Any) -> None:
        self.raised.append((event, data))


async def test_bloomberg_gaps_are_filled_from_refinitiv_with_one_alert_then_the_feed_recovers(
    fake_clock: FakeClock,
) -> None:
    bloomberg = BbgHarness(fake_clock, unknown_identifiers=set(GAPS))
    lseg = LsegHarness(fake_clock, FollowingClock(fake_clock))
    primary, fallback = bloomberg.connector(), lseg.connector()
    alerts = Alerts()
    feed = FxRateFeed(
        primary, fallback, PAIRS, book=FxRateBook(), clock=fake_clock, alert=alerts, retry_delay=30.0
    )
    try:
        first = await feed.run_cycle()
        assert len(PAIRS) == 156
        assert first.primary_attempts == 3
        assert first.from_fallback == {("NOK", "SEK"), ("SGD", "HKD")}
        assert len(first.from_primary) == 154 and not first.failed
        assert (first.finished - first.started).total_seconds() < 15 * 60
        assert len(alerts.raised) == 1
        event, data = alerts.raised[0]
        assert (event, data["primary"], data["secondary"]) == ("fx.fallback", "bbg", "lseg")
        assert data["fell_back"] == ["NOK/SEK", "SGD/HKD"]
        # the fallback asked LSEG for exactly the two crosses, by their RICs
        asked = [e.query for e in lseg.app.journal.entries(path="/data/pricing/snapshots/v1/")]
        assert (
            len(asked) == 2
            and any("NOKSEK%3DR" in q for q in asked)
            and any("SGDHKD%3DR" in q for q in asked)
        )
        nok = feed.book.get_fx_rate("NOK", "SEK")
        assert nok.how == "direct" and nok.sources == ["lseg"] and nok.legs[0].fallback
        leg = nok.legs[0]
        assert leg.bid is not None and leg.ask is not None and leg.bid < leg.ask
        assert feed.book.get_fx_rate("EUR", "USD").sources == ["bbg"]

        bloomberg.mock.unknown_identifiers.clear()  # Bloomberg recovers
        bloomberg.advance(900)
        second = await feed.run_cycle()
        assert second.primary_attempts == 1 and len(second.from_primary) == 156 and not second.from_fallback
        assert len(alerts.raised) == 1  # no new alert
        assert feed.book.get_fx_rate("NOK", "SEK").sources == ["bbg"]
        assert len(lseg.app.journal.entries(path="/data/pricing/snapshots/v1/")) == 2  # LSEG not asked again
    finally:
        await primary.close()
        await fallback.close()


async def test_refinitiv_can_be_the_feeds_primary(fake_clock: FakeClock) -> None:
    lseg = LsegHarness(fake_clock, FollowingClock(fake_clock))
    lseg.mock.unpermitted.add("SGDHKD=R")
    primary = lseg.connector()
    alerts = Alerts()
    feed = FxRateFeed(
        primary, None, PAIRS, book=FxRateBook(), clock=fake_clock, alert=alerts, retry_delay=30.0
    )
    try:
        cycle = await feed.run_cycle()
    finally:
        await primary.close()
    assert len(cycle.from_primary) == 155
    assert cycle.failed == {("SGD", "HKD"): "no secondary source"}
    assert "not entitled to SGDHKD=R" in cycle.primary_reasons[("SGD", "HKD")]
    assert alerts.raised[0][1]["failed"] == ["SGD/HKD"]
    # 156 pairs are 144 RICs (USD/EUR and EUR/USD share EUR=): 2 calls of up to 100, then 1 for the one left, twice
    assert len(lseg.app.journal.entries(path="/data/pricing/snapshots/v1/")) == 4
