"""The IEX Cloud connector class: it refuses to build (the manifest is retired).

There is no ``client.py``, ``wire.py`` or ``mapping.py``: the API they would speak no longer answers.
"""

from __future__ import annotations

from typing import ClassVar

from portico.connectors.iex_cloud.spec import SPEC
from portico.sdk import Connector

__all__ = ["IexCloudConnector"]


class IexCloudConnector(Connector):
    """IEX Cloud, retired on 2024-08-31: building it raises
    :class:`~portico.errors.ConfigurationError` with the replacements and the migration table."""

    spec: ClassVar = SPEC
