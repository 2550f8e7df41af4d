"""Charles Schwab: Trader API v1 and Market Data v1, with Schwab's OAuth 2 sign-in (TD Ameritrade's successor)."""

from __future__ import annotations

from portico.connectors.schwab.auth import SchwabAuth
from portico.connectors.schwab.connector import SchwabConnector
from portico.connectors.schwab.spec import SPEC

__all__ = ["SPEC", "SchwabAuth", "SchwabConnector"]
