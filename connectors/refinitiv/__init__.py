"""Refinitiv / LSEG Data Platform: historical pricing, pricing snapshots, FX spot rates, datagrid fields, search
and streaming quotes."""

from __future__ import annotations

from portico.connectors.refinitiv.auth import SCHEME, RefinitivPasswordAuth
from portico.connectors.refinitiv.connector import FxRates, RefinitivConnector
from portico.connectors.refinitiv.spec import SPEC, THROTTLING, RefinitivConnection

__all__ = [
    "SCHEME",
    "SPEC",
    "THROTTLING",
    "FxRates",
    "RefinitivConnection",
    "RefinitivConnector",
    "RefinitivPasswordAuth",
]
