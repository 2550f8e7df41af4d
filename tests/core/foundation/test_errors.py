from __future__ import annotations

import pytest

from portico.errors import (
    ConfigurationError,
    NotSupported,
    OutcomeUnknown,
    PorticoError,
    RateLimited,
    ServerError,
    TransportError,
    VenueRejected,
    error_context,
)


def test_context_is_attached_to_errors_raised_inside() -> None:
    with pytest.raises(VenueRejected) as info, error_context(system="alpaca", request="POST /v2/orders", correlation_id="c1"):
        raise VenueRejected("insufficient buying power", venue_code=40310000, status_code=403)
    err = info.value
    assert (err.system, err.request, err.correlation_id) == ("alpaca", "POST /v2/orders", "c1")
    assert "system=alpaca" in str(err) and "venue_code=40310000" in str(err)
    assert err.to_dict()["error"] == "VenueRejected"


def test_inner_context_overrides_outer_and_explicit_values_win() -> None:
    with error_context(system="outer"), error_context(system="inner"):
        assert PorticoError("x").system == "inner"
        assert PorticoError("x", system="explicit").system == "explicit"


def test_errors_passing_through_get_missing_context() -> None:
    err = PorticoError("raised elsewhere")
    with pytest.raises(PorticoError), error_context(system="ib"):
        raise err
    assert err.system == "ib"


def test_retryability_follows_the_tree() -> None:
    assert ServerError("x").retryable and RateLimited("x", retry_after=2).retryable
    assert isinstance(ServerError("x"), TransportError)
    assert not VenueRejected("x").retryable
    assert not OutcomeUnknown("x", idempotency_key="k").retryable
    assert not ConfigurationError("x").retryable


def test_not_supported_names_system_and_capability() -> None:
    err = NotSupported(capability="get_fundamentals", system="alpaca")
    assert "alpaca" in str(err) and "get_fundamentals" in str(err)
