"""Bloomberg Data License REST: reference data, history, quotes, fundamentals and FX (data service connector)."""

from __future__ import annotations

from portico.connectors.bloomberg.connector import BloombergConnector, FxRates
from portico.connectors.bloomberg.spec import SPEC, BloombergConnection

__all__ = ["SPEC", "BloombergConnection", "BloombergConnector", "FxRates"]
