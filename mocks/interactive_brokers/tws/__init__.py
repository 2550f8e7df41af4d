"""The TWS socket API mock (server version 178): ``portico mock interactive_brokers --protocol tws``."""

from __future__ import annotations

from portico.mocks.interactive_brokers.tws._server import TwsMockServer, start_tws_mock
from portico.mocks.interactive_brokers.tws._wire import SERVER_VERSION

__all__ = ["SERVER_VERSION", "TwsMockServer", "start_tws_mock"]
