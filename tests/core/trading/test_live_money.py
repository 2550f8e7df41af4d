"""Live money is opt-in: an environment the manifest marks ``live_money`` places and cancels orders only
when the system's config says ``allow_live_trading: true`` or ``PORTICO_ALLOW_LIVE_TRADING`` names it.

The guard trips in the trading service (every order path goes through it) and in the facade.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import pytest

from portico.clock import FakeClock
from portico.errors import ConfigurationError
from portico.hookspecs import hookimpl
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.sdk import ConnectorContext, ConnectorSpec, Environment
from portico.store import Database
from portico.trading import TradingService
from tests.core.trading.fakes import FakeBroker, FakeVenue

LIVE_SPEC = FakeBroker.spec.model_copy(
    update={
        "name": "livebroker",
        "environments": (
            Environment(name="paper", urls={"base": "memory://paper"}),
            Environment(name="live", urls={"base": "memory://live"}, live_money=True),
        ),
    }
)

ORDER = {"symbol": "AAPL", "side": "buy", "quantity": "1", "order_type": "market"}


class LiveBroker(FakeBroker):
    """The fake broker with a paper and a live (real money) environment; builds its own venue."""

    spec: ClassVar[ConnectorSpec] = LIVE_SPEC
    venues: ClassVar[list[FakeVenue]] = []

    def __init__(self, context: ConnectorContext, venue: FakeVenue | None = None) -> None:
        venue = venue or FakeVenue(clock=FakeClock())
        venue.prices["AAPL"] = Decimal("100")
        type(self).venues.append(venue)
        super().__init__(context, venue)


class _Plugin:
    @hookimpl
    def portico_connectors(self) -> list[Any]:
        return [LiveBroker]


def _service(db: Database, system_id: str, **kwargs: Any) -> tuple[TradingService, FakeVenue]:
    venue = FakeVenue(clock=FakeClock())
    venue.prices["AAPL"] = Decimal("100")
    broker = LiveBroker(ConnectorContext.for_testing(LiveBroker, system_id=system_id, environment="live"), venue)
    return TradingService(db=db, clock=FakeClock(), connectors={system_id: broker}, **kwargs), venue


REFUSAL = (
    "system 'desk_live' (livebroker, environment 'live') trades real money: orders are refused unless "
    "systems.desk_live.allow_live_trading is true or PORTICO_ALLOW_LIVE_TRADING names desk_live"
)


async def test_the_trading_service_refuses_a_live_money_order_without_opt_in() -> None:
    db = Database("sqlite://")
    service, venue = _service(db, "desk_live")
    with pytest.raises(ConfigurationError) as raised:
        await service.place_order("desk_live", ORDER, idempotency_key="k-1")
    assert raised.value.message == REFUSAL
    assert raised.value.system == "desk_live"
    assert venue.orders == {}, "nothing may reach the venue"
    assert service.repo.by_key("desk_live", "k-1") is None, "nothing may be stored"


async def test_the_trading_service_trades_live_money_for_the_systems_opted_in() -> None:
    db = Database("sqlite://")
    service, venue = _service(db, "desk_live", live_trading_systems={"desk_live"})
    record = await service.place_order("desk_live", ORDER, idempotency_key="k-2")
    assert len(venue.orders) == 1 and record.system == "desk_live"
    cancel_service, _ = _service(db, "desk_live")  # the same store, a service without the opt-in
    with pytest.raises(ConfigurationError, match="trades real money"):
        await cancel_service.cancel_order("desk_live", record.id)


def _config(**system: Any) -> dict[str, Any]:
    # the fake venue lives in this process (memory:// URLs): no network to encrypt, so it opts out of TLS
    system.setdefault("allow_insecure", True)
    return {"systems": {"desk_live": {"type": "brokerage", "connector": "livebroker", **system}}}


def _plugins() -> PluginManager:
    pm = PluginManager(autoload=False)
    pm.register(_Plugin(), name="live-fakes")
    return pm


async def test_the_facade_refuses_live_money_orders_and_cancels_without_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTICO_ALLOW_LIVE_TRADING", raising=False)
    LiveBroker.venues.clear()
    async with AsyncIntegration(_config(environment="live"), plugins=_plugins()) as integration:
        with pytest.raises(ConfigurationError) as raised:
            await integration.place_external_order("desk_live", ORDER, idempotency_key="f-1")
        assert raised.value.message == REFUSAL
        with pytest.raises(ConfigurationError, match="trades real money"):
            await integration.cancel_external_order("desk_live", "any-order")
        # the facade refuses first, before it even looks at the order (the service would say "bad payload")
        with pytest.raises(ConfigurationError, match="trades real money"):
            await integration.place_external_order("desk_live", 42)  # type: ignore[arg-type]
    assert [v.orders for v in LiveBroker.venues] == [{}]


async def test_the_paper_environment_needs_no_opt_in() -> None:
    async with AsyncIntegration(_config(environment="paper"), plugins=_plugins()) as integration:
        await integration.place_external_order("desk_live", ORDER, idempotency_key="p-1")


@pytest.mark.parametrize(
    ("system", "env_value"),
    [({"allow_live_trading": True}, None), ({}, "other_desk, desk_live"), ({}, "desk_live")],
    ids=["config-flag", "env-var-list", "env-var-one"],
)
async def test_the_opt_in_by_config_or_environment_variable(
    system: dict[str, Any], env_value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env_value is None:
        monkeypatch.delenv("PORTICO_ALLOW_LIVE_TRADING", raising=False)
    else:
        monkeypatch.setenv("PORTICO_ALLOW_LIVE_TRADING", env_value)
    LiveBroker.venues.clear()
    async with AsyncIntegration(_config(environment="live", **system), plugins=_plugins()) as integration:
        await integration.place_external_order("desk_live", ORDER, idempotency_key="o-1")
    assert sum(len(v.orders) for v in LiveBroker.venues) == 1


async def test_an_environment_variable_naming_another_system_is_no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTICO_ALLOW_LIVE_TRADING", "desk_live_2,desk")
    async with AsyncIntegration(_config(environment="live"), plugins=_plugins()) as integration:
        with pytest.raises(ConfigurationError, match="trades real money"):
            await integration.place_external_order("desk_live", ORDER, idempotency_key="o-2")


async def test_a_mock_is_never_live_money() -> None:
    config = {
        "systems": {
            "alpaca_live": {
                "type": "brokerage",
                "connector": "alpaca",
                "environment": "live",
                "mock": True,
                "authentication": {"type": "api_key_pair", "credentials": {"api_key_id": "k", "api_secret_key": "s"}},
            }
        }
    }
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        await integration.place_external_order("alpaca_live", ORDER, idempotency_key="m-1")
