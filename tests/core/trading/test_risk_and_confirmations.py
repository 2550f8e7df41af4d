"""Pre-trade risk checks per account, plugin checks, and trade confirmation export."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from portico.errors import ConfigurationError
from portico.hookspecs import hookimpl
from portico.models import OrderRequest
from portico.plugins import PluginManager
from portico.trading import OrderValidationError, RiskCheckFailed, RiskContext, TradingService
from tests.core.trading.fakes import FakeBroker, FakeVenue

RISK = {
    "risk": {
        "default": {"max_order_value": {"limit": 5000}},
        "accounts": {
            "ACC-1": {
                "restricted_list": {"symbols": ["XYZ"]},
                "max_position_concentration": {"max_fraction": "0.5"},
            },
            "ACC-2": {"max_order_value": {"limit": 100000}},
            "ACC-3": {"max_order_value": None},
        },
    }
}


async def test_risk_limits_are_per_account(make_service, venue: FakeVenue, recorder) -> None:
    venue.cash = Decimal(10000)
    service: TradingService = make_service({"fake": FakeBroker.create(venue)}, config=RISK)
    order = {"symbol": "AAPL", "side": "buy", "quantity": "60"}  # ~6003 at the ask
    with pytest.raises(RiskCheckFailed) as info:
        await service.place_order("fake", {**order, "account_id": "ACC-1"}, idempotency_key="a")
    assert info.value.check == "max_order_value" and isinstance(info.value, OrderValidationError)
    with pytest.raises(RiskCheckFailed) as info:
        await service.place_order(
            "fake", {**order, "symbol": "XYZ", "quantity": "1", "account_id": "ACC-1"}, idempotency_key="b"
        )
    assert info.value.check == "restricted_list"
    # 40 AAPL ~ 4002 of equity 10000 is fine; 50 more would make AAPL > 50% of equity
    await service.place_order("fake", {**order, "quantity": "40", "account_id": "ACC-1"}, idempotency_key="c")
    with pytest.raises(RiskCheckFailed) as info:
        await service.place_order(
            "fake", {**order, "quantity": "20", "account_id": "ACC-1"}, idempotency_key="d"
        )
    assert info.value.check == "max_position_concentration"
    # other accounts have other limits; ACC-3 switched the default off; XYZ is only restricted for ACC-1
    await service.place_order("fake", {**order, "quantity": "50", "account_id": "ACC-2"}, idempotency_key="e")
    await service.place_order("fake", {**order, "quantity": "5", "account_id": "ACC-3"}, idempotency_key="f")
    await service.place_order(
        "fake", {"symbol": "XYZ", "side": "buy", "quantity": "1", "account_id": "ACC-2"}, idempotency_key="g"
    )
    assert {r.idempotency_key for r in service.list_orders()} == {"c", "e", "f", "g"}
    assert [e["check"] for e in recorder.named("trading.risk.refused")] == [
        "max_order_value",
        "restricted_list",
        "max_position_concentration",
    ]


async def test_plugin_risk_checks_and_unknown_check(make_service, venue: FakeVenue) -> None:
    class NoFridays:
        name = "odd_lots_only"

        def check(self, order: OrderRequest, context: RiskContext) -> str | None:
            lot = Decimal(str(context.settings["lot"]))
            return None if order.quantity % lot else f"{order.quantity} is a round lot"

    class Plugin:
        @hookimpl
        def portico_risk_checks(self) -> list:
            return [NoFridays()]

    plugins = PluginManager(autoload=False)
    plugins.register(Plugin(), name="riskplugin")
    config = {"risk": {"default": {"odd_lots_only": {"lot": 100}}}}
    service: TradingService = make_service({"fake": FakeBroker.create(venue)}, config=config, plugins=plugins)
    with pytest.raises(RiskCheckFailed, match="round lot"):
        await service.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "100"}, idempotency_key="a"
        )
    await service.place_order(
        "fake", {"symbol": "AAPL", "side": "buy", "quantity": "99"}, idempotency_key="b"
    )
    broken = make_service({"fake": FakeBroker.create(venue)}, config={"risk": {"default": {"nope": {}}}})
    with pytest.raises(ConfigurationError, match="nope"):
        await broken.place_order(
            "fake", {"symbol": "AAPL", "side": "buy", "quantity": "1"}, idempotency_key="c"
        )
    with pytest.raises(ConfigurationError, match=r"trading\.submit_timeout"):
        make_service({"fake": FakeBroker.create(venue)}, config={"submit_timeout": -1})


async def test_confirmations_capture_charges_and_export(
    service: TradingService, venue: FakeVenue, tmp_path: Path
) -> None:
    venue.positions["MSFT"] = Decimal(10)
    buy = await service.place_order(
        "fake", {"symbol": "AAPL", "side": "buy", "quantity": "10"}, idempotency_key="a"
    )
    await service.place_order(
        "fake", {"symbol": "MSFT", "side": "sell", "quantity": "4"}, idempotency_key="b"
    )
    await service.sync_executions("fake")
    confs = service.confirmations()
    assert [(c.symbol, c.side, c.quantity) for c in confs] == [("AAPL", "buy", 10), ("MSFT", "sell", 4)]
    aapl, msft = confs
    assert aapl.order_id == buy.id and aapl.commission == Decimal("1.00") and aapl.fees == Decimal("0.02")
    assert aapl.net_amount == Decimal("1001.02")  # pays gross + charges
    assert msft.net_amount == Decimal("798.98")  # receives gross - charges
    path = service.export_confirmations(tmp_path / "conf.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert rows[0]["execution_id"] == aapl.execution_id and rows[0]["commission"] == "1.00"
    assert service.export_confirmations(tmp_path / "conf.json").read_text().startswith("[")


async def test_account_limits_apply_to_orders_for_the_default_account(make_service, venue: FakeVenue) -> None:
    config = {
        "validate_account": False,
        "risk": {"accounts": {"ACC-1": {"restricted_list": {"symbols": ["XYZ"]}}}},
    }
    service: TradingService = make_service({"fake": FakeBroker.create(venue)}, config=config)
    # no account id on the order: the connector's default account (ACC-1) and its limits apply
    with pytest.raises(RiskCheckFailed, match="restricted"):
        await service.place_order(
            "fake", {"symbol": "XYZ", "side": "buy", "quantity": "1"}, idempotency_key="a"
        )
    assert venue.orders == {}
