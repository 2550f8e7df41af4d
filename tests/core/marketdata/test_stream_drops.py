"""Drops in a stream's own per-iterator queue show in the subscription's summary and reach the monitor
(throttled to one event a second, the remainder when the subscription stops); feeds are read a batch
at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from portico.clock import FakeClock
from portico.http import StreamFeed
from portico.marketdata import MarketDataService
from portico.models import Quote
from portico.sdk import (
    Capability,
    CapabilitySet,
    Connector,
    ConnectorContext,
    ConnectorSpec,
    Environment,
    StreamKind,
    Support,
)
from portico.testing import wait_for_async
from tests.core.marketdata.conftest import RecordingMonitor

NOW = datetime(2026, 1, 5, 15, tzinfo=UTC)


def _quote(i: int) -> Quote:
    return Quote(symbol="A", timestamp=NOW, bid_price=Decimal(i), ask_price=Decimal(i + 1))


class _FeedConnector(Connector):
    spec = ConnectorSpec(
        name="feeding",
        display_name="Feeding",
        kinds=("market_data",),  # type: ignore[arg-type]
        environments=(Environment(name="test", urls={"base": "http://unused"}),),
        capabilities=CapabilitySet(operations={Capability.SUBSCRIBE_QUOTES: Support.SUPPORTED}),
        streams=(StreamKind.QUOTES,),
    )
    feed: StreamFeed[Quote] | None = None

    def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        async def start(feed: StreamFeed[Quote]) -> None:
            # the reader got 100 quotes before the consumer's first turn: a 10-quote feed keeps 10
            feed.offer_many([_quote(i) for i in range(100)])

        self.feed = StreamFeed(start=start, size=10)
        return self.feed


async def test_stream_drops_are_in_the_summary_and_reported_to_the_monitor() -> None:
    clock = FakeClock(NOW, auto_advance=False)
    connector = _FeedConnector(ConnectorContext.for_testing(_FeedConnector, clock=clock))
    monitor = RecordingMonitor()
    service = MarketDataService({"f": connector}, monitor=monitor, clock=clock)
    got: list[Quote] = []
    sid = await service.subscribe_market_data("f", ["A"], "quotes", got.append)
    sub = service.subscription(sid)
    await wait_for_async(lambda: len(got) == 10)
    assert [q.bid_price for q in got] == [Decimal(i) for i in range(90, 100)]  # the newest survive
    assert sub.stats.stream_dropped == 90 and sub.stats.dropped == 90
    [event] = monitor.named("marketdata.dropped")
    assert event["severity"] == "warning" and event["subscription"] == sid
    assert event["dropped"] == 90 and event["total_dropped"] == 90

    # more drops inside the same second are counted at once but reported later
    assert connector.feed is not None
    connector.feed.offer_many([_quote(i) for i in range(100, 125)])
    assert sub.stats.dropped == 105 and len(monitor.named("marketdata.dropped")) == 1
    await wait_for_async(lambda: len(got) == 20)
    summary = await service.unsubscribe_market_data(sid)
    assert summary["dropped"] == 105 and summary["stream_dropped"] == 105 and summary["delivered"] == 20
    assert [e["dropped"] for e in monitor.named("marketdata.dropped")] == [90, 15]
    [gone] = monitor.named("marketdata.unsubscribed")
    assert gone["dropped"] == 105


async def test_drop_reports_are_spaced_by_the_clock() -> None:
    from portico.marketdata._subscriptions import Subscription

    clock = FakeClock(NOW, auto_advance=False)
    reports: list[tuple[int, int]] = []
    sub = Subscription("s1", system="x", symbols=["A"], data_type="latest_quote", mode="stream",
                       callback=lambda _q: None, queue_size=5, overflow="drop_oldest",
                       on_drops=lambda new, total: reports.append((new, total)), monotonic=clock.monotonic)  # fmt: skip
    sub.stream_dropped(3)
    sub.stream_dropped(4)
    assert reports == [(3, 3)]
    clock.advance(1.0)
    sub.stream_dropped(1)
    assert reports == [(3, 3), (5, 8)]
    await sub.stop()
    assert reports == [(3, 3), (5, 8)]  # nothing left unreported


async def test_a_batch_falls_back_to_the_queue_once_the_callback_needs_awaiting() -> None:
    from portico.marketdata._subscriptions import Subscription

    order: list[Any] = []

    def callback(quote: Quote) -> Any:
        if quote.bid_price == 2:

            async def later() -> None:
                order.append(("awaited", quote.bid_price))

            return later()
        order.append(("inline", quote.bid_price))
        return None

    sub = Subscription("s2", system="x", symbols=["A"], data_type="latest_quote", mode="stream",
                       callback=callback, queue_size=100, overflow="drop_oldest")  # fmt: skip

    async def produce(s: Subscription) -> None:
        await s.put_many([_quote(i) for i in range(5)])

    sub.start(produce)
    await wait_for_async(lambda: sub.stats.delivered == 5)
    assert [p for _, p in order] == [Decimal(i) for i in range(5)]
    assert order[2] == ("awaited", Decimal(2)) and sub.stats.received == 5
    await sub.stop()
