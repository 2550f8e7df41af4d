"""Each analytics risk limit trips exactly at its edge, through the trading service's pre-trade path,
and an external limits system's hook sets and overrides limits per account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from portico.analytics import MaxGrossExposure, analytics_risk_checks
from portico.hookspecs import hookimpl
from portico.models import OrderRequest, OrderSide, OrderStatus
from portico.plugins import PluginManager
from portico.trading import RiskCheckFailed, RiskContext, TradingService
from tests.core.trading.fakes import FakeBroker, FakeVenue

D = Decimal


@pytest.fixture
def venue(clock: Any) -> FakeVenue:
    # equity 10,000: cash 5,500, 45 AAPL marked at 100 (4,500), as the broker reports it
    prices = {s: D(100) for s in ("AAPL", "MSFT", "GOOG", "GOOGL")}
    v = FakeVenue(clock=clock, prices=prices, cash=D(5500))
    v.positions["AAPL"] = D(45)
    return v


def _service(
    db: Any, clock: Any, recorder: Any, venue: FakeVenue, risk: dict[str, Any], plugins: Any = None
) -> TradingService:
    return TradingService(
        db=db,
        clock=clock,
        connectors={"fake": FakeBroker.create(venue)},
        monitor=recorder,
        audit=recorder,
        config={"validate_account": False, "risk": {"default": risk}},
        risk_checks=analytics_risk_checks(lambda: None),
        plugins=plugins,
    )


def _limit_buy(symbol: str, quantity: str, price: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "side": "buy",
        "quantity": quantity,
        "order_type": "limit",
        "limit_price": price,
    }


async def test_gross_exposure_at_and_above_the_limit(db, clock, recorder, venue: FakeVenue) -> None:
    service = _service(db, clock, recorder, venue, {"max_gross_exposure": {"limit": 5000}})
    # 4,500 held + 6 x 100 = 5,100 > 5,000
    with pytest.raises(
        RiskCheckFailed, match=r"gross exposure would be 5100\.00, above the limit max_gross_exposure 5000"
    ):
        await service.place_order("fake", _limit_buy("MSFT", "6", "100"), idempotency_key="g-over")
    # 4,500 + 5 x 100 = 5,000: exactly the limit, allowed
    record = await service.place_order("fake", _limit_buy("MSFT", "5", "100"), idempotency_key="g-at")
    assert record.status is OrderStatus.FILLED


async def test_a_sell_reduces_net_exposure(db, clock, recorder, venue: FakeVenue) -> None:
    service = _service(db, clock, recorder, venue, {"max_net_exposure": {"limit": 4000}})
    # already 4,500 net: a buy of 1 more is refused, a sale of 5 (to 4,000) is allowed
    with pytest.raises(
        RiskCheckFailed, match=r"net exposure would be 4600\.00, beyond the limit max_net_exposure 4000"
    ):
        await service.place_order("fake", _limit_buy("AAPL", "1", "100"), idempotency_key="n-buy")
    sell = {"symbol": "AAPL", "side": "sell", "quantity": "5", "order_type": "limit", "limit_price": "100"}
    assert (await service.place_order("fake", sell, idempotency_key="n-sell")).status is OrderStatus.FILLED


async def test_issuer_concentration_adds_share_classes_of_one_issuer(
    db, clock, recorder, venue: FakeVenue
) -> None:
    venue.positions["GOOG"] = D(10)  # 10 x 100 = 1,000
    risk = {
        "max_issuer_concentration": {
            "max_fraction": "0.2",
            "issuers": {"GOOG": "Alphabet", "GOOGL": "Alphabet"},
        }
    }
    service = _service(db, clock, recorder, venue, risk)
    # equity 5,500 + 4,500 + 1,000 = 11,000. GOOGL 13 x 100 = 1,300 alone is 0.118 of it, but Alphabet
    # would hold 1,000 + 1,300 = 2,300: 0.2091 > 0.2
    with pytest.raises(
        RiskCheckFailed,
        match=r"issuer Alphabet would be 0\.2091 of equity 11000.*max_issuer_concentration 0\.2",
    ):
        await service.place_order("fake", _limit_buy("GOOGL", "13", "100"), idempotency_key="i-over")
    # 12: 2,200 / 11,000 = 0.2, exactly the limit, allowed
    assert (
        await service.place_order("fake", _limit_buy("GOOGL", "12", "100"), idempotency_key="i-at")
    ).status is OrderStatus.FILLED


async def test_currency_exposure_limit_names_the_currency(db, clock, recorder, venue: FakeVenue) -> None:
    service = _service(db, clock, recorder, venue, {"max_currency_exposure": {"limits": {"USD": 4999}}})
    with pytest.raises(
        RiskCheckFailed,
        match=r"USD exposure would be 5000\.00, beyond the limit max_currency_exposure USD 4999",
    ):
        await service.place_order("fake", _limit_buy("MSFT", "5", "100"), idempotency_key="c-over")


def test_an_order_whose_value_is_unknown_is_refused_not_waved_through() -> None:
    market = OrderRequest(symbol="MSFT", side=OrderSide.BUY, quantity=D(1))
    context = RiskContext(system="fake", account_id="A", settings={"limit": 10**9}, price=None)
    assert MaxGrossExposure().check(market, context) == (
        "gross exposure cannot be measured: the value of the MSFT order cannot be estimated (no limit price or quote)"
    )


class ExternalLimits:
    """An external limits system: a tight gross limit for account FAKE-1, nothing for others."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    @hookimpl
    def portico_risk_limits(self, system: str, account_id: str | None) -> dict[str, Any] | None:
        self.asked.append((system, account_id))
        return {"max_gross_exposure": {"limit": 4600}} if account_id == "FAKE-1" else None


async def test_limits_from_an_external_system_through_the_hook(db, clock, recorder, venue: FakeVenue) -> None:
    limits = ExternalLimits()
    plugins = PluginManager(autoload=False)
    plugins.register(limits, name="external-limits")
    # the configuration allows 10,000 of gross exposure; the external system says 4,600 for FAKE-1
    service = _service(db, clock, recorder, venue, {"max_gross_exposure": {"limit": 10000}}, plugins=plugins)
    order = {**_limit_buy("MSFT", "2", "100"), "account_id": "FAKE-1"}
    with pytest.raises(RiskCheckFailed, match="max_gross_exposure 4600"):
        await service.place_order("fake", order, idempotency_key="x-1")
    assert limits.asked == [("fake", "FAKE-1")]
