"""IEX Cloud, shut down on 2024-08-31: a retired connector whose manifest names the replacements
(``polygon``, ``alpaca``, ``alpha_vantage``) and maps IEX endpoints to portico calls.

The names below load on first use, so importing the package (its ``plugin`` module) imports no connector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico._lazy import lazy_exports

if TYPE_CHECKING:
    from portico.connectors.iex_cloud.connector import IexCloudConnector
    from portico.connectors.iex_cloud.spec import RETIREMENT, SPEC

__all__ = ["RETIREMENT", "SPEC", "IexCloudConnector"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "IexCloudConnector": "portico.connectors.iex_cloud.connector",
        "RETIREMENT": "portico.connectors.iex_cloud.spec",
        "SPEC": "portico.connectors.iex_cloud.spec",
    },
    __all__,
)
