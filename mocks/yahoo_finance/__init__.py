"""The Yahoo Finance mock: cookie and crumb, the v8 chart, v7 quote, v10 quoteSummary and search APIs.

``create_app(seed=0, faults=None, **options)`` returns the ASGI app. One server stands in for
``fc.yahoo.com`` and ``query1``/``query2.finance.yahoo.com`` (it routes on the Host header), so yfinance
works against it unchanged given a session whose transport sends Yahoo's hosts to the mock.
"""

from __future__ import annotations

from portico.mocks.yahoo_finance._app import (
    COOKIE_HOSTS,
    DATA_HOSTS,
    QUOTE_SUMMARY_MODULES,
    YahooFinanceMock,
    create_app,
)
from portico.mocks.yahoo_finance._chart import VALID_INTERVALS, VALID_RANGES
from portico.mocks.yahoo_finance._universe import DEFAULT_LISTINGS, Listing

__all__ = [
    "COOKIE_HOSTS",
    "DATA_HOSTS",
    "DEFAULT_LISTINGS",
    "QUOTE_SUMMARY_MODULES",
    "VALID_INTERVALS",
    "VALID_RANGES",
    "Listing",
    "YahooFinanceMock",
    "create_app",
]
