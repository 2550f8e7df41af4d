"""The market data service: canonical market data from every data connector, with provider fallback
chains, data quality checks, a local cache and live subscriptions (native streams or paced polling)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Loaded on first use: registering the service's contributions (building a monitor, listing commands)
# imports its alert rules, not the service, its cache or its connectors' models.
_LAZY: dict[str, str] = {
    "CacheConfig": "portico.marketdata._config",
    "CacheEntry": "portico.marketdata._cache",
    "DATA_TYPES": "portico.marketdata._requests",
    "DataKind": "portico.marketdata._requests",
    "FallbackAttempt": "portico.marketdata._result",
    "FeedCycle": "portico.marketdata._fx_feed",
    "FxFeedConfig": "portico.marketdata._fx_feed",
    "FxRateBook": "portico.marketdata._fx_feed",
    "FxRateFeed": "portico.marketdata._fx_feed",
    "MarketDataCache": "portico.marketdata._cache",
    "MarketDataConfig": "portico.marketdata._config",
    "MarketDataResult": "portico.marketdata._result",
    "MarketDataService": "portico.marketdata._service",
    "QualityConfig": "portico.marketdata._config",
    "QualityIssue": "portico.marketdata._quality",
    "QualityReport": "portico.marketdata._quality",
    "RateAnswer": "portico.marketdata._fx_feed",
    "StoredFxRateBook": "portico.marketdata._fx_feed",
    "StoredRate": "portico.marketdata._fx_feed",
    "Subscription": "portico.marketdata._subscriptions",
    "SubscriptionConfig": "portico.marketdata._config",
    "SubscriptionStats": "portico.marketdata._subscriptions",
    "TradingCalendar": "portico.marketdata._calendar",
    "check_bars": "portico.marketdata._quality",
    "check_quote": "portico.marketdata._quality",
    "nyse_holidays": "portico.marketdata._calendar",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'portico.marketdata' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
