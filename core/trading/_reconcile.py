"""Reconciliation: the internal book against each broker's positions, executions and cash.

Positions and executions are matched per account and **internal instrument id**: each broker's report
is translated through the :class:`~portico.trading.InstrumentXref` (venue id, then ISIN, then a
registered per-system symbol alias); a broker position the cross-reference cannot place is an
``unmapped_instrument`` break, never matched by its ticker text. Differences within the tolerances
are not breaks.

One module of about 800 lines, on purpose: the break model, the report and the three matchers
(positions, executions, cash) share the tolerance and instrument-translation rules, and a reader
checking how a break is decided reads them together; the daily job at the end is its scheduled entry.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.errors import ConfigurationError, PorticoError
from portico.sdk import Capability
from portico.trading import _tables as t
from portico.trading._book import BookPosition, PositionBook, StoreBook
from portico.trading._corporate_actions import CorporateActionProcessor
from portico.trading._repository import SAME_FILL_WINDOW_SECONDS, unmapped_instrument_id

if TYPE_CHECKING:
    from portico.trading._service import TradingService

__all__ = [
    "Break",
    "BreakKind",
    "DailyReconciliationJob",
    "Reconciler",
    "ReconciliationReport",
    "Tolerance",
]


log = logging.getLogger("portico.trading")


class BreakKind(StrEnum):
    """What kind of difference a break is."""

    MISSING_AT_BROKER = "missing_at_broker"
    """The book holds a position the broker does not report."""
    UNEXPECTED_AT_BROKER = "unexpected_at_broker"
    """The broker reports a position the book does not hold."""
    QUANTITY_MISMATCH = "quantity_mismatch"
    COST_MISMATCH = "cost_mismatch"
    UNMAPPED_INSTRUMENT = "unmapped_instrument"
    """The cross-reference cannot place an instrument, so it cannot be matched."""
    TRADE_MISSING_AT_BROKER = "trade_missing_at_broker"
    TRADE_UNEXPECTED_AT_BROKER = "trade_unexpected_at_broker"
    TRADE_MISMATCH = "trade_mismatch"
    CASH_MISMATCH = "cash_mismatch"
    CASH_MOVEMENT_MISSING_AT_BROKER = "cash_movement_missing_at_broker"
    """A dividend the book expects was not paid by the broker (a day after its pay date)."""
    CASH_MOVEMENT_UNEXPECTED_AT_BROKER = "cash_movement_unexpected_at_broker"
    """The broker paid a dividend no corporate action applied to the book entitles it to."""
    CASH_MOVEMENT_MISMATCH = "cash_movement_mismatch"
    SOURCE_UNAVAILABLE = "source_unavailable"
    """The broker could not be asked (its side is unknown, so nothing was compared)."""


@dataclass(frozen=True)
class Tolerance:
    """Differences up to these are not breaks.

    Attributes:
        quantity: absolute quantity difference.
        cost_abs: absolute average cost difference per unit.
        cost_rel: relative average cost difference (of the broker's cost); the larger of the two applies.
        cash: absolute cash difference.
        price: absolute execution price difference.
    """

    quantity: Decimal = Decimal(0)
    cost_abs: Decimal = Decimal("0.01")
    cost_rel: Decimal = Decimal("0.0001")
    cash: Decimal = Decimal("0.01")
    price: Decimal = Decimal("0.0001")


@dataclass(frozen=True)
class Break:
    """One reconciliation difference.

    Attributes:
        kind: what differs.
        system: the broker system.
        account_id: the account, when known.
        instrument_id: the internal instrument id (None for cash, or when unmapped).
        field: the compared field (``quantity``, ``average_cost``, ``cash``, ``price``, ``side``...).
        internal: the book's value (None when the book has nothing).
        broker: the broker's value (None when the broker has nothing).
        reference: what identifies the item at the broker (ticker, execution id, currency).
        detail: a sentence for people.
    """

    kind: BreakKind
    system: str
    account_id: str | None
    instrument_id: str | None
    field: str
    internal: Decimal | str | None
    broker: Decimal | str | None
    reference: str | None = None
    detail: str = ""

    @property
    def difference(self) -> Decimal | None:
        """broker - internal, for numeric fields (a missing side counts as zero)."""
        values = [self.internal, self.broker]
        if any(isinstance(v, str) for v in values) or all(v is None for v in values):
            return None
        return Decimal(self.broker or 0) - Decimal(self.internal or 0)  # type: ignore[arg-type]

    def to_row(self) -> dict[str, str]:
        """A flat row of strings (CSV / JSON export)."""
        diff = self.difference
        return {
            "kind": self.kind.value,
            "system": self.system,
            "account_id": self.account_id or "",
            "instrument_id": self.instrument_id or "",
            "field": self.field,
            "internal": "" if self.internal is None else str(self.internal),
            "broker": "" if self.broker is None else str(self.broker),
            "difference": "" if diff is None else str(diff),
            "reference": self.reference or "",
            "detail": self.detail,
        }


BREAK_COLUMNS = (
    "kind",
    "system",
    "account_id",
    "instrument_id",
    "field",
    "internal",
    "broker",
    "difference",
    "reference",
    "detail",
)


@dataclass
class ReconciliationReport:
    """The breaks of one reconciliation run, exportable as CSV or JSON."""

    run_id: str
    as_of: datetime
    systems: list[str]
    breaks: list[Break] = field(default_factory=list)
    compared: dict[str, int] = field(default_factory=dict)
    """How many items were compared, by ``positions``, ``trades``, ``cash``."""
    exported_to: str | None = None
    """The report file a :class:`DailyReconciliationJob` wrote, if any."""

    @property
    def ok(self) -> bool:
        """True when there is no break."""
        return not self.breaks

    def by_kind(self) -> dict[BreakKind, list[Break]]:
        out: dict[BreakKind, list[Break]] = {}
        for b in self.breaks:
            out.setdefault(b.kind, []).append(b)
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-safe summary (the job history's manifest): run id, time, systems, break count,
        breaks by kind, items compared and the report file."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "systems": list(self.systems),
            "breaks": len(self.breaks),
            "by_kind": {k.value: len(v) for k, v in sorted(self.by_kind().items())},
            "compared": dict(self.compared),
            "exported_to": self.exported_to,
        }

    def to_rows(self) -> list[dict[str, str]]:
        """One flat dict per break (with ``run_id`` and ``as_of``), the exporter's input."""
        return [{"run_id": self.run_id, "as_of": self.as_of.isoformat(), **b.to_row()} for b in self.breaks]

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["run_id", "as_of", *BREAK_COLUMNS], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.to_rows())
        return buf.getvalue()

    def to_json(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "as_of": self.as_of.isoformat(),
                "systems": self.systems,
                "compared": self.compared,
                "breaks": [b.to_row() for b in self.breaks],
            },
            indent=2,
        )

    def export(self, path: str | Path, format: str | None = None) -> Path:
        """Write the report to ``path`` as ``csv`` or ``json`` (default from the suffix)."""
        target = Path(path)
        fmt = (format or target.suffix.lstrip(".") or "csv").lower()
        if fmt not in {"csv", "json"}:
            raise ConfigurationError(f"breaks report format must be csv or json, not {fmt!r}", path="format")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.to_csv() if fmt == "csv" else self.to_json(), encoding="utf-8")
        return target


class Reconciler:
    """Compares the internal book with brokers and reports the breaks.

    Args:
        service: the trading service (connectors, cross-reference, stored executions, monitor).
        book: the internal book; default: the ``portico_position_book`` hook's, else the store's.
        tolerance: what counts as equal.
        plugins: a plugin manager asked for ``portico_position_book`` when ``book`` is None.
    """

    def __init__(
        self,
        service: TradingService,
        *,
        book: PositionBook | None = None,
        tolerance: Tolerance | None = None,
        plugins: Any = None,
    ) -> None:
        self.service = service
        if book is None and plugins is not None:
            book = plugins.hooks.hook.portico_position_book()
        self.book: PositionBook = book or StoreBook(service.repo, service.config.book or "internal")
        self.tolerance = tolerance or Tolerance()
        # what corporate actions did to the book: a split day or a dividend's pay date is no break
        self.corporate_actions = CorporateActionProcessor(service)

    def _split_explains(
        self, system: str, symbol: str | None, book_qty: Decimal, broker_qty: Decimal
    ) -> bool:
        """Whether a split applied around today accounts for the quantity difference exactly (the book
        or the broker has booked it a day apart from the other)."""
        if not symbol:
            return False
        today = self.service.clock.now().date()
        for action in self.corporate_actions.recent_splits(system, today):
            factor = action.share_factor
            if action.symbol.upper() != symbol.upper() or factor is None:
                continue
            tol = self.tolerance.quantity
            if abs(book_qty * factor - broker_qty) <= tol or abs(broker_qty * factor - book_qty) <= tol:
                return True
        return False

    async def _record_missing_fills(self, system: str, since: datetime | None) -> None:
        """Record the fills of portico's own orders that were learned from an order status but whose
        details could not be fetched then, so they count as the book's, not as unexpected."""
        try:
            await self.service.record_missing_fills(system, since=since)
        except Exception as exc:
            # what stays unrecorded shows as breaks, which is the truth of the book
            log.warning("fills of %s not recorded before reconciling: %s", system, exc)

    # -- positions -------------------------------------------------------------------------------

    async def reconcile_positions(
        self, system: str, account_id: str | None = None
    ) -> tuple[list[Break], int]:
        """Position breaks of one broker (one account when given); returns (breaks, items compared)."""
        connector = self.service.connector(system)
        xref = self.service.xref
        await self._record_missing_fills(system, None)
        try:
            broker_positions = await connector.get_positions(account_id)
            default_account = account_id
            if default_account is None and connector.spec.capabilities.has(Capability.GET_ACCOUNT):
                default_account = (await connector.get_account()).account_id
        except PorticoError as exc:
            return [_unavailable(system, account_id, "positions", exc)], 0
        breaks: list[Break] = []
        book: dict[tuple[str, str], BookPosition] = {}
        for bp in self.book.positions(system, account_id):
            if bp.quantity != 0:
                book[(bp.account_id, bp.instrument_id)] = bp
        broker: dict[tuple[str, str], tuple[Decimal, Decimal | None, str]] = {}
        for pos in broker_positions:
            acct = pos.account_id or default_account or ""
            if account_id is not None and acct != account_id:
                continue
            iid = xref.resolve(system, venue_id=pos.venue_instrument_id, isin=pos.isin, symbol=pos.symbol)
            if iid is None and (acct, unmapped_instrument_id(system, pos.symbol)) in book:
                # the store's book keeps a fill the cross-reference cannot place under the venue's own
                # ticker; within that one venue the ticker does identify the instrument
                iid = unmapped_instrument_id(system, pos.symbol)
            if iid is None:
                breaks.append(
                    Break(
                        BreakKind.UNMAPPED_INSTRUMENT,
                        system,
                        acct,
                        None,
                        "quantity",
                        None,
                        pos.quantity,
                        reference=pos.symbol,
                        detail=f"{system} reports {pos.quantity} {pos.symbol} that the instrument cross-reference "
                        "cannot place",
                    )
                )
                continue
            qty, cost, sym = broker.get((acct, iid), (Decimal(0), None, pos.symbol))
            broker[(acct, iid)] = (qty + pos.quantity, pos.average_cost if cost is None else cost, sym)
        for key, bp in list(book.items()):
            if bp.instrument_id.startswith("unmapped:") and key not in broker:
                del book[key]
                breaks.append(
                    Break(
                        BreakKind.UNMAPPED_INSTRUMENT,
                        system,
                        bp.account_id,
                        None,
                        "quantity",
                        bp.quantity,
                        None,
                        reference=bp.symbol,
                        detail=f"the book holds {bp.quantity} {bp.symbol} under no known instrument",
                    )
                )
        tol = self.tolerance
        for key in sorted(set(book) | {k for k, v in broker.items() if v[0] != 0}):
            acct, iid = key
            mine = book.get(key)
            theirs = broker.get(key)
            if theirs is None or theirs[0] == 0:
                assert mine is not None
                breaks.append(
                    Break(
                        BreakKind.MISSING_AT_BROKER,
                        system,
                        acct,
                        iid,
                        "quantity",
                        mine.quantity,
                        None,
                        reference=mine.symbol,
                        detail=f"book holds {mine.quantity}, {system} reports none",
                    )
                )
                continue
            bqty, bcost, sym = theirs
            if mine is None:
                breaks.append(
                    Break(
                        BreakKind.UNEXPECTED_AT_BROKER,
                        system,
                        acct,
                        iid,
                        "quantity",
                        None,
                        bqty,
                        reference=sym,
                        detail=f"{system} reports {bqty}, the book holds none",
                    )
                )
                continue
            if abs(bqty - mine.quantity) > tol.quantity:
                if self._split_explains(system, mine.symbol or sym, mine.quantity, bqty):
                    continue
                breaks.append(
                    Break(
                        BreakKind.QUANTITY_MISMATCH,
                        system,
                        acct,
                        iid,
                        "quantity",
                        mine.quantity,
                        bqty,
                        reference=sym,
                        detail=f"book {mine.quantity} vs {system} {bqty}",
                    )
                )
                continue
            if mine.average_cost is not None and bcost is not None:
                allowed = max(tol.cost_abs, tol.cost_rel * abs(bcost))
                if abs(bcost - mine.average_cost) > allowed:
                    breaks.append(
                        Break(
                            BreakKind.COST_MISMATCH,
                            system,
                            acct,
                            iid,
                            "average_cost",
                            mine.average_cost,
                            bcost,
                            reference=sym,
                            detail=f"average cost: book {mine.average_cost} vs {system} {bcost}",
                        )
                    )
        return breaks, len(set(book) | set(broker))

    # -- trades ----------------------------------------------------------------------------------

    async def reconcile_trades(
        self, system: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> tuple[list[Break], int]:
        """Execution breaks in ``[since, until)``: the store's executions against the broker's."""
        connector = self.service.connector(system)
        await self._record_missing_fills(system, since)
        try:
            theirs = {e.execution_id: e for e in await connector.get_executions(since=since, until=until)}
        except PorticoError as exc:
            return [_unavailable(system, None, "trades", exc)], 0
        mine = {
            e.execution_id: e for e in self.service.repo.executions(system=system, since=since, until=until)
        }
        xref = self.service.xref
        breaks: list[Break] = []
        tol = self.tolerance
        # venues may report one fill under two ids (stream execution id, REST activity id): pair the
        # leftovers by order, side, quantity, price and time before calling anything missing
        # (indexed by the fields a twin must share exactly, so pairing stays linear in the fills)
        candidates: dict[tuple[Any, ...], list[str]] = {}
        for their_id in sorted(set(theirs) - set(mine)):
            candidates.setdefault(_fill_key(theirs[their_id]), []).append(their_id)
        for exec_id in sorted(set(mine) - set(theirs)):
            bucket = candidates.get(_fill_key(mine[exec_id]))
            if not bucket:
                continue
            twin = next((b for b in bucket if _same_fill(mine[exec_id], theirs[b], tol)), None)
            if twin is not None:
                bucket.remove(twin)
                theirs[exec_id] = theirs.pop(twin)
        compared = len(set(mine) | set(theirs))
        for exec_id in sorted(set(mine) | set(theirs)):
            a, b = mine.get(exec_id), theirs.get(exec_id)
            if b is None:
                assert a is not None
                breaks.append(
                    Break(
                        BreakKind.TRADE_MISSING_AT_BROKER,
                        system,
                        a.account_id,
                        xref.resolve(system, symbol=a.symbol),
                        "quantity",
                        a.quantity,
                        None,
                        reference=exec_id,
                        detail=f"execution {exec_id} ({a.side.value} {a.quantity} {a.symbol}) is not at {system}",
                    )
                )
                continue
            iid_b = xref.resolve(system, symbol=b.symbol)
            if a is None:
                breaks.append(
                    Break(
                        BreakKind.TRADE_UNEXPECTED_AT_BROKER,
                        system,
                        b.account_id,
                        iid_b,
                        "quantity",
                        None,
                        b.quantity,
                        reference=exec_id,
                        detail=f"{system} execution {exec_id} ({b.side.value} {b.quantity} {b.symbol}) is not in the book",
                    )
                )
                continue
            iid_a = xref.resolve(system, symbol=a.symbol)
            # both records come from the same venue, so without a cross-reference the venue's own
            # ticker is the identifier within that venue
            same_instrument = (iid_a == iid_b) if (iid_a and iid_b) else a.symbol == b.symbol
            checks: list[tuple[str, Any, Any, bool]] = [
                ("instrument", iid_a or a.symbol, iid_b or b.symbol, not same_instrument),
                ("side", a.side.value, b.side.value, a.side is not b.side),
                ("quantity", a.quantity, b.quantity, abs(a.quantity - b.quantity) > tol.quantity),
                ("price", a.price, b.price, abs(a.price - b.price) > tol.price),
            ]
            for name, va, vb, differs in checks:
                if differs:
                    breaks.append(
                        Break(
                            BreakKind.TRADE_MISMATCH,
                            system,
                            b.account_id,
                            iid_b,
                            name,
                            va,
                            vb,
                            reference=exec_id,
                            detail=f"execution {exec_id}: {name} book {va} vs {system} {vb}",
                        )
                    )
        return breaks, compared

    # -- cash ------------------------------------------------------------------------------------

    async def reconcile_cash(self, system: str, account_id: str | None = None) -> tuple[list[Break], int]:
        """Cash breaks: the book's balance in the account's currency against the broker's cash.

        Accounts whose cash the book does not track are not compared.
        """
        balances = list(self.book.cash(system, account_id))
        if not balances:
            return [], 0
        connector = self.service.connector(system)
        breaks: list[Break] = []
        compared = 0
        accounts = sorted({c.account_id for c in balances})
        for acct in accounts:
            try:
                account = await connector.get_account(acct or None)
            except PorticoError as exc:
                breaks.append(_unavailable(system, acct, "cash", exc))
                continue
            for cash in (c for c in balances if c.account_id == acct):
                compared += 1
                broker_amount = account.cash if cash.currency == account.currency else None
                if broker_amount is None:
                    breaks.append(
                        Break(
                            BreakKind.CASH_MISMATCH,
                            system,
                            acct,
                            None,
                            "cash",
                            cash.amount,
                            None,
                            reference=cash.currency,
                            detail=f"book holds {cash.amount} {cash.currency}; {system} reports cash in {account.currency}",
                        )
                    )
                elif abs(broker_amount - cash.amount) > self.tolerance.cash and not self._dividend_explains(
                    system, acct, cash.currency, broker_amount - cash.amount
                ):
                    breaks.append(
                        Break(
                            BreakKind.CASH_MISMATCH,
                            system,
                            acct,
                            None,
                            "cash",
                            cash.amount,
                            broker_amount,
                            reference=cash.currency,
                            detail=f"cash {cash.currency}: book {cash.amount} vs {system} {broker_amount}",
                        )
                    )
        return breaks, compared

    def _dividend_explains(self, system: str, account_id: str, currency: str, difference: Decimal) -> bool:
        """Whether dividends booked today account for a cash difference (the broker credits them later
        in the day, or the next)."""
        today = self.service.clock.now().date()
        due = [
            m
            for m in self.corporate_actions.expected_cash(system, status="booked")
            if m.account_id == account_id and m.currency == currency and abs((m.date - today).days) <= 1
        ]
        total = sum((m.amount for m in due), Decimal(0))
        return bool(due) and abs(-difference - total) <= self.tolerance.cash

    async def reconcile_cash_movements(
        self, system: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> tuple[list[Break], int]:
        """The dividends corporate actions entitle the book to against the broker's dividend payments.

        Matched per account, symbol and pay date (a day's slack); compared only when the broker lists
        cash movements and the book has recorded corporate actions. An expected dividend is missing only
        once its pay date is more than a day past.
        """
        connector = self.service.connector(system)
        if not connector.spec.capabilities.has(Capability.GET_CASH_MOVEMENTS):
            return [], 0
        expected = [
            m for m in self.corporate_actions.expected_cash(system) if m.status in ("expected", "booked")
        ]
        if not expected and not self.corporate_actions.applied():
            return [], 0
        today = self.service.clock.now().date()
        try:
            paid = await connector.get_cash_movements(since=since, until=until)
        except PorticoError as exc:
            return [_unavailable(system, None, "cash_movements", exc)], 0
        dividends = [m for m in paid if m.movement_type.value == "dividend"]
        if since is not None:
            expected = [m for m in expected if m.date >= since.date()]
        if until is not None:
            expected = [m for m in expected if m.date <= until.date()]
        breaks: list[Break] = []
        unmatched = list(dividends)
        for mine in expected:
            twin = next(
                (
                    b
                    for b in unmatched
                    if (b.symbol or "").upper() == (mine.symbol or "").upper()
                    and b.account_id == mine.account_id
                    and abs((b.date - mine.date).days) <= 1
                ),
                None,
            )
            if twin is None:
                if (today - mine.date).days > 1:
                    breaks.append(
                        Break(BreakKind.CASH_MOVEMENT_MISSING_AT_BROKER, system, mine.account_id, None, "amount",
                              mine.amount, None, reference=mine.movement_id,
                              detail=f"dividend of {mine.amount} {mine.currency} on {mine.symbol} due {mine.date} "
                              f"is not paid at {system}")
                    )  # fmt: skip
                continue
            unmatched.remove(twin)
            if abs(twin.amount - mine.amount) > self.tolerance.cash:
                breaks.append(
                    Break(BreakKind.CASH_MOVEMENT_MISMATCH, system, mine.account_id, None, "amount", mine.amount,
                          twin.amount, reference=mine.movement_id,
                          detail=f"dividend on {mine.symbol} paid {twin.date}: book {mine.amount} vs {system} "
                          f"{twin.amount}")
                )  # fmt: skip
        for theirs in unmatched:
            breaks.append(
                Break(BreakKind.CASH_MOVEMENT_UNEXPECTED_AT_BROKER, system, theirs.account_id, None, "amount", None,
                      theirs.amount, reference=theirs.movement_id,
                      detail=f"{system} paid a dividend of {theirs.amount} {theirs.currency} on {theirs.symbol} "
                      f"({theirs.date}) that no applied corporate action expects")
            )  # fmt: skip
        return breaks, len(expected) + len(unmatched)

    # -- a whole run -----------------------------------------------------------------------------

    async def run(
        self,
        systems: Iterable[str] | None = None,
        *,
        account_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        positions: bool = True,
        trades: bool = True,
        cash: bool = True,
    ) -> ReconciliationReport:
        """Reconcile each system; store the breaks, alert on each through the monitor, return the report."""
        clock = self.service.clock
        report = ReconciliationReport(
            run_id=uuid.uuid4().hex,
            as_of=clock.now(),
            systems=list(systems if systems is not None else self.service.connectors),
            compared={"positions": 0, "trades": 0, "cash": 0},
        )
        for system in report.systems:
            parts: list[tuple[str, Any]] = []
            if positions:
                parts.append(("positions", self.reconcile_positions(system, account_id)))
            if trades:
                parts.append(("trades", self.reconcile_trades(system, since=since, until=until)))
            if cash:
                parts.append(("cash", self.reconcile_cash(system, account_id)))
            if cash:
                parts.append(
                    ("cash_movements", self.reconcile_cash_movements(system, since=since, until=until))
                )
            for name, coro in parts:
                found, count = await coro
                report.breaks.extend(found)
                if name == "cash_movements" and not count:
                    continue  # reported only where dividends were compared
                report.compared[name] = report.compared.get(name, 0) + count
        self._store(report)
        for b in report.breaks:
            self.service._emit(
                "reconciliation.break",
                system=b.system,
                severity="warning",
                run_id=report.run_id,
                **{k: v for k, v in b.to_row().items() if k != "system"},
            )
        compared_counts: dict[str, Any] = {f"compared_{k}": v for k, v in report.compared.items()}
        self.service._emit(
            "reconciliation.completed",
            severity="warning" if report.breaks else "info",
            run_id=report.run_id,
            breaks=len(report.breaks),
            systems=report.systems,
            **compared_counts,
        )
        return report

    def stored_breaks(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Stored breaks (of one run, or every run, oldest first) as flat rows: an export source for
        :class:`portico.jobs.DataExporter` (``sources={"reconciliation_breaks": reconciler.stored_breaks}``)."""
        import sqlalchemy as sa

        b = t.reconciliation_breaks
        q = sa.select(b).order_by(b.c.seq)
        if run_id is not None:
            q = q.where(b.c.run_id == run_id)
        with self.service.db.begin() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            {
                k: (v.isoformat() if isinstance(v, datetime) else ("" if v is None else v))
                for k, v in r.items()
                if k != "seq"
            }
            for r in rows
        ]

    def _store(self, report: ReconciliationReport) -> None:
        if not report.breaks:
            return
        with self.service.db.begin() as conn:
            conn.execute(
                t.reconciliation_breaks.insert(),
                [
                    {
                        **{k: (v or None) for k, v in b.to_row().items()},
                        "run_id": report.run_id,
                        "as_of": report.as_of,
                        "detail": b.detail,
                    }
                    for b in report.breaks
                ],
            )


class DailyReconciliationJob:
    """A callable the scheduler runs once a day: reconcile, export the breaks report, alert.

    Args:
        reconciler: what to run.
        systems: the systems to reconcile (default: every trading system).
        lookback: the execution window reconciled, ending now.
        export_dir: where ``breaks-YYYYMMDD-<run>.<format>`` is written (nothing written when None).
        format: ``csv`` or ``json``.
    """

    def __init__(
        self,
        reconciler: Reconciler,
        *,
        systems: Sequence[str] | None = None,
        lookback: timedelta = timedelta(days=1),
        export_dir: str | Path | None = None,
        format: str = "csv",
    ) -> None:
        self.reconciler = reconciler
        self.systems = systems
        self.lookback = lookback
        self.export_dir = None if export_dir is None else Path(export_dir)
        self.format = format
        self.last_export: Path | None = None

    async def __call__(self) -> ReconciliationReport:
        now = self.reconciler.service.clock.now()
        report = await self.reconciler.run(
            self.systems, since=now - self.lookback, until=now + timedelta(seconds=1)
        )
        if self.export_dir is not None:
            name = f"breaks-{report.as_of:%Y%m%d}-{report.run_id[:8]}.{self.format}"
            self.last_export = report.export(self.export_dir / name, self.format)
            report.exported_to = str(self.last_export)
        return report


def _fill_key(e: Any) -> tuple[Any, ...]:
    """What two reports of one fill share exactly (see :func:`_same_fill`)."""
    return (e.order_id, e.side, e.quantity)


def _same_fill(a: Any, b: Any, tol: Tolerance) -> bool:
    return bool(
        a.order_id == b.order_id
        and a.side is b.side
        and a.quantity == b.quantity
        and abs(a.price - b.price) <= tol.price
        and abs((a.executed_at - b.executed_at).total_seconds()) <= SAME_FILL_WINDOW_SECONDS
    )


def _unavailable(system: str, account_id: str | None, what: str, exc: PorticoError) -> Break:
    return Break(
        BreakKind.SOURCE_UNAVAILABLE,
        system,
        account_id,
        None,
        what,
        None,
        None,
        reference=type(exc).__name__,
        detail=f"{what} of {system} could not be read: {exc.message}",
    )
