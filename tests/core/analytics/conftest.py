"""The trading tests' store, clock and recorder fixtures, for the limit tests."""

from tests.core.trading.conftest import clock, db, recorder

__all__ = ["clock", "db", "recorder"]
