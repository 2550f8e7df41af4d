"""Charles Schwab: Trader API v1 and Market Data v1, with Schwab's OAuth 2 sign-in (TD Ameritrade's successor).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.schwab.auth import SchwabAuth
    from portico.connectors.schwab.connector import SchwabConnector
    from portico.connectors.schwab.spec import SPEC

__all__ = [
    "SPEC",
    "SchwabAuth",
    "SchwabConnector",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "SchwabAuth": "portico.connectors.schwab.auth",
        "SchwabConnector": "portico.connectors.schwab.connector",
        "SPEC": "portico.connectors.schwab.spec",
    },
    __all__,
)
