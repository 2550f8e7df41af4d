"""The market data service: canonical market data from every data connector, with provider fallback
chains, data quality checks, a local cache and live subscriptions (native streams or paced polling)."""

from __future__ import annotations

from portico.marketdata._cache import CacheEntry, MarketDataCache
from portico.marketdata._calendar import TradingCalendar, nyse_holidays
from portico.marketdata._config import CacheConfig, MarketDataConfig, QualityConfig, SubscriptionConfig
from portico.marketdata._fx_feed import (
    FeedCycle,
    FxFeedConfig,
    FxRateBook,
    FxRateFeed,
    RateAnswer,
    StoredFxRateBook,
    StoredRate,
)
from portico.marketdata._quality import QualityIssue, QualityReport, check_bars, check_quote
from portico.marketdata._requests import DATA_TYPES, DataKind
from portico.marketdata._result import FallbackAttempt, MarketDataResult
from portico.marketdata._service import MarketDataService
from portico.marketdata._subscriptions import Subscription, SubscriptionStats

__all__ = [
    "DATA_TYPES",
    "CacheConfig",
    "CacheEntry",
    "DataKind",
    "FallbackAttempt",
    "FeedCycle",
    "FxFeedConfig",
    "FxRateBook",
    "FxRateFeed",
    "MarketDataCache",
    "MarketDataConfig",
    "MarketDataResult",
    "MarketDataService",
    "QualityConfig",
    "QualityIssue",
    "QualityReport",
    "RateAnswer",
    "StoredFxRateBook",
    "StoredRate",
    "Subscription",
    "SubscriptionConfig",
    "SubscriptionStats",
    "TradingCalendar",
    "check_bars",
    "check_quote",
    "nyse_holidays",
]
