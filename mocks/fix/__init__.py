"""The FIX 4.4 mock: a QuickFIX acceptor over the simulated venue, with session fault injection.

``create_app(seed=0, fix_faults=...)`` builds the app ``portico mock fix`` serves; running it starts the
acceptor, whose URL appears as ``fix`` beside ``admin``. Tests may run :class:`FixMockServer` alone.
"""

from __future__ import annotations

from portico.mocks.fix._acceptor import DEFAULT_COMP_ID, FixFaults, FixMockServer, ReceivedMessage
from portico.mocks.fix._app import FixMockApp, create_app

__all__ = ["DEFAULT_COMP_ID", "FixFaults", "FixMockApp", "FixMockServer", "ReceivedMessage", "create_app"]
