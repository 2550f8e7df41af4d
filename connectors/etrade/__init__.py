"""The E*TRADE connector: accounts, balances, portfolio, transactions, equity orders (preview then
place) and quotes, with OAuth 1.0a and E*TRADE's token lifecycle."""

from __future__ import annotations

from portico.connectors.etrade.connector import EtradeConnector
from portico.connectors.etrade.spec import SPEC

__all__ = ["SPEC", "EtradeConnector"]
