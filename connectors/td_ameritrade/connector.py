"""The TD Ameritrade connector class: it refuses to build (the manifest is retired).

There is no ``client.py``, ``wire.py`` or ``mapping.py``: the API they would speak no longer answers.
"""

from __future__ import annotations

from typing import ClassVar

from portico.connectors.td_ameritrade.spec import SPEC
from portico.sdk import Connector

__all__ = ["TdAmeritradeConnector"]


class TdAmeritradeConnector(Connector):
    """TD Ameritrade, retired in May 2024: building it raises
    :class:`~portico.errors.ConfigurationError` with the way to the schwab connector."""

    spec: ClassVar = SPEC
