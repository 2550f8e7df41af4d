"""A small in-memory connector for foundation tests (no network, no mock server)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from portico.hookspecs import hookimpl
from portico.models import Account, Bar, BarInterval, Order, OrderRequest, OrderStatus, Position
from portico.sdk import (
    Capability,
    CapabilitySet,
    CheckResult,
    Connector,
    ConnectorKind,
    ConnectorSpec,
    Environment,
    RateLimitPolicy,
    RateWindow,
    Support,
)

FAKE_SPEC = ConnectorSpec(
    name="fakebroker",
    display_name="Fake Broker",
    kinds=(ConnectorKind.BROKERAGE, ConnectorKind.MARKET_DATA),
    environments=(
        Environment(name="paper", urls={"base": "https://paper.fake.test"}),
        Environment(name="live", urls={"base": "https://live.fake.test"}, live_money=True),
    ),
    throttling=RateLimitPolicy(windows=(RateWindow(limit=5, period=1), RateWindow(limit=200, period=60))),
    capabilities=CapabilitySet(
        operations={
            Capability.GET_ACCOUNT: Support.SUPPORTED,
            Capability.GET_POSITIONS: Support.SUPPORTED,
            Capability.GET_BARS: Support.SUPPORTED,
        },
    ),
    feature_flags={"position_reporting": (Capability.GET_POSITIONS,), "market_data": (Capability.GET_BARS,)},
)


class FakeBroker(Connector):
    spec = FAKE_SPEC
    opened = 0

    async def open(self) -> None:
        type(self).opened += 1
        self.is_open = True

    async def close(self) -> None:
        self.is_open = False

    async def check(self) -> CheckResult:
        return CheckResult(ok=True, system=self.system, detail="fake ok")

    async def get_account(self, account_id: str | None = None) -> Account:
        return Account(account_id="FAKE-1", cash=Decimal("1000"))

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        return [Position(symbol="AAPL", quantity=Decimal(10), system=self.system)]

    async def get_bars(self, symbol, interval=BarInterval.DAY, *, start=None, end=None, limit=None, adjusted=False):
        from datetime import UTC, datetime

        return [Bar(symbol=symbol, timestamp=datetime(2026, 1, 2, tzinfo=UTC), open=1, high=2, low=1, close=2)]


class Unimplemented(Connector):
    spec = FAKE_SPEC.model_copy(update={"name": "unimplemented"})


def plugin_with(*connectors) -> SimpleNamespace:
    """A plugin object whose ``portico_connectors`` hook returns ``connectors``."""

    @hookimpl
    def portico_connectors():
        return list(connectors)

    return SimpleNamespace(__name__=f"plugin_{id(connectors)}", portico_connectors=portico_connectors)


def unused(_: Order | OrderRequest | OrderStatus) -> None:  # keep the imports honest for readers
    return None
