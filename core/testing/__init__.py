"""The public test kit: conformance suite, fake clock, fixtures, wait-for-condition helpers.

The conformance suite lives in :mod:`portico.testing.conformance` (imported on its own because it
needs pytest).
"""

from __future__ import annotations

from portico.clock import FakeClock
from portico.testing._wait import wait_for, wait_for_async

__all__ = ["FakeClock", "wait_for", "wait_for_async"]
