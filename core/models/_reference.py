"""Event and reference data beside prices: news, cash movements, and generic (alternative) series."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator

from portico.models._common import AwareDatetime, CanonicalModel, CurrencyCode, Money, Quantity

__all__ = [
    "CashMovement",
    "CashMovementType",
    "NewsItem",
    "SeriesPoint",
    "canonical_news_url",
]


def canonical_news_url(url: str) -> str:
    """The form of a news URL two providers agree on: lower-case scheme and host, no fragment, no
    trailing slash, ``http`` as ``https``. Query strings are kept (some sites put the article id there)."""
    parts = urlsplit(url.strip())
    scheme = "https" if parts.scheme.lower() in ("http", "https") else parts.scheme.lower()
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, parts.netloc.lower(), path, parts.query, ""))


class NewsItem(CanonicalModel):
    """One news article about zero or more instruments.

    ``sentiment`` is the provider's overall score in [-1, 1] when it gives one (Alpha Vantage does),
    ``symbol_sentiment`` its per-ticker scores (``symbol_sentiment_label`` its per-ticker words). :attr:`key` identifies the article across providers: its
    canonical URL, else the provider's id.
    """

    id: str
    published_at: AwareDatetime
    headline: str = Field(min_length=1)
    summary: str | None = None
    url: str | None = None
    source: str | None = None
    """The publisher (``Benzinga``, ``Reuters``)."""
    provider: str | None = None
    """The system that delivered it."""
    symbols: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    sentiment: Decimal | None = None
    sentiment_label: str | None = None
    symbol_sentiment: dict[str, Decimal] = Field(default_factory=dict)
    symbol_sentiment_label: dict[str, str] = Field(default_factory=dict)
    """Per-ticker labels where the provider gives words, not scores (Polygon's ``positive``/``neutral``)."""
    topics: tuple[str, ...] = ()
    updated_at: AwareDatetime | None = None

    @field_validator("symbols", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(dict.fromkeys(str(v).strip().upper() for v in value if str(v).strip()))
        return value

    @model_validator(mode="after")
    def _in_range(self) -> NewsItem:
        for score in (self.sentiment, *self.symbol_sentiment.values()):
            if score is not None and not Decimal(-1) <= score <= Decimal(1):
                raise ValueError("sentiment scores lie in [-1, 1]")
        return self

    @property
    def key(self) -> str:
        """What makes two reports the same article: ``url:<canonical url>``, else ``id:<provider>:<id>``."""
        if self.url:
            return "url:" + canonical_news_url(self.url)
        return f"id:{self.provider or ''}:{self.id}"

    @property
    def digest(self) -> str:
        """A short stable hash of :attr:`key` (a storage key that fits any column)."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:32]


class CashMovementType(StrEnum):
    """Why cash moved in or out of an account (other than a trade)."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    DIVIDEND = "dividend"
    INTEREST = "interest"
    FEE = "fee"
    TAX = "tax"
    TRANSFER = "transfer"
    OTHER = "other"


class CashMovement(CanonicalModel):
    """Cash credited (positive ``amount``) or debited (negative) to an account, not by a trade.

    ``movement_id`` is the broker's id of the activity (or, for an expected movement portico derives
    from a corporate action, that action's key and the account). ``symbol`` and ``quantity`` name what
    a dividend was paid on, ``per_share`` its rate.
    """

    movement_id: str
    account_id: str
    movement_type: CashMovementType
    amount: Money
    currency: CurrencyCode
    date: date
    """The value (pay) date."""
    symbol: str | None = None
    quantity: Quantity | None = None
    per_share: Money | None = None
    description: str | None = None
    status: str | None = None
    timestamp: AwareDatetime | None = None
    source: str | None = None


class SeriesPoint(CanonicalModel):
    """One observation of a generic (alternative data) time series: a sentiment index, web traffic,
    card spend. ``attributes`` carries the vendor's other columns as text."""

    series_id: str = Field(min_length=1)
    timestamp: AwareDatetime
    value: Decimal
    attributes: dict[str, str] = Field(default_factory=dict)
    source: str | None = None
