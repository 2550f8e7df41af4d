"""The Alpha Vantage mock: ``GET /query`` with the vendor's functions, key names, quotas and in-body errors.

``create_app(seed=0, faults=None, **options)`` returns the ASGI app; the community ``alpha_vantage``
package works against it unchanged once its base URL points at the mock.
"""

from __future__ import annotations

from portico.mocks.alpha_vantage._app import (
    DEFAULT_PREMIUM_FUNCTIONS,
    AlphaVantageMock,
    create_app,
    daily_quota,
    invalid_call,
    minute_throttle,
    premium_endpoint,
)
from portico.mocks.alpha_vantage._faults import FAULT_KINDS, AlphaVantageFault
from portico.mocks.alpha_vantage._limits import DEFAULT_TIERS, Tier
from portico.mocks.alpha_vantage._universe import DEFAULT_LISTINGS, Listing

__all__ = [
    "DEFAULT_LISTINGS",
    "DEFAULT_PREMIUM_FUNCTIONS",
    "DEFAULT_TIERS",
    "FAULT_KINDS",
    "AlphaVantageFault",
    "AlphaVantageMock",
    "Listing",
    "Tier",
    "create_app",
    "daily_quota",
    "invalid_call",
    "minute_throttle",
    "premium_endpoint",
]
