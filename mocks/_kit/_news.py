"""Seeded news articles every mock serves alike, so one article reaches portico from two providers under
the same URL (as wire services' stories do) and cross-provider deduplication has something to do.

Each symbol gets ``per_day`` articles a calendar day at seeded minutes; an article's id, URL, headline,
publisher and sentiment depend only on the seed, the symbol, the day and its index, never on the order
of calls. Articles are published only up to ``now`` (the mock's clock).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

__all__ = ["NewsArticle", "NewsSource"]

_PUBLISHERS = ("Benzinga", "Reuters", "MarketWatch", "Zacks", "Motley Fool")
_TOPICS = ("Earnings", "Technology", "Financial Markets", "Mergers & Acquisitions", "Economy - Monetary")
_VERBS = (
    ("beats estimates as revenue climbs", 0.45),
    ("shares rise after analyst upgrade", 0.3),
    ("holds steady ahead of earnings", 0.0),
    ("faces questions over guidance", -0.2),
    ("slides as margins narrow", -0.4),
)


def _digest(*parts: object) -> int:
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


@dataclass(frozen=True)
class NewsArticle:
    """One seeded article."""

    id: int
    symbol: str
    published_at: datetime
    headline: str
    summary: str
    url: str
    publisher: str
    author: str
    sentiment: float
    topic: str

    @property
    def sentiment_label(self) -> str:
        """Alpha Vantage's label for the score."""
        s = self.sentiment
        if s <= -0.35:
            return "Bearish"
        if s <= -0.15:
            return "Somewhat-Bearish"
        if s < 0.15:
            return "Neutral"
        if s < 0.35:
            return "Somewhat-Bullish"
        return "Bullish"


class NewsSource:
    """Seeded articles for any symbol.

    Args:
        seed: the data seed (the mock's).
        per_day: articles per symbol and calendar day.
    """

    def __init__(self, seed: int = 0, *, per_day: int = 2) -> None:
        self.seed = seed
        self.per_day = per_day

    def _day(self, symbol: str, day: date) -> list[NewsArticle]:
        out = []
        for index in range(self.per_day):
            h = _digest(self.seed, symbol, "news", day.isoformat(), index)
            rng = random.Random(h)
            minute = rng.randrange(6 * 60, 22 * 60)
            published = datetime.combine(day, time(0), UTC) + timedelta(minutes=minute)
            verb, tone = _VERBS[rng.randrange(len(_VERBS))]
            sentiment = round(max(-1.0, min(1.0, tone + rng.uniform(-0.1, 0.1))), 6)
            publisher = _PUBLISHERS[rng.randrange(len(_PUBLISHERS))]
            article_id = 10_000_000 + h % 90_000_000
            slug = f"{symbol.lower()}-{verb.split()[0]}-{article_id}"
            out.append(
                NewsArticle(
                    id=article_id,
                    symbol=symbol,
                    published_at=published,
                    headline=f"{symbol} {verb}",
                    summary=f"{symbol.title()} Corporation {verb}, according to {publisher}.",
                    url=f"https://news.mock.portico.dev/{publisher.lower().replace(' ', '-')}/{day:%Y/%m/%d}/{slug}",
                    publisher=publisher,
                    author=f"{publisher} Newsdesk",
                    sentiment=sentiment,
                    topic=_TOPICS[rng.randrange(len(_TOPICS))],
                )
            )
        return out

    def articles(
        self,
        symbols: list[str],
        *,
        start: datetime | None,
        end: datetime | None,
        now: datetime,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[NewsArticle]:
        """Articles about ``symbols`` published in ``[start, end]`` and not after ``now``.

        Without ``start`` the window opens seven days before its end.
        """
        stop = min(end or now, now)
        begin = start or stop - timedelta(days=7)
        found: list[NewsArticle] = []
        day = begin.astimezone(UTC).date()
        while day <= stop.astimezone(UTC).date():
            for symbol in dict.fromkeys(s.strip().upper() for s in symbols if s.strip()):
                found.extend(a for a in self._day(symbol, day) if begin <= a.published_at <= stop)
            day += timedelta(days=1)
        found.sort(key=lambda a: (a.published_at, a.id), reverse=newest_first)
        return found[:limit] if limit is not None else found
