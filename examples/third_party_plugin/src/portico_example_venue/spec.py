"""The Example Venue manifest."""

from __future__ import annotations

from pydantic import Field

from portico.models import BarInterval
from portico.sdk import (
    AuthSchemeSpec,
    Capability,
    CapabilitySet,
    ConnectionSettings,
    ConnectorKind,
    ConnectorSpec,
    CredentialField,
    Environment,
    MockSpec,
    RateLimitPolicy,
    RateWindow,
    Support,
)


class ExampleVenueConnection(ConnectionSettings):
    """``connection`` of an Example Venue system: how long one call may take."""

    timeout: float = Field(default=30.0, gt=0, le=300, description="seconds one API call may take, end to end")


SPEC = ConnectorSpec(
    name="example_venue",
    display_name="Example Venue",
    kinds=(ConnectorKind.MARKET_DATA,),
    description="A small market data venue, packaged as a third-party plugin.",
    environments=(Environment(name="live", urls={"base": "https://api.example-venue.test"}),),
    auth=(
        AuthSchemeSpec(
            scheme="api_key",
            credentials=(CredentialField(name="api_key", description="The venue's API key"),),
            options={"header": "X-API-Key"},
        ),
    ),
    throttling=RateLimitPolicy(windows=(RateWindow(limit=10, period=1), RateWindow(limit=300, period=60))),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_BARS: Support.SUPPORTED,
            Capability.GET_LATEST_QUOTES: Support.SUPPORTED,
            Capability.SEARCH_INSTRUMENTS: Support.SUPPORTED,
        },
        bar_intervals=(BarInterval.DAY,),
        max_symbols_per_request=50,
    ),
    feature_flags={"daily_data": (Capability.GET_BARS,), "quotes": (Capability.GET_LATEST_QUOTES,)},
    mock=MockSpec(app="portico_example_venue.mock:create_app", url_keys={"base": ""}),
    connection_settings=ExampleVenueConnection,
)
