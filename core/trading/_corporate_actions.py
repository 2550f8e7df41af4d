"""Corporate actions applied to the internal book and the stored price history, once each.

A split (reverse split, stock dividend) multiplies the quantity of every book position in the symbol by
its share factor on its ex date and leaves the cost basis whole, so the average cost divides by the
factor; the stored daily history before the ex date is rescaled the same way. A cash dividend entitles
each long book position held on the ex date to ``quantity x amount``: an *expected cash movement* on the
pay date, booked to the book's cash (when the book tracks that account's cash) once the pay date comes,
and matched against the broker's own cash movements by :func:`reconcile_cash_movements`.

Each action is recorded under its :attr:`~portico.models.CorporateAction.key` with a fingerprint of what
it says: the same action again (a re-run, or a second provider) changes nothing; a provider's
correction (another ratio or amount under the same key) reverses the earlier effects and applies the new
ones; a cancelled action reverses them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from portico.models import CashMovement, CashMovementType, CorporateAction, CorporateActionStatus
from portico.store import metadata
from portico.trading import _tables as t
from portico.trading._repository import signed_quantity

if TYPE_CHECKING:
    from portico.store import Database
    from portico.trading._service import TradingService

__all__ = [
    "CorporateActionOutcome",
    "CorporateActionProcessor",
    "HistoryAdjuster",
]

HistoryAdjuster = Callable[[str, date, Decimal], int]
"""Rescales stored price history for a split: ``(symbol, ex_date, factor) -> bars changed``."""

_CENTS = Decimal("0.01")
HISTORY_SCOPE = "*history*"
"""The scope under which the stored price history's adjustment for an action is recorded (systems are
the others: each system's book positions are adjusted, and recorded, on their own)."""
_NEW_YORK = ZoneInfo("America/New_York")


def _tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    md = metadata()
    if "trading_corporate_actions" in md.tables:
        return (
            md.tables["trading_corporate_actions"],
            md.tables["trading_corporate_action_effects"],
            md.tables["trading_expected_cash"],
        )
    log = sa.Table(
        "trading_corporate_actions",
        md,
        sa.Column("action_key", sa.String(128), primary_key=True),
        sa.Column("book", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(64), primary_key=True),  # a system id, or HISTORY_SCOPE
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # applied | reversed
        sa.Column("action_json", sa.Text, nullable=False),
        sa.Column("bars_adjusted", sa.Integer, nullable=False, default=0),
        sa.Column("applied_at", t.UtcDateTime, nullable=False),
        sa.Column("updated_at", t.UtcDateTime, nullable=False),
    )
    effects = sa.Table(
        "trading_corporate_action_effects",
        md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action_key", sa.String(128), nullable=False, index=True),
        sa.Column("book", sa.String(64), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("instrument_id", sa.String(128), nullable=False),
        sa.Column("quantity_before", sa.String(64), nullable=False),
        sa.Column("quantity_after", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    cash = sa.Table(
        "trading_expected_cash",
        md,
        sa.Column("movement_id", sa.String(256), primary_key=True),
        sa.Column("action_key", sa.String(128), nullable=False, index=True),
        sa.Column("book", sa.String(64), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("quantity", sa.String(64), nullable=False),
        sa.Column("per_share", sa.String(64), nullable=False),
        sa.Column("amount", sa.String(64), nullable=False),
        sa.Column("pay_date", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # expected | booked | cancelled
        sa.Column("booked_to_cash", sa.Boolean, nullable=False, default=False),
        sa.Column("updated_at", t.UtcDateTime, nullable=False),
    )
    return log, effects, cash


def fingerprint(action: CorporateAction) -> str:
    """What an action says (type, dates, ratios, amount, new symbol), hashed; not who said it."""
    body = action.model_dump(
        mode="json",
        include={"symbol", "action_type", "ex_date", "pay_date", "cash_amount", "currency", "ratio_from",
                 "ratio_to", "new_symbol"},
    )  # fmt: skip
    for name in ("cash_amount", "ratio_from", "ratio_to"):
        if body.get(name) is not None:
            body[name] = format(Decimal(str(body[name])).normalize(), "f")
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class CorporateActionOutcome:
    """What one :meth:`CorporateActionProcessor.apply` did, by action key."""

    applied: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    reversed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    """Actions whose ex date is still ahead (applied by a later run)."""
    positions_changed: int = 0
    bars_adjusted: int = 0
    cash_expected: list[CashMovement] = field(default_factory=list)
    cash_booked: list[CashMovement] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything in the book, the history or the expected cash changed."""
        return bool(self.applied or self.corrected or self.reversed or self.cash_booked)


class CorporateActionProcessor:
    """Applies corporate actions to a trading service's store book and, through ``adjust_history``,
    to stored price history.

    Args:
        service: the trading service (its store, book name, cross-reference and clock).
        adjust_history: rescales stored bars for a split (the market data service's
            ``adjust_history_for_split``); None leaves price history alone.
    """

    def __init__(self, service: TradingService, *, adjust_history: HistoryAdjuster | None = None) -> None:
        self.service = service
        self.db: Database = service.db
        self.book = service.config.book or "internal"
        self.adjust_history = adjust_history
        self.log_t, self.effects_t, self.cash_t = _tables()
        self.db.ensure_tables(self.log_t, self.effects_t, self.cash_t)

    # -- applying --------------------------------------------------------------------------------

    def apply(
        self,
        actions: Iterable[CorporateAction],
        *,
        systems: Iterable[str] | None = None,
        as_of: date | None = None,
    ) -> CorporateActionOutcome:
        """Apply every action whose ex date is on or before ``as_of`` (default: today), to the book
        positions of ``systems`` (default: every system the book holds), then book the expected cash
        whose pay date has come.

        The same action twice (by key and content) changes nothing; another content under a key
        already applied reverses the earlier effects first; a cancelled action is reversed.
        """
        today = as_of or self.service.clock.now().date()
        outcome = CorporateActionOutcome()
        latest: dict[str, CorporateAction] = {}
        for action in actions:
            latest[action.key] = action
        wanted = None if systems is None else set(systems)
        for key in sorted(latest, key=lambda k: (latest[k].ex_date, k)):
            action = latest[key]
            if action.status == CorporateActionStatus.CANCELLED:
                done = [r.scope for r in self._records(key) if r.status == "applied"]
                for scope in done:
                    self._reverse(key, scope, outcome)
                (outcome.reversed if done else outcome.unchanged).append(key)
                continue
            if action.ex_date > today:
                outcome.pending.append(key)
                continue
            print_ = fingerprint(action)
            records = {r.scope: r for r in self._records(key)}
            todo = [
                scope
                for scope in self._scopes(action, wanted)
                if not (
                    (r := records.get(scope)) is not None
                    and r.status == "applied"
                    and r.fingerprint == print_
                )
            ]
            if not todo:
                outcome.unchanged.append(key)
                continue
            corrected = False
            for scope in todo:
                earlier = records.get(scope)
                if earlier is not None and earlier.status == "applied":
                    self._reverse(key, scope, outcome)
                    corrected = True
                self._apply(action, print_, scope, outcome)
            (outcome.corrected if corrected else outcome.applied).append(key)
        outcome.cash_booked.extend(self.settle_cash(as_of=today))
        return outcome

    def _records(self, key: str) -> list[Any]:
        log = self.log_t
        with self.db.begin() as conn:
            return list(
                conn.execute(sa.select(log).where(log.c.action_key == key, log.c.book == self.book)).all()
            )

    def _scopes(self, action: CorporateAction, wanted: set[str] | None) -> list[str]:
        """Where ``action`` applies: each system of the book (or of ``wanted``), and the price history
        for a share action when there is one to adjust."""
        if wanted is None:
            b = t.book_positions
            with self.db.begin() as conn:
                systems = set(
                    conn.execute(sa.select(b.c.system).where(b.c.book == self.book).distinct()).scalars()
                )
        else:
            systems = set(wanted)
        if action.share_factor is not None and self.adjust_history is not None:
            systems.add(HISTORY_SCOPE)
        return sorted(systems)

    def _positions(self, conn: sa.Connection, action: CorporateAction, wanted: set[str] | None) -> list[Any]:
        b = t.book_positions
        rows = conn.execute(sa.select(b).where(b.c.book == self.book)).all()
        symbol = action.symbol.strip().upper()
        out = []
        for row in rows:
            if wanted is not None and row.system not in wanted:
                continue
            resolved = self.service.xref.resolve(row.system, symbol=symbol)
            if (row.symbol or "").upper() == symbol or (
                resolved is not None and row.instrument_id == resolved
            ):
                out.append(row)
        return out

    def _apply(
        self, action: CorporateAction, print_: str, scope: str, outcome: CorporateActionOutcome
    ) -> None:
        now = self.service.clock.now()
        factor = action.share_factor
        bars = 0
        if scope == HISTORY_SCOPE:
            assert factor is not None and self.adjust_history is not None
            # the history lives in its own tables (and transaction); the log row below records it was done
            bars = self.adjust_history(action.symbol.strip().upper(), action.ex_date, factor)
            outcome.bars_adjusted += bars
        since_ex = self._traded_since(action) if scope != HISTORY_SCOPE else {}
        with self.db.begin() as conn:
            for row in self._positions(conn, action, {scope}) if scope != HISTORY_SCOPE else []:
                qty = Decimal(row.quantity)
                # what was bought or sold from the ex date on is not the holding the action applies to
                traded = since_ex.get((row.system, row.account_id), Decimal(0))
                held = qty - traded
                if factor is not None and held != 0:
                    after = held * factor + traded
                    self._set_quantity(conn, row, after, now)
                    conn.execute(
                        self.effects_t.insert().values(
                            action_key=action.key, book=self.book, system=row.system, account_id=row.account_id,
                            instrument_id=row.instrument_id, quantity_before=t.to_dec(qty),
                            quantity_after=t.to_dec(after), active=True,
                        )
                    )  # fmt: skip
                    outcome.positions_changed += 1
                elif (
                    action.action_type.value == "cash_dividend"
                    and action.cash_amount is not None
                    and held > 0
                ):
                    movement = self._expect(conn, action, row, held, now)
                    outcome.cash_expected.append(movement)
            log = self.log_t
            mine = (log.c.action_key == action.key, log.c.book == self.book, log.c.scope == scope)
            conn.execute(log.delete().where(*mine))
            conn.execute(
                log.insert().values(
                    action_key=action.key, book=self.book, scope=scope, fingerprint=print_, status="applied",
                    action_json=action.model_dump_json(), bars_adjusted=bars, applied_at=now, updated_at=now,
                )
            )  # fmt: skip

    def _traded_since(self, action: CorporateAction) -> dict[tuple[str, str], Decimal]:
        """Net signed quantity of ``action``'s symbol executed from its ex date (midnight New York) on,
        by (system, account)."""
        start = datetime.combine(action.ex_date, time(0), _NEW_YORK)
        net: dict[tuple[str, str], Decimal] = {}
        for e in self.service.repo.executions(since=start):
            if e.symbol.strip().upper() != action.symbol.strip().upper():
                continue
            key = (e.system or "", e.account_id or "")
            net[key] = net.get(key, Decimal(0)) + signed_quantity(e.side, e.quantity)
        return net

    def _set_quantity(self, conn: sa.Connection, row: Any, quantity: Decimal, now: datetime) -> None:
        b = t.book_positions
        conn.execute(
            b.update()
            .where(b.c.book == row.book, b.c.system == row.system, b.c.account_id == row.account_id,
                   b.c.instrument_id == row.instrument_id)
            .values(quantity=t.to_dec(quantity), updated_at=now)
        )  # fmt: skip

    def _expect(
        self, conn: sa.Connection, action: CorporateAction, row: Any, qty: Decimal, now: datetime
    ) -> CashMovement:
        assert action.cash_amount is not None
        amount = (qty * action.cash_amount).quantize(_CENTS)
        currency = action.currency or row.currency
        pay = action.pay_date or action.ex_date
        movement_id = f"{action.key}:{row.system}:{row.account_id}"
        c = self.cash_t
        conn.execute(c.delete().where(c.c.movement_id == movement_id))
        conn.execute(
            c.insert().values(
                movement_id=movement_id, action_key=action.key, book=self.book, system=row.system,
                account_id=row.account_id, symbol=action.symbol.upper(), currency=currency, quantity=t.to_dec(qty),
                per_share=t.to_dec(action.cash_amount), amount=t.to_dec(amount), pay_date=pay.isoformat(),
                status="expected", booked_to_cash=False, updated_at=now,
            )
        )  # fmt: skip
        return _movement(conn.execute(sa.select(c).where(c.c.movement_id == movement_id)).one())

    def _reverse(self, key: str, scope: str, outcome: CorporateActionOutcome) -> None:
        """Undo what ``key`` did in ``scope``: a system's quantities (by the recorded change, so later
        trades stay) and expected cash, or the price history's rescaling."""
        now = self.service.clock.now()
        log, effects, cash = self.log_t, self.effects_t, self.cash_t
        mine = (log.c.action_key == key, log.c.book == self.book, log.c.scope == scope)
        with self.db.begin() as conn:
            record = conn.execute(sa.select(log).where(*mine)).one()
            action = CorporateAction.model_validate_json(record.action_json)
            b = t.book_positions
            for eff in conn.execute(
                sa.select(effects).where(effects.c.action_key == key, effects.c.book == self.book,
                                         effects.c.system == scope, effects.c.active)
            ).all():  # fmt: skip
                row = conn.execute(
                    sa.select(b).where(b.c.book == self.book, b.c.system == eff.system,
                                       b.c.account_id == eff.account_id, b.c.instrument_id == eff.instrument_id)
                ).one_or_none()  # fmt: skip
                if row is not None:
                    change = Decimal(eff.quantity_after) - Decimal(eff.quantity_before)
                    self._set_quantity(conn, row, Decimal(row.quantity) - change, now)
                    outcome.positions_changed += 1
                conn.execute(effects.update().where(effects.c.seq == eff.seq).values(active=False))
            for due in conn.execute(
                sa.select(cash).where(cash.c.action_key == key, cash.c.book == self.book, cash.c.system == scope,
                                      cash.c.status != "cancelled")
            ).all():  # fmt: skip
                if due.booked_to_cash:
                    _move_cash(
                        conn, self.book, due.system, due.account_id, due.currency, -Decimal(due.amount), now
                    )
                conn.execute(
                    cash.update()
                    .where(cash.c.movement_id == due.movement_id)
                    .values(status="cancelled", updated_at=now)
                )
            conn.execute(log.update().where(*mine).values(status="reversed", updated_at=now))
        if (
            scope == HISTORY_SCOPE
            and action.share_factor
            and self.adjust_history is not None
            and record.bars_adjusted
        ):
            undo = 1 / action.share_factor
            outcome.bars_adjusted += self.adjust_history(action.symbol.upper(), action.ex_date, undo)

    def reverse(self, key: str) -> CorporateActionOutcome:
        """Undo an applied action everywhere by its key (a provider withdrew it); nothing when it is not applied."""
        outcome = CorporateActionOutcome()
        done = [r.scope for r in self._records(key) if r.status == "applied"]
        for scope in done:
            self._reverse(key, scope, outcome)
        if done:
            outcome.reversed.append(key)
        return outcome

    # -- cash ------------------------------------------------------------------------------------

    def settle_cash(self, *, as_of: date | None = None) -> list[CashMovement]:
        """Book every expected movement whose pay date is on or before ``as_of`` into the book's cash
        (when the book tracks the account's cash); returns the movements booked now."""
        today = (as_of or self.service.clock.now().date()).isoformat()
        now = self.service.clock.now()
        cash = self.cash_t
        booked = []
        with self.db.begin() as conn:
            due = conn.execute(
                sa.select(cash).where(
                    cash.c.book == self.book, cash.c.status == "expected", cash.c.pay_date <= today
                )
            ).all()
            for row in due:
                c = t.book_cash
                tracked = conn.execute(
                    sa.select(c.c.amount).where(c.c.book == self.book, c.c.system == row.system,
                                                c.c.account_id == row.account_id, c.c.currency == row.currency)
                ).one_or_none()  # fmt: skip
                _move_cash(
                    conn, self.book, row.system, row.account_id, row.currency, Decimal(row.amount), now
                )
                conn.execute(
                    cash.update().where(cash.c.movement_id == row.movement_id)
                    .values(status="booked", booked_to_cash=tracked is not None, updated_at=now)
                )  # fmt: skip
                booked.append(_movement(row, status="booked"))
        return booked

    def expected_cash(self, system: str | None = None, *, status: str | None = None) -> list[CashMovement]:
        """The cash movements corporate actions entitle the book to (``expected``, ``booked`` or
        ``cancelled``), oldest pay date first."""
        cash = self.cash_t
        q = sa.select(cash).where(cash.c.book == self.book).order_by(cash.c.pay_date, cash.c.movement_id)
        if system is not None:
            q = q.where(cash.c.system == system)
        if status is not None:
            q = q.where(cash.c.status == status)
        with self.db.begin() as conn:
            return [_movement(r) for r in conn.execute(q).all()]

    def applied(self) -> list[dict[str, Any]]:
        """Every recorded action (``action_key``, ``state`` applied or reversed, the action's fields), as
        an export source."""
        log = self.log_t
        with self.db.begin() as conn:
            rows = conn.execute(
                sa.select(log).where(log.c.book == self.book).order_by(log.c.action_key)
            ).all()
        return [
            {"action_key": r.action_key, "scope": r.scope, "state": r.status, "bars_adjusted": r.bars_adjusted,
             **json.loads(r.action_json)}
            for r in rows
        ]  # fmt: skip

    def recent_splits(self, system: str, around: date, *, days: int = 3) -> list[CorporateAction]:
        """Share actions applied to ``system``'s book whose ex date is within ``days`` of ``around`` (the
        reconciliation asks, so a broker that books a split a day later than the book is not a break)."""
        out = []
        for row in self.applied():
            if row["state"] != "applied" or row["scope"] != system:
                continue
            action = CorporateAction.model_validate(
                {k: v for k, v in row.items() if k not in ("action_key", "scope", "state", "bars_adjusted")}
            )
            if action.share_factor is not None and abs((action.ex_date - around).days) <= days:
                out.append(action)
        return out


def _move_cash(
    conn: sa.Connection, book: str, system: str, account_id: str, currency: str, delta: Decimal, now: datetime
) -> None:
    """Add ``delta`` to a book cash balance, when the book tracks that balance (an opening balance was set)."""
    c = t.book_cash
    key = (c.c.book == book, c.c.system == system, c.c.account_id == account_id, c.c.currency == currency)
    row = conn.execute(sa.select(c.c.amount).where(*key).with_for_update()).one_or_none()
    if row is None:
        return
    conn.execute(c.update().where(*key).values(amount=t.to_dec(Decimal(row.amount) + delta), updated_at=now))


def _movement(row: Any, *, status: str | None = None) -> CashMovement:
    return CashMovement(
        movement_id=row.movement_id,
        account_id=row.account_id,
        movement_type=CashMovementType.DIVIDEND,
        amount=Decimal(row.amount),
        currency=row.currency,
        date=date.fromisoformat(row.pay_date),
        symbol=row.symbol,
        quantity=Decimal(row.quantity),
        per_share=Decimal(row.per_share),
        status=status or row.status,
        source=row.system,
    )
