"""Yahoo Finance news: the stories ``/v1/finance/search`` attaches to a symbol, from the mock's seeded
articles (the same URLs the other mocks serve, so one story is one NewsItem key across providers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from portico.connectors.yahoo_finance.mapping import news_from_search
from portico.errors import PayloadRejected
from portico.mocks._kit._news import NewsSource

BODY = {
    "count": 0,
    "quotes": [],
    "news": [
        {
            "uuid": "9f4b2a0e-1c1d-3a55-8c8e-2f1f8c5e8a11",
            "title": "Apple Stock Rises After Services Revenue Beat",
            "publisher": "Reuters",
            "link": "https://finance.yahoo.com/news/apple-stock-rises-183000123.html",
            "providerPublishTime": 1704479400,
            "type": "STORY",
            "relatedTickers": ["AAPL", "MSFT"],
        }
    ],
}


def test_search_news_maps_to_news_items() -> None:
    (item,) = news_from_search(BODY)
    assert (item.headline, item.source, item.symbols) == (
        "Apple Stock Rises After Services Revenue Beat",
        "Reuters",
        ("AAPL", "MSFT"),
    )
    assert item.published_at.isoformat() == "2024-01-05T18:30:00+00:00"
    assert item.key == "url:https://finance.yahoo.com/news/apple-stock-rises-183000123.html"
    with pytest.raises(PayloadRejected, match=r"news\[0\]"):
        news_from_search({"news": [{"title": "no id, no time"}]})


async def test_the_mock_serves_the_seeded_stories_newest_first(yahoo: Any) -> None:
    connector = yahoo.connector()
    now = yahoo.clock.now()
    items = await connector.get_news(["AAPL"], limit=5)
    assert 0 < len(items) <= 5
    assert [i.published_at for i in items] == sorted((i.published_at for i in items), reverse=True)
    expected = NewsSource(3).articles(["AAPL"], start=None, end=None, now=now, limit=5)
    assert [i.url for i in items] == [a.url for a in expected]
    recent = await connector.get_news(["AAPL"], start=now - timedelta(days=1), limit=5)
    assert all(i.published_at >= now - timedelta(days=1) for i in recent)
