"""The corporate action processor: each action once, corrections and cancellations reversed, dividends
booked on their pay date, and the reconciliation checks that trip on what actions do not explain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from portico.clock import FakeClock
from portico.models import (
    CashMovement,
    CashMovementType,
    CorporateAction,
    CorporateActionStatus,
    CorporateActionType,
)
from portico.sdk import Capability, ConnectorContext, ConnectorSpec, Support
from portico.trading import BreakKind, CorporateActionProcessor, TradingService
from portico.trading._repository import unmapped_instrument_id
from tests.core.trading.fakes import FakeBroker, FakeVenue

SPLIT = CorporateAction(
    symbol="XYZ", action_type=CorporateActionType.SPLIT, ex_date=date(2026, 1, 5), ratio_from=1, ratio_to=4
)
DIVIDEND = CorporateAction(
    symbol="XYZ",
    action_type=CorporateActionType.CASH_DIVIDEND,
    ex_date=date(2026, 1, 5),
    pay_date=date(2026, 1, 20),
    cash_amount=Decimal("0.25"),
    currency="USD",
)


class PayingBroker(FakeBroker):
    """A fake broker that also lists the dividends it paid."""

    spec: ClassVar[ConnectorSpec] = FakeBroker.spec.model_copy(
        update={
            "capabilities": FakeBroker.spec.capabilities.model_copy(
                update={
                    "operations": {
                        **FakeBroker.spec.capabilities.operations,
                        Capability.GET_CASH_MOVEMENTS: Support.SUPPORTED,
                    }
                }
            )
        }
    )

    def __init__(self, context: ConnectorContext, venue: FakeVenue) -> None:
        super().__init__(context, venue)
        self.paid: list[CashMovement] = []

    async def get_cash_movements(self, account_id: str | None = None, **_: Any) -> list[CashMovement]:
        return list(self.paid)


def _hold(service: TradingService, quantity: str, cost: str = "40") -> None:
    service.repo.set_book_position(
        book="internal", system="fake", account_id="ACC-1", instrument_id=unmapped_instrument_id("fake", "XYZ"),
        quantity=Decimal(quantity), average_cost=Decimal(cost), currency="USD", symbol="XYZ",
        now=service.clock.now(),
    )  # fmt: skip


def _position(service: TradingService) -> tuple[Decimal, Decimal | None]:
    (row,) = [p for p in service.reconciler().book.positions("fake") if p.symbol == "XYZ"]
    return row.quantity, row.average_cost


def test_a_split_applies_once_and_a_correction_replaces_it(service: TradingService) -> None:
    _hold(service, "10")
    processor = CorporateActionProcessor(service)
    history: list[tuple[str, date, Decimal]] = []
    processor.adjust_history = lambda s, d, f: history.append((s, d, f)) or 3

    first = processor.apply([SPLIT], as_of=date(2026, 1, 5))
    assert (first.applied, first.positions_changed, first.bars_adjusted) == ([SPLIT.key], 1, 3)
    assert _position(service) == (Decimal(40), Decimal(10))

    again = processor.apply([SPLIT.model_copy(update={"source": "another_provider"})], as_of=date(2026, 1, 6))
    assert (again.unchanged, again.changed) == ([SPLIT.key], False)
    assert _position(service) == (Decimal(40), Decimal(10))

    corrected = processor.apply([SPLIT.model_copy(update={"ratio_to": Decimal(5)})], as_of=date(2026, 1, 6))
    assert corrected.corrected == [SPLIT.key]
    assert _position(service) == (Decimal(50), Decimal(8))  # undone to 10, then 1:5
    assert history == [("XYZ", date(2026, 1, 5), 4), ("XYZ", date(2026, 1, 5), Decimal("0.25")),
                       ("XYZ", date(2026, 1, 5), 5)]  # fmt: skip

    cancelled = processor.apply(
        [SPLIT.model_copy(update={"status": CorporateActionStatus.CANCELLED})], as_of=date(2026, 1, 7)
    )
    assert cancelled.reversed == [SPLIT.key]
    assert _position(service) == (Decimal(10), Decimal(40))


def test_an_action_before_its_ex_date_waits(service: TradingService) -> None:
    _hold(service, "10")
    outcome = CorporateActionProcessor(service).apply([SPLIT], as_of=date(2026, 1, 4))
    assert (outcome.pending, outcome.applied) == ([SPLIT.key], [])
    assert _position(service)[0] == 10


def test_a_dividend_is_expected_then_booked_on_its_pay_date(service: TradingService) -> None:
    _hold(service, "10")
    service.repo.set_book_cash(book="internal", system="fake", account_id="ACC-1", currency="USD",
                               amount=Decimal("1000"), now=service.clock.now())  # fmt: skip
    processor = CorporateActionProcessor(service)

    on_ex = processor.apply([DIVIDEND], as_of=date(2026, 1, 5))
    assert [(m.amount, m.date, m.status) for m in on_ex.cash_expected] == [
        (Decimal("2.50"), date(2026, 1, 20), "expected")
    ]
    assert on_ex.cash_booked == []
    assert service.reconciler().book.cash("fake")[0].amount == Decimal("1000")

    on_pay = processor.apply([DIVIDEND], as_of=date(2026, 1, 20))
    assert on_pay.unchanged == [DIVIDEND.key]
    assert [m.amount for m in on_pay.cash_booked] == [Decimal("2.50")]
    assert service.reconciler().book.cash("fake")[0].amount == Decimal("1002.50")
    assert processor.apply([DIVIDEND], as_of=date(2026, 1, 21)).changed is False

    processor.reverse(DIVIDEND.key)  # the provider withdrew it
    assert service.reconciler().book.cash("fake")[0].amount == Decimal("1000")
    assert [m.status for m in processor.expected_cash("fake")] == ["cancelled"]


async def test_on_a_split_day_the_broker_booking_it_later_is_no_break(
    service: TradingService, venue: FakeVenue
) -> None:
    _hold(service, "10", cost="10")
    venue.positions["XYZ"] = Decimal(10)  # the broker has not split it yet
    service.clock.set(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    CorporateActionProcessor(service).apply([SPLIT])
    breaks, compared = await service.reconciler().reconcile_positions("fake")
    assert (breaks, compared) == ([], 1)

    venue.positions["XYZ"] = Decimal(12)  # a difference no split explains
    breaks, _ = await service.reconciler().reconcile_positions("fake")
    assert [(b.kind, b.internal, b.broker) for b in breaks] == [(BreakKind.QUANTITY_MISMATCH, 40, 12)]


async def test_dividends_the_broker_did_not_pay_or_paid_unasked_are_breaks(
    make_service: Callable[..., TradingService], venue: FakeVenue, clock: FakeClock
) -> None:
    broker = PayingBroker(ConnectorContext.for_testing(PayingBroker, system_id="fake"), venue)
    service = make_service({"fake": broker})
    _hold(service, "10")
    clock.set(datetime(2026, 1, 23, 15, 0, tzinfo=UTC))
    CorporateActionProcessor(service).apply([DIVIDEND])
    reconciler = service.reconciler()

    breaks, compared = await reconciler.reconcile_cash_movements("fake")
    assert [b.kind for b in breaks] == [BreakKind.CASH_MOVEMENT_MISSING_AT_BROKER] and compared == 1

    def paid(amount: str, symbol: str = "XYZ") -> CashMovement:
        return CashMovement(movement_id=f"div-{symbol}", account_id="ACC-1", movement_type=CashMovementType.DIVIDEND,
                            amount=Decimal(amount), currency="USD", date=date(2026, 1, 20), symbol=symbol)  # fmt: skip

    broker.paid = [paid("2.50")]
    assert await reconciler.reconcile_cash_movements("fake") == ([], 1)

    broker.paid = [paid("2.40"), paid("7.00", "ABC")]
    breaks, compared = await reconciler.reconcile_cash_movements("fake")
    assert [(b.kind, b.internal, b.broker) for b in breaks] == [
        (BreakKind.CASH_MOVEMENT_MISMATCH, Decimal("2.50"), Decimal("2.40")),
        (BreakKind.CASH_MOVEMENT_UNEXPECTED_AT_BROKER, None, Decimal("7.00")),
    ]
    assert compared == 2


async def test_on_a_pay_date_the_broker_crediting_the_dividend_later_is_no_cash_break(
    service: TradingService, venue: FakeVenue, clock: FakeClock
) -> None:
    _hold(service, "10")
    venue.cash = Decimal("1000")
    service.repo.set_book_cash(book="internal", system="fake", account_id="ACC-1", currency="USD",
                               amount=Decimal("1000"), now=clock.now())  # fmt: skip
    clock.set(datetime(2026, 1, 20, 15, 0, tzinfo=UTC))
    CorporateActionProcessor(service).apply([DIVIDEND])  # the book has 1002.50, the broker still 1000
    assert await service.reconciler().reconcile_cash("fake") == ([], 1)

    venue.cash = Decimal("999.50")  # 3.00 apart: more than the dividend explains
    breaks, _ = await service.reconciler().reconcile_cash("fake")
    assert [(b.kind, b.internal, b.broker) for b in breaks] == [
        (BreakKind.CASH_MISMATCH, Decimal("1002.50"), Decimal("999.50"))
    ]


def test_an_action_applied_to_one_system_still_applies_to_another_later(service: TradingService) -> None:
    _hold(service, "10")
    service.repo.set_book_position(
        book="internal", system="other", account_id="ACC-9", instrument_id=unmapped_instrument_id("other", "XYZ"),
        quantity=Decimal(3), average_cost=Decimal(40), currency="USD", symbol="XYZ", now=service.clock.now(),
    )  # fmt: skip
    processor = CorporateActionProcessor(service)
    assert processor.apply([SPLIT], systems=["fake"], as_of=date(2026, 1, 5)).applied == [SPLIT.key]
    assert _position(service)[0] == 40
    other = [p for p in service.reconciler().book.positions("other") if p.symbol == "XYZ"]
    assert other[0].quantity == 3  # not asked for yet

    second = processor.apply([SPLIT], systems=["other"], as_of=date(2026, 1, 5))
    assert (second.applied, second.positions_changed) == ([SPLIT.key], 1)
    assert [p.quantity for p in service.reconciler().book.positions("other")] == [12]
    assert _position(service)[0] == 40  # the first system is not split twice
    assert processor.apply([SPLIT], as_of=date(2026, 1, 6)).changed is False
