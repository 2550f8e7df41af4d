"""The real-time news stream: the seeded articles as the mock clock publishes them, a reconnect that
reads the missed ones back by REST and repeats none, refused credentials, a malformed article."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from portico.clock import FakeClock, system_clock
from portico.connectors.alpaca import AlpacaConnector
from portico.connectors.alpaca._news_stream import NewsStream, news_stream_url
from portico.errors import AuthError
from portico.mocks import RunningMock
from portico.mocks._kit._news import NewsSource
from portico.models import NewsItem
from portico.sdk import ConnectorContext
from portico.testing import wait_for_async
from tests.connectors.alpaca.conftest import make_connector

SEED = 5  # the served() fixture's seed


async def _collect(stream: AsyncIterator[NewsItem], into: list[NewsItem]) -> None:
    async for item in stream:
        into.append(item)


async def test_the_latest_article_then_what_the_clock_publishes(served: Callable[..., RunningMock]) -> None:
    running = served()
    connector = make_connector(running, clock=system_clock)  # real heartbeats: a fake clock times pongs out
    start = running.app.clock.now()
    (latest,) = NewsSource(SEED).articles(["AAPL"], start=None, end=None, now=start, limit=1)
    items: list[NewsItem] = []
    stream = connector.subscribe_news(["aapl"])
    task = asyncio.create_task(_collect(stream, items))
    try:
        await wait_for_async(lambda: len(items) == 1, timeout=15)
        running.app.clock.advance(86400)
        later = [
            a
            for a in NewsSource(SEED).articles(["AAPL"], start=start, end=start + timedelta(days=1),
                                               now=start + timedelta(days=1), newest_first=False)
            if a.published_at > start
        ]  # fmt: skip
        assert later, "a day brings new articles"
        await wait_for_async(lambda: len(items) == 1 + len(later), timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()  # type: ignore[attr-defined]
        await connector.close()
    assert [i.id for i in items] == [str(a.id) for a in [latest, *later]]
    first = items[0]
    assert (first.headline, first.url, first.published_at, first.symbols, first.source) == (
        latest.headline, latest.url, latest.published_at, ("AAPL",), latest.publisher.lower()
    )  # fmt: skip
    (session,) = running.app.journal.entries("WS", "/v1beta1/news")
    assert [m.get("action") for m in session.messages] == ["auth", "subscribe"]
    assert session.messages[1]["news"] == ["AAPL"]


async def test_a_reconnect_reads_the_missed_articles_back_and_repeats_none(
    served: Callable[..., RunningMock],
) -> None:
    # connected, authenticated, subscription and the latest article go through; the next day's batch
    # is lost with the connection
    running = served(
        faults=[{"route": "/v1beta1/news", "kind": "ws_disconnect", "after_messages": 4, "times": 1}]
    )
    emitted: list[str] = []
    connector = make_connector(running, clock=system_clock, emit=lambda event, **data: emitted.append(event))
    start = running.app.clock.now()
    items: list[NewsItem] = []
    stream = connector.subscribe_news(["AAPL"])
    task = asyncio.create_task(_collect(stream, items))
    try:
        await wait_for_async(lambda: len(items) == 1, timeout=15)
        running.app.clock.advance(86400)
        end = start + timedelta(days=1)
        later = [
            a
            for a in NewsSource(SEED).articles(["AAPL"], start=start, end=end, now=end, newest_first=False)
            if a.published_at > start
        ]
        assert later
        await wait_for_async(lambda: len(items) == 1 + len(later), timeout=15, message=f"items: {items}")
        await wait_for_async(lambda: len(running.app.journal.entries("WS", "/v1beta1/news")) == 2, timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()  # type: ignore[attr-defined]
        await connector.close()
    assert [i.id for i in items[1:]] == [str(a.id) for a in later]  # oldest first, each once
    assert len({i.id for i in items}) == len(items)
    assert "stream.backfilled" in emitted
    assert running.app.journal.entries("GET", "/v1beta1/news"), "the gap was read back by REST"


async def test_refused_credentials_end_the_stream_with_an_auth_error(
    served: Callable[..., RunningMock],
) -> None:
    running = served(keys={"PKTEST": "secret"})
    connector = AlpacaConnector(
        ConnectorContext.for_testing(
            AlpacaConnector, urls=running.urls, clock=system_clock,
            credentials={"api_key_id": "PKTEST", "api_secret_key": "wrong"},
        )
    )  # fmt: skip
    stream = connector.subscribe_news(["AAPL"])
    with pytest.raises(AuthError, match="402"):
        await asyncio.wait_for(stream.__anext__(), 15)
    await stream.aclose()  # type: ignore[attr-defined]


def test_a_malformed_article_is_refused_alone_and_a_repeat_is_dropped() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    stream = NewsStream(
        "ws://unused", ["AAPL"], system="alpaca", key_id="k", secret_key="s", clock=FakeClock(),
        emit=lambda name, **data: events.append((name, data)),
    )  # fmt: skip
    good = {
        "T": "n",
        "id": 7,
        "headline": "AAPL rises",
        "created_at": "2025-06-02T14:00:00Z",
        "symbols": ["AAPL"],
    }
    assert stream._item({**good, "created_at": "yesterday"}) is None
    assert stream.rejected == 1
    assert events[0][0] == "stream.rejected" and events[0][1]["field"] == "created_at"
    item = stream._item(good)
    assert item is not None and item.id == "7" and item.headline == "AAPL rises"
    assert stream._item(good) is None  # the same article again (a reconnect repeating it)


def test_the_news_url_is_derived_from_the_data_stream_when_not_configured() -> None:
    urls = {"data_stream": "wss://stream.example/v2"}

    def url(key: str) -> str:
        return urls[key]

    assert news_stream_url(url) == "wss://stream.example/v1beta1/news"
    urls["news_stream"] = "wss://elsewhere/v1beta1/news"
    assert news_stream_url(url) == "wss://elsewhere/v1beta1/news"
