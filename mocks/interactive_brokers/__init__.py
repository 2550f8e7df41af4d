"""Interactive Brokers mocks: the Client Portal Web API app and the TWS socket server, on one simulated venue.

``create_app(seed=0, faults=None, ...)`` builds the Client Portal app; running it (``start_mock``) also
starts the TWS socket server, whose URL appears as ``tws`` beside ``web`` and ``ws``.
"""

from __future__ import annotations

from portico.mocks.interactive_brokers._app import DEFAULT_QUESTIONS, IbMockApp, OrderQuestionRule, create_app
from portico.mocks.interactive_brokers._venue import DEFAULT_ACCOUNT, LISTINGS, IbVenue, Listing, VenueError

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_QUESTIONS",
    "LISTINGS",
    "IbMockApp",
    "IbVenue",
    "Listing",
    "OrderQuestionRule",
    "VenueError",
    "create_app",
]
