"""Alpaca: the reference connector (Trading API v2 and Market Data API v2, with both streams)."""

from __future__ import annotations

from portico.connectors.alpaca.connector import AlpacaConnector
from portico.connectors.alpaca.spec import SPEC

__all__ = ["SPEC", "AlpacaConnector"]
