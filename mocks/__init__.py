"""Mock servers: the mock kit and one faithful mock per vendor.

Everything public of the kit is re-exported here: ``from portico.mocks import start_mock, MockApp``.
"""

from __future__ import annotations

from portico.mocks._kit import *  # noqa: F403
from portico.mocks._kit import __all__ as __all__
