from __future__ import annotations

import pytest
from pydantic import ValidationError

from portico.models import OrderType
from portico.sdk import (
    Capability,
    CapabilitySet,
    ConnectorKind,
    ConnectorSpec,
    Environment,
    StreamKind,
    Support,
)

ENV = (Environment(name="paper", urls={"base": "https://paper.example.test"}),)


def spec(**overrides):
    data = {"name": "venue", "display_name": "Venue", "kinds": (ConnectorKind.BROKERAGE,), "environments": ENV}
    data.update(overrides)
    return ConnectorSpec(**data)


def test_minimal_spec_and_defaults() -> None:
    s = spec()
    assert s.kind is ConnectorKind.BROKERAGE
    assert s.environment().name == "paper"
    assert s.capabilities.support(Capability.PLACE_ORDER) is Support.UNSUPPORTED
    assert s.summary()["capabilities"] == {}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Bad-Name"}, "lower snake case"),
        ({"kinds": ()}, "at least one kind"),
        ({"environments": ()}, "at least one environment"),
        ({"default_environment": "live"}, "is not one of"),
        ({"streams": (StreamKind.QUOTES,)}, "without capability"),
        (
            {"capabilities": CapabilitySet(operations={Capability.PLACE_ORDER: Support.SUPPORTED})},
            "order_types",
        ),
        ({"feature_flags": {"market_data": (Capability.GET_BARS,)}}, "undeclared capabilities"),
    ],
)
def test_invalid_specs_say_why(overrides, message) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**overrides)


def test_capabilities_tri_state() -> None:
    caps = CapabilitySet(
        operations={Capability.PLACE_ORDER: Support.SUPPORTED, Capability.GET_ORDER_BY_CLIENT_ID: Support.EMULATED},
        order_types=(OrderType.MARKET,),
    )
    assert caps.has("place_order") and caps.has(Capability.GET_ORDER_BY_CLIENT_ID)
    assert caps.declared == [Capability.PLACE_ORDER, Capability.GET_ORDER_BY_CLIENT_ID]
