"""Alpha Vantage: equity time series, quotes, search, fundamentals and FX (market data connector)."""

from __future__ import annotations

from portico.connectors.alpha_vantage.connector import AlphaVantageConnector
from portico.connectors.alpha_vantage.spec import SPEC, TIERS, rate_limit_policy

__all__ = ["SPEC", "TIERS", "AlphaVantageConnector", "rate_limit_policy"]
