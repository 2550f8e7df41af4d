"""Interactive Brokers mocks: the Client Portal Web API app and the TWS socket server, on one simulated venue."""

from __future__ import annotations

from portico.mocks.interactive_brokers._venue import DEFAULT_ACCOUNT, LISTINGS, IbVenue, Listing, VenueError

__all__ = ["DEFAULT_ACCOUNT", "LISTINGS", "IbVenue", "Listing", "VenueError"]
