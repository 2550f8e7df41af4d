"""subscribe_market_data: polling paced by the throttle on a fake clock, native streams, slow callbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from portico.clock import FakeClock
from portico.errors import NotFound
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
from tests.connectors.alpha_vantage.conftest import AvHarness
from tests.core.marketdata.conftest import RecordingMonitor


@pytest.fixture
async def paced() -> AsyncIterator[tuple[AvHarness, MarketDataService, RecordingMonitor]]:
    # Monday 2026-01-05 17:00 New York: the session has closed, prices stand still until the next one
    clock = FakeClock(datetime(2026, 1, 5, 22, 0, tzinfo=UTC), auto_advance=False)
    harness = AvHarness(clock)
    connector = harness.connector(system_id="av", tier="premium_75")
    monitor = RecordingMonitor()
    service = MarketDataService({"av": connector}, monitor=monitor, clock=clock)
    yield harness, service, monitor
    await service.aclose()
    await connector.close()


async def test_polling_is_paced_by_the_throttle_and_releases_its_budget(
    paced: tuple[AvHarness, MarketDataService, RecordingMonitor],
) -> None:
    harness, service, monitor = paced
    got: list[Quote] = []
    first = await service.subscribe_market_data("av", ["IBM", "AAPL"], "quotes", got.append)
    sub = service.subscription(first)
    assert sub.mode == "poll"
    # two calls per poll on 75 calls/minute, at most 80% of it: one poll every 2 seconds
    assert service.poll_interval("av") == pytest.approx(2.0)
    await wait_for_async(lambda: len(got) == 2 and harness.clock.pending_sleepers >= 1)
    assert {q.symbol for q in got} == {"IBM", "AAPL"} and sub.stats.polls == 1

    harness.advance(2.0)  # nothing changed after the close: nothing is delivered again
    await wait_for_async(lambda: sub.stats.polls == 2 and harness.clock.pending_sleepers >= 1)
    assert len(got) == 2
    harness.advance(17 * 3600.0)  # the next session is an hour old: new prices are delivered
    await wait_for_async(lambda: sub.stats.polls == 3 and harness.clock.pending_sleepers >= 1)
    assert len(got) == 4 and {q.symbol for q in got[2:]} == {"IBM", "AAPL"}
    assert got[2].timestamp.date() > got[0].timestamp.date()

    # a second subscription shares the budget: every poll on the system slows down
    more: list[Quote] = []
    second = await service.subscribe_market_data("av", ["MSFT"], "latest_quote", more.append)
    assert service.poll_interval("av") == pytest.approx(3.0)
    await wait_for_async(lambda: len(more) == 1)

    summary = await service.unsubscribe_market_data(first)
    assert summary["polls"] == 3 and summary["delivered"] == 4 and summary["dropped"] == 0
    assert service.poll_interval("av") == pytest.approx(1.0)  # released: MSFT alone, one call per second
    calls = len(harness.app.journal.entries())
    harness.advance(5.0)
    await wait_for_async(lambda: service.subscription(second).stats.polls >= 2)
    symbols = [e.query for e in harness.app.journal.entries()[calls:]]
    assert symbols and all("MSFT" in q for q in symbols)  # the stopped subscription polls no more
    assert [e["event"] for e in monitor.events].count("marketdata.subscribed") == 2
    with pytest.raises(NotFound):
        await service.unsubscribe_market_data(first)


async def test_poll_errors_are_counted_and_backed_off(
    paced: tuple[AvHarness, MarketDataService, RecordingMonitor],
) -> None:
    harness, service, monitor = paced
    harness.mock.faults.extend([{"kind": "information", "times": 1}])
    got: list[Quote] = []
    sid = await service.subscribe_market_data("av", ["IBM"], "quotes", got.append)
    sub = service.subscription(sid)
    await wait_for_async(lambda: sub.stats.poll_errors == 1 and harness.clock.pending_sleepers >= 1)
    assert monitor.named("marketdata.poll_error")
    # the daily quota asks to wait until it resets; the poller waits (at most an hour) before trying again
    assert harness.clock.sleeps and max(harness.clock.sleeps) >= 1.0
    # the connector knows the quota is spent until midnight in New York (seven hours away): polls in
    # between are refused without a call, and the first poll after the reset delivers
    calls = len(harness.app.journal.entries())
    for _ in range(8):
        if got:
            break
        harness.advance(3600)
        await wait_for_async(lambda: bool(got) or harness.clock.pending_sleepers >= 1)
        await asyncio.sleep(0)
    await wait_for_async(lambda: len(got) == 1)
    assert len(harness.app.journal.entries()) == calls + 1 and sub.stats.poll_errors >= 7


class _Streaming(Connector):
    spec = ConnectorSpec(
        name="streaming",
        display_name="Streaming",
        kinds=("market_data",),  # type: ignore[arg-type]
        environments=(Environment(name="test", urls={"base": "http://unused"}),),
        capabilities=CapabilitySet(
            operations={
                Capability.SUBSCRIBE_QUOTES: Support.SUPPORTED,
                Capability.GET_LATEST_QUOTES: Support.SUPPORTED,
            }
        ),
        streams=(StreamKind.QUOTES,),
    )
    count = 500
    produced = 0
    finished = False

    async def get_latest_quotes(
        self, symbols: list[str]
    ) -> dict[str, Quote]:  # pragma: no cover - not polled
        raise AssertionError("a streaming connector must not be polled")

    async def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:  # type: ignore[override]
        now = self.context.clock.now()
        for i in range(self.count):
            self.produced += 1
            yield Quote(symbol=symbols[i % len(symbols)], timestamp=now + timedelta(microseconds=i),
                        bid_price=Decimal(i + 1), ask_price=Decimal(i + 2))  # fmt: skip
            if i % 50 == 0:
                await asyncio.sleep(0)
        self.finished = True


def _streaming() -> tuple[_Streaming, MarketDataService, FakeClock]:
    clock = FakeClock(auto_advance=False)
    connector = _Streaming(ConnectorContext.for_testing(_Streaming, clock=clock))
    return connector, MarketDataService({"s": connector}, clock=clock), clock


async def test_a_slow_callback_does_not_block_the_stream_with_drop_oldest() -> None:
    connector, service, _ = _streaming()
    gate = asyncio.Event()
    got: list[Quote] = []

    async def slow(quote: Quote) -> None:
        await gate.wait()
        got.append(quote)

    sid = await service.subscribe_market_data("s", ["A", "B"], "quotes", slow, queue_size=10)
    sub = service.subscription(sid)
    assert sub.mode == "stream"
    await wait_for_async(lambda: connector.finished)  # the feed ran to its end while the callback waited
    assert sub.stats.received == 500 and sub.stats.dropped == 500 - 10 - 1 and sub.pending == 10
    gate.set()
    await wait_for_async(lambda: sub.stats.delivered == 11)
    assert got[-1].bid_price == Decimal(500)  # the newest items survive
    await service.unsubscribe_market_data(sid)


async def test_block_policy_back_pressures_the_stream_and_loses_nothing() -> None:
    connector, service, _ = _streaming()
    gate = asyncio.Event()
    got: list[Quote] = []

    async def slow(quote: Quote) -> None:
        await gate.wait()
        got.append(quote)

    sid = await service.subscribe_market_data("s", ["A"], "quotes", slow, queue_size=10, overflow="block")
    sub = service.subscription(sid)
    await wait_for_async(lambda: sub.stats.blocked == 1)
    assert connector.produced <= 12 and not connector.finished
    gate.set()
    await wait_for_async(lambda: sub.stats.delivered == 500)
    assert sub.stats.dropped == 0 and [q.bid_price for q in got] == [Decimal(i + 1) for i in range(500)]
    await service.unsubscribe_market_data(sid)


async def test_callback_errors_are_counted_not_fatal() -> None:
    _, service, _ = _streaming()
    seen: list[Any] = []

    def flaky(quote: Quote) -> None:
        if len(seen) % 2 == 0:
            seen.append(quote)
            raise ValueError("boom")
        seen.append(quote)

    sid = await service.subscribe_market_data("s", ["A"], "quotes", flaky)
    sub = service.subscription(sid)
    await wait_for_async(lambda: sub.stats.delivered + sub.stats.callback_errors == 500)
    assert sub.stats.callback_errors == 250 and sub.stats.delivered == 250
    await service.unsubscribe_market_data(sid)


async def test_overflow_policy_is_checked() -> None:
    _, service, _ = _streaming()
    from portico.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="overflow must be"):
        await service.subscribe_market_data("s", ["A"], "quotes", print, overflow="explode")


async def test_a_sync_callback_returning_an_awaitable_is_awaited_in_order() -> None:
    _, service, _ = _streaming()
    got: list[Decimal] = []

    async def record(quote: Quote) -> None:
        await asyncio.sleep(0)
        got.append(quote.bid_price)  # type: ignore[arg-type]

    sid = await service.subscribe_market_data("s", ["A"], "quotes", lambda q: record(q), overflow="block")
    sub = service.subscription(sid)
    await wait_for_async(lambda: sub.stats.delivered == 500)
    assert got == [Decimal(i + 1) for i in range(500)] and sub.stats.dropped == 0
    await service.unsubscribe_market_data(sid)
