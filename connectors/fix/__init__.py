"""FIX 4.4: order routing to any FIX counterparty over a QuickFIX initiator session (extra ``portico[fix]``).

The names below load on first use, so importing the package (its ``plugin`` module, which ``portico plugins``
imports to list what is installed) does not import the connector's client, streams and their dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.fix.connector import FixConnector
    from portico.connectors.fix.spec import SPEC, FixConnection

__all__ = [
    "SPEC",
    "FixConnection",
    "FixConnector",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "FixConnector": "portico.connectors.fix.connector",
        "SPEC": "portico.connectors.fix.spec",
        "FixConnection": "portico.connectors.fix.spec",
    },
    __all__,
)
