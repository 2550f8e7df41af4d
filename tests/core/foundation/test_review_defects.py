"""Regressions found in review: bad facade arguments, leaked threads and mocks, credentials in reprs."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from portico.config import IntegrationConfig, SystemConfig, load_config
from portico.errors import ConfigurationError, PayloadRejected, PorticoError
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration, Integration
from portico.sdk import Capability, CapabilitySet, MockSpec, Support
from tests.core.foundation.fakes import FAKE_SPEC, FakeBroker, plugin_with

ORDERING_SPEC = FAKE_SPEC.model_copy(
    update={
        "name": "fakeorders",
        "capabilities": CapabilitySet(
            operations={Capability.PLACE_ORDER: Support.SUPPORTED, Capability.GET_BARS: Support.SUPPORTED}
        ),
    }
)


class FakeOrders(FakeBroker):
    spec = ORDERING_SPEC
    placed: list[Any] = []

    async def place_order(self, request: Any) -> Any:
        type(self).placed.append(request)
        raise AssertionError("a malformed order must never reach the venue")


STARTED_MOCKS: list[Any] = []


def make_app(*, seed: int = 0, faults: Any = None) -> Any:
    """A trivial ASGI app standing in for a vendor mock."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


class FailingOpen(FakeBroker):
    spec = FAKE_SPEC.model_copy(
        update={
            "name": "failingopen",
            "mock": MockSpec(app="tests.core.foundation.test_review_defects:make_app", url_keys={"base": "/"}),
        }
    )

    async def open(self) -> None:
        raise ConfigurationError("refused by the venue")


@pytest.fixture
def plugins() -> PluginManager:
    pm = PluginManager(autoload=False)
    pm.register(plugin_with(FakeBroker, FakeOrders, FailingOpen), name="review_fakes")
    return pm


CONFIG = {
    "systems": {
        "orders": {"type": "brokerage", "connector": "fakeorders"},
        "data": {"type": "brokerage", "connector": "fakebroker"},
    }
}


@pytest.mark.parametrize("details", ["not a dict", None, 5, ["symbol", "AAPL"]])
async def test_order_details_of_the_wrong_type_is_a_clear_error(plugins: PluginManager, fake_clock, details: Any) -> None:
    integration = AsyncIntegration(CONFIG, plugins=plugins, clock=fake_clock)
    try:
        await integration.connect_external_system("orders")
        with pytest.raises(PayloadRejected, match="order_details") as info:
            await integration.place_external_order("orders", details)
        assert info.value.field == "order_details"
    finally:
        await integration.stop()


@pytest.mark.parametrize("symbols", [None, 5, [], ["AAPL", 3], ["AAPL", ""]])
async def test_market_data_symbols_of_the_wrong_type_is_a_clear_error(
    plugins: PluginManager, fake_clock, symbols: Any
) -> None:
    integration = AsyncIntegration(CONFIG, plugins=plugins, clock=fake_clock)
    try:
        with pytest.raises(ConfigurationError, match="symbols"):
            await integration.get_market_data("data", symbols)
    finally:
        await integration.stop()


@pytest.mark.parametrize("parameters", [None, 5, "max_requests_per_minute"])
async def test_throttling_parameters_of_the_wrong_type_is_a_clear_error(
    plugins: PluginManager, fake_clock, parameters: Any
) -> None:
    integration = AsyncIntegration(CONFIG, plugins=plugins, clock=fake_clock)
    try:
        with pytest.raises(ConfigurationError, match="throttling"):
            await integration.set_throttling_parameters("data", parameters)
    finally:
        await integration.stop()


def test_sync_facade_with_a_bad_config_leaves_no_thread_running(plugins: PluginManager) -> None:
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(PorticoError):
        Integration({"systems": {"x": {"type": "nope"}}}, plugins=plugins)
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.name == "portico-runtime"]
    for t in leaked:
        t.join(timeout=5)
    assert not [t for t in leaked if t.is_alive()]


async def test_a_failed_connect_stops_the_mock_it_started(plugins: PluginManager, fake_clock) -> None:
    config = {"systems": {"bad": {"type": "brokerage", "connector": "failingopen", "mock": True}}}
    integration = AsyncIntegration(config, plugins=plugins, clock=fake_clock)
    try:
        with pytest.raises(ConfigurationError, match="refused"):
            await integration.connect_external_system("bad")
        assert integration.systems["bad"].mock is None
        assert integration.systems["bad"].state == "error"
    finally:
        await integration.stop()


def test_urls_with_passwords_are_masked_in_config_reprs() -> None:
    config = load_config(
        {
            "database_url": "postgresql://user:pw_SECRET@db.example/portico",
            "scale_out": {"redis_url": "redis://:rpw_SECRET@redis.example/0", "events_url": "amqp://g:apw_SECRET@mq/"},
        }
    )
    for text in (repr(config), str(config), repr(config.scale_out), str(config.scale_out)):
        assert "SECRET" not in text
    assert "db.example" in repr(config) and "redis.example" in repr(config.scale_out)
    # the values themselves are intact for the code that connects
    assert config.database_url == "postgresql://user:pw_SECRET@db.example/portico"
    assert config.scale_out.redis_url == "redis://:rpw_SECRET@redis.example/0"


async def test_events_are_redacted_even_when_the_first_event_comes_before_the_monitor(
    plugins: PluginManager, fake_clock
) -> None:
    config = {
        "systems": {
            "bad": {
                "type": "brokerage",
                "connector": "failingopen",
                "mock": True,
                # the connector refuses to open: the first event is connect_failed
                "authentication": {"credentials": {"api_key": "sk_live_TOPSECRET_1234"}},
            }
        },
        "scale_out": {"events_url": "memory://"},
    }
    # validation now refuses the unknown mock option up front, so the config is built as a model (skipping
    # it): the connect path still fails, and that failure is the first event
    integration = AsyncIntegration(IntegrationConfig.model_validate(config), plugins=plugins, clock=fake_clock)
    try:
        with pytest.raises(PorticoError):
            await integration.connect_external_system("bad")
        integration._register_secrets({"api_key": "sk_live_TOPSECRET_1234"})
        integration._emit("custom.event", system="bad", note="key sk_live_TOPSECRET_1234 leaked")
        await integration.events.flush()
        sent = integration.events.sink.events
        assert sent and all("TOPSECRET" not in str(event.data) for event in sent)
    finally:
        await integration.stop()


def test_connector_context_repr_never_shows_a_plain_credential() -> None:
    from portico.sdk import ConnectorContext

    context = ConnectorContext.for_testing(FakeBroker, credentials={"api_key": "plain_TOPSECRET"})
    assert "TOPSECRET" not in repr(context) and "TOPSECRET" not in str(context)
    assert context.secret("api_key") == "plain_TOPSECRET"


@pytest.mark.parametrize(
    ("system_config", "system_id", "match"),
    [
        ("nonsense", "x1", "system_config"),
        (None, "x2", "system_config"),
        ({"type": "brokerage", "connector": "fakebroker"}, 5, "system_id"),
        (SystemConfig(type="brokerage", connector="fakebroker"), "bad id!", "bad id!"),
    ],
)
async def test_register_external_system_with_bad_arguments_is_a_clear_error(
    plugins: PluginManager, fake_clock, system_config: Any, system_id: Any, match: str
) -> None:
    integration = AsyncIntegration({}, plugins=plugins, clock=fake_clock)
    try:
        with pytest.raises(ConfigurationError, match=match):
            await integration.register_external_system(system_config, system_id)
        assert not integration.systems
    finally:
        await integration.stop()


class MockedBroker(FakeBroker):
    spec = FailingOpen.spec.model_copy(update={"name": "mockedbroker"})
    opens = 0

    async def open(self) -> None:
        type(self).opens += 1


async def test_concurrent_connects_of_one_system_start_one_mock_and_one_connector(
    fake_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import portico.mocks

    pm = PluginManager(autoload=False)
    pm.register(plugin_with(MockedBroker), name="review_mocked")
    started: list[Any] = []
    real_start = portico.mocks.start_mock

    def counting_start(*args: Any, **kwargs: Any) -> Any:
        running = real_start(*args, **kwargs)
        started.append(running)
        return running

    monkeypatch.setattr(portico.mocks, "start_mock", counting_start)
    config = {"systems": {"m": {"type": "brokerage", "connector": "mockedbroker", "mock": True}}}
    integration = AsyncIntegration(config, plugins=pm, clock=fake_clock)
    try:
        first, second = await asyncio.gather(
            integration.connect_external_system("m"), integration.connect_external_system("m")
        )
        assert first.state == second.state == "connected"
        assert len(started) == 1 and MockedBroker.opens == 1
    finally:
        await integration.stop()
        for running in started[1:]:
            await running.stop()


@pytest.mark.parametrize(
    ("details", "match"),
    [
        ({"symbol": "   ", "side": "buy", "quantity": 1}, "symbol"),
        ({"symbol": "AAPL", "side": "buy", "quantity": 1, "order_type": "market", "limit_price": 5}, "limit_price"),
        ({"symbol": "AAPL", "side": "buy", "quantity": 1, "order_type": "stop", "stop_price": 5, "limit_price": 4},
         "limit_price"),
    ],
)
def test_order_request_rejects_a_blank_symbol_and_a_limit_price_it_would_ignore(details: dict, match: str) -> None:
    from pydantic import ValidationError

    from portico.models import OrderRequest

    with pytest.raises(ValidationError, match=match):
        OrderRequest.model_validate(details)


@pytest.mark.parametrize(
    "system",
    [
        {"type": "brokerage", "authentication": "${REVIEW_API_KEY}"},
        {"type": "brokerage", "mock_seed": "${REVIEW_API_KEY}"},
        {"type": "brokerage", "authentication": {"type": 5, "credentials": {}}, "enabled": "${REVIEW_API_KEY}"},
    ],
)
def test_config_errors_never_echo_a_value_that_came_from_a_reference(
    system: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVIEW_API_KEY", "sk_TOPSECRET_value")
    with pytest.raises(ConfigurationError) as info:
        load_config({"systems": {"a": system}})
    assert "TOPSECRET" not in str(info.value) and "TOPSECRET" not in str(info.value.problems)
    assert "systems.a." in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://user:pw_TOPSECRET@[::1]:5672/vhost", "amqp://user:***@[::1]:5672/vhost"),
        ("amqp://user:pw_TOPSECRET@mq:notaport/", "amqp://user:***@mq:notaport/"),
        ("nats://tok_TOPSECRET@nats.example:4222", "nats://***@nats.example:4222"),
        ("amqp://guest@mq:5672/", "amqp://guest@mq:5672/"),
    ],
)
def test_event_sink_reprs_hide_passwords_and_nats_tokens(url: str, shown: str) -> None:
    from portico.events import sink_for_url

    text = repr(sink_for_url(url))
    assert "TOPSECRET" not in text and shown in text


def test_sync_facade_close_releases_its_event_loop(plugins: PluginManager) -> None:
    integration = Integration({"systems": {}}, plugins=plugins)
    integration.close()
    assert not integration._thread.is_alive()
    assert integration._loop.is_closed()
