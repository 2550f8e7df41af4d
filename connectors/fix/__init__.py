"""FIX 4.4: order routing to any FIX counterparty over a QuickFIX initiator session (extra ``portico[fix]``)."""

from __future__ import annotations

from portico.connectors.fix.connector import FixConnector
from portico.connectors.fix.spec import SPEC, FixConnection

__all__ = ["SPEC", "FixConnection", "FixConnector"]
