"""Interactive Brokers: TWS / IB Gateway (socket API via ib_async) or the Client Portal Web API.

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.interactive_brokers.connector import InteractiveBrokersConnector, select_transport
    from portico.connectors.interactive_brokers.spec import SPEC, TRANSPORT_CAPABILITIES, transport_spec

__all__ = [
    "SPEC",
    "TRANSPORT_CAPABILITIES",
    "InteractiveBrokersConnector",
    "select_transport",
    "transport_spec",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "InteractiveBrokersConnector": "portico.connectors.interactive_brokers.connector",
        "select_transport": "portico.connectors.interactive_brokers.connector",
        "SPEC": "portico.connectors.interactive_brokers.spec",
        "TRANSPORT_CAPABILITIES": "portico.connectors.interactive_brokers.spec",
        "transport_spec": "portico.connectors.interactive_brokers.spec",
    },
    __all__,
)
