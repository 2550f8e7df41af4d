"""Interactive Brokers: TWS / IB Gateway (socket API via ib_async) or the Client Portal Web API."""

from __future__ import annotations

from portico.connectors.interactive_brokers.connector import InteractiveBrokersConnector, select_transport
from portico.connectors.interactive_brokers.spec import SPEC, TRANSPORT_CAPABILITIES, transport_spec

__all__ = [
    "SPEC",
    "TRANSPORT_CAPABILITIES",
    "InteractiveBrokersConnector",
    "select_transport",
    "transport_spec",
]
