"""Plugin hooks of the built-in Interactive Brokers connector (loaded through the ``portico.plugins`` entry point)."""

from __future__ import annotations

from portico.hookspecs import hookimpl
from portico.sdk import ConnectorRef

__all__ = ["portico_connectors"]


@hookimpl
def portico_connectors() -> list[ConnectorRef]:
    """The Interactive Brokers connector (both transports): its manifest now, the class imported on first use."""
    from portico.connectors.interactive_brokers.spec import SPEC

    return [
        ConnectorRef(SPEC, "portico.connectors.interactive_brokers.connector:InteractiveBrokersConnector")
    ]
