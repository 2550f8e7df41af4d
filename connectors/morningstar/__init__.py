"""Morningstar Direct: fund and ETF data points, total returns and holdings (data service connector)."""

from __future__ import annotations

from portico.connectors.morningstar.connector import MorningstarConnector
from portico.connectors.morningstar.models import FundHolding, FundProfile, ReturnFrequency, ReturnObservation
from portico.connectors.morningstar.spec import RATE_LIMIT_POLICY, SPEC, MorningstarConnection

__all__ = [
    "RATE_LIMIT_POLICY",
    "SPEC",
    "FundHolding",
    "FundProfile",
    "MorningstarConnection",
    "MorningstarConnector",
    "ReturnFrequency",
    "ReturnObservation",
]
