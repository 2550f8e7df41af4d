"""Yahoo Finance: bars, quotes, company figures, dividends, splits and search (unofficial; research use)."""

from __future__ import annotations

from portico.connectors.yahoo_finance.connector import YahooFinanceConnector
from portico.connectors.yahoo_finance.spec import SPEC, TERMS_NOTICE, rate_limit_policy

__all__ = ["SPEC", "TERMS_NOTICE", "YahooFinanceConnector", "rate_limit_policy"]
