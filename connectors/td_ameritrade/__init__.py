"""TD Ameritrade, retired in May 2024 (its accounts moved to Charles Schwab): a retired connector whose
manifest points to ``schwab`` and says how a TD Ameritrade configuration becomes a Schwab one.

The names below load on first use, so importing the package (its ``plugin`` module) imports no connector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.td_ameritrade.connector import TdAmeritradeConnector
    from portico.connectors.td_ameritrade.spec import RETIREMENT, SPEC

__all__ = ["RETIREMENT", "SPEC", "TdAmeritradeConnector"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "TdAmeritradeConnector": "portico.connectors.td_ameritrade.connector",
        "RETIREMENT": "portico.connectors.td_ameritrade.spec",
        "SPEC": "portico.connectors.td_ameritrade.spec",
    },
    __all__,
)
