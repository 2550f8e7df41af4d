"""Persistence of order intents, their history, executions and the internal book (SQLAlchemy Core).

One module of about 900 lines, on purpose: the order path's transactions span the order, its history,
its executions and the book position and cash they move, so their statements are prepared once here,
side by side, and each transaction is read in one place (the statement budget test counts them).
"""

from __future__ import annotations

import dataclasses
import json
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portico._secrets import redact_text
from portico.models import TERMINAL_STATUSES, Execution, OrderRequest, OrderSide, OrderStatus
from portico.store import Database
from portico.trading import _tables as t
from portico.trading._records import HistoryEntry, OrderRecord
from portico.trading._tracking import Observation, Transition, advance

__all__ = ["SAME_FILL_WINDOW_SECONDS", "AppliedEvent", "OrderRepository", "signed_quantity"]

SAME_FILL_WINDOW_SECONDS = 5.0
"""Two reports of one order's fill with equal side, quantity and price this close are one fill."""

_OPEN = [s.value for s in OrderStatus if s not in TERMINAL_STATUSES]
_UNRESOLVED = [OrderStatus.PENDING_SUBMIT.value, OrderStatus.UNKNOWN.value]


@dataclasses.dataclass(frozen=True)
class AppliedEvent:
    """What :meth:`OrderRepository.apply_event` did in its one transaction."""

    before: OrderRecord
    after: OrderRecord
    entry: HistoryEntry | None
    execution_recorded: bool
    execution_id: str | None


def _utc(value: datetime) -> datetime:
    """A timestamp as a UTC column reads it back."""
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def unmapped_instrument_id(system: str, symbol: str) -> str:
    """The id the store's book files a position under when the cross-reference cannot place its
    instrument: the venue's own ticker, scoped to that venue."""
    return f"unmapped:{system}:{symbol}"


def signed_quantity(side: OrderSide | str, quantity: Decimal) -> Decimal:
    """Quantity with the sign of its effect on a position (sells negative)."""
    return quantity if OrderSide(side) is OrderSide.BUY else -quantity


_INDEXED: weakref.WeakSet[Database] = weakref.WeakSet()


def _ensure_indexes(db: Database) -> None:
    """Indexes added after a table's first release: ``create_all`` creates missing tables only, so a
    store written by an older portico gets them here (once per database object)."""
    if db in _INDEXED:
        return
    for index in t.executions.indexes:
        if index.name == "ix_trading_executions_venue_order":
            with db.begin() as conn:
                index.create(conn, checkfirst=True)
    _INDEXED.add(db)


class OrderRepository:
    """Reads and writes the trading tables in short transactions.

    Every state change of an order and its history row are written in one transaction, and the order
    row is locked while it changes (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers).
    """

    def __init__(self, db: Database, *, instance: str | None = None) -> None:
        self.db = db
        # with an instance, only its orders are read (configurations sharing a store never recover,
        # replay or list each other's); "default" also owns the rows stored before instances existed
        self.instance = instance
        db.ensure_tables(*t.trading_tables())
        db.ensure_column(t.orders, "instance")
        _ensure_indexes(db)
        # the statements of the order path, built once: executing the same statement object lets
        # SQLAlchemy skip building it, generating its cache key and looking its compiled form up
        o, h = t.orders, t.order_history
        by = sa.bindparam
        self._select_by = {
            "id": sa.select(o).where(o.c.id == by("b_id"), *self._scope()),
            "key": sa.select(o).where(
                o.c.system == by("b_system"), o.c.idempotency_key == by("b_v"), *self._scope()
            ),
            "client": sa.select(o).where(
                o.c.system == by("b_system"), o.c.client_order_id == by("b_v"), *self._scope()
            ),
            "venue": sa.select(o).where(
                o.c.system == by("b_system"), o.c.venue_order_id == by("b_v"), *self._scope()
            ),
        }
        self._insert_order = o.insert()
        self._insert_history = h.insert()
        self._lock_order = sa.select(o).where(o.c.id == by("b_id")).with_for_update()
        self._lock_by = {
            which: stmt.with_for_update()
            for which, stmt in self._select_by.items()
            if which in ("client", "venue")
        }
        self._seen_event = sa.select(h.c.seq).where(
            h.c.system == by("b_system"), h.c.event_id == by("b_event")
        )
        self._update_order = o.update().where(o.c.id == by("b_id"))
        e, b, c = t.executions, t.book_positions, t.book_cash
        self._execution_seen = sa.select(e.c.execution_id).where(
            e.c.system == by("b_system"), e.c.execution_id == by("b_execution")
        )
        # the same execution id, or the same fill reported under another id scheme (a stream's
        # execution id, then the REST activity id): same order, side, quantity and price, within a
        # few seconds; one statement (each side of the OR has its index)
        self._execution_known = (
            sa.select(e.c.execution_id)
            .where(
                sa.or_(
                    sa.and_(e.c.system == by("b_system"), e.c.execution_id == by("b_execution")),
                    sa.and_(
                        e.c.system == by("b_system"),
                        e.c.venue_order_id == by("b_venue"),
                        e.c.side == by("b_side"),
                        e.c.quantity == by("b_quantity"),
                        e.c.price == by("b_price"),
                        e.c.executed_at >= by("b_from", type_=e.c.executed_at.type),
                        e.c.executed_at <= by("b_to", type_=e.c.executed_at.type),
                    ),
                ),
            )
            .limit(1)
        )
        self._insert_execution = e.insert()
        book_key = (
            b.c.book == by("b_book"),
            b.c.system == by("b_system"),
            b.c.account_id == by("b_account"),
            b.c.instrument_id == by("b_instrument"),
        )
        self._lock_book = sa.select(b).where(*book_key).with_for_update()
        self._insert_book = b.insert()
        self._update_book = b.update().where(*book_key)
        cash_key = (
            c.c.book == by("b_book"),
            c.c.system == by("b_system"),
            c.c.account_id == by("b_account"),
            c.c.currency == by("b_currency"),
        )
        self._lock_cash = sa.select(c).where(*cash_key).with_for_update()
        self._update_cash = c.update().where(*cash_key)
        self._mark_sent = (
            o.update()
            .where(o.c.id == by("b_id"))
            .values(attempts=o.c.attempts + 1, sent_at=by("b_sent"), updated_at=by("b_sent"))
        )

    def _scope(self) -> list[Any]:
        if self.instance is None:
            return []
        if self.instance == "default":
            return [t.orders.c.instance.is_(None) | (t.orders.c.instance == "default")]
        return [t.orders.c.instance == self.instance]

    def key_owner(self, system: str, idempotency_key: str) -> str | None:
        """The instance whose order holds ``idempotency_key`` on ``system`` (any instance), if one does."""
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(t.orders.c.instance).where(
                    t.orders.c.system == system, t.orders.c.idempotency_key == idempotency_key
                )
            ).first()
        return None if row is None else (row.instance or "default")

    # -- intents ---------------------------------------------------------------------------------

    def insert_intent(
        self,
        *,
        id: str,
        system: str,
        idempotency_key: str,
        client_order_id: str,
        request: OrderRequest,
        request_hash: str,
        now: datetime,
        origin: str = "portico",
        parent_id: str | None = None,
        status: OrderStatus = OrderStatus.PENDING_SUBMIT,
        sending: bool = False,
    ) -> OrderRecord:
        """Store a new intent. Raises ``sqlalchemy.exc.IntegrityError`` when the key is taken.

        With ``sending`` the intent is stored with its first send already counted (``attempts`` 1,
        ``sent_at`` now), as :meth:`mark_sent` would count it, in the same transaction: the caller
        sends it next, and a crash from here on leaves an intent that recovery looks up before
        sending again.
        """
        row = {
            "id": id,
            "system": system,
            "idempotency_key": idempotency_key,
            "client_order_id": client_order_id,
            "request_hash": request_hash,
            "request_json": request.model_dump_json(),
            "origin": origin,
            "account_id": request.account_id,
            "symbol": request.symbol,
            "side": request.side.value,
            "order_type": request.order_type.value,
            "time_in_force": request.time_in_force.value,
            "quantity": t.to_dec(request.quantity),
            "notional": t.to_dec(request.notional),
            "limit_price": t.to_dec(request.limit_price),
            "status": status.value,
            "filled_quantity": "0",
            "attempts": 1 if sending else 0,
            "sent_at": now if sending else None,
            "parent_id": parent_id,
            "created_at": now,
            "updated_at": now,
            "instance": self.instance,
        }
        history = {
            "order_id": id,
            "system": system,
            "at": now,
            "event_at": None,
            "source": "intent",
            "event": "intent",
            "event_id": None,
            "from_status": None,
            "to_status": status.value,
            "filled_quantity": "0",
            "status_applied": True,
            "note": None,
        }
        with self.db.begin() as conn:
            self.db.execute(conn, self._insert_order, row)
            self.db.execute(conn, self._insert_history, history)
        # what the row reads back as (timestamps in UTC, decimals as stored), without reading it
        return OrderRecord(
            id=id,
            system=system,
            idempotency_key=idempotency_key,
            client_order_id=client_order_id,
            request=request,
            status=status,
            filled_quantity=Decimal(0),
            created_at=_utc(now),
            updated_at=_utc(now),
            attempts=1 if sending else 0,
            origin=origin,
            parent_id=parent_id,
            sent_at=_utc(now) if sending else None,
        )

    def request_hash_of(self, system: str, idempotency_key: str) -> str | None:
        """The stored request hash of an idempotency key, if the key is known."""
        with self.db.begin() as conn:
            return conn.execute(
                sa.select(t.orders.c.request_hash).where(
                    t.orders.c.system == system, t.orders.c.idempotency_key == idempotency_key
                )
            ).scalar_one_or_none()

    def get(self, order_id: str) -> OrderRecord | None:
        return self._prepared_one("id", {"b_id": order_id})

    def by_key(self, system: str, idempotency_key: str) -> OrderRecord | None:
        return self._prepared_one("key", {"b_system": system, "b_v": idempotency_key})

    def by_client_id(self, system: str, client_order_id: str) -> OrderRecord | None:
        return self._prepared_one("client", {"b_system": system, "b_v": client_order_id})

    def by_venue_id(self, system: str, venue_order_id: str) -> OrderRecord | None:
        return self._prepared_one("venue", {"b_system": system, "b_v": venue_order_id})

    def _prepared_one(self, which: str, params: dict[str, Any]) -> OrderRecord | None:
        with self.db.begin() as conn:
            row = self.db.execute(conn, self._select_by[which], params).one_or_none()
        return None if row is None else OrderRecord.from_row(row)

    def find(self, system: str | None, ref: str) -> OrderRecord | None:
        """An order by portico id, client order id, venue order id or idempotency key."""
        record = self.get(ref)
        if record is not None and (system is None or record.system == system):
            return record
        if system is None:
            return None
        return self.by_client_id(system, ref) or self.by_venue_id(system, ref) or self.by_key(system, ref)

    def _one(self, *where: Any) -> OrderRecord | None:
        with self.db.begin() as conn:
            row = conn.execute(sa.select(t.orders).where(*where, *self._scope())).one_or_none()
        return None if row is None else OrderRecord.from_row(row)

    def query(
        self,
        *,
        system: str | None = None,
        statuses: Iterable[OrderStatus | str] | None = None,
        parent_id: str | None = None,
        origin: str | None = None,
    ) -> list[OrderRecord]:
        """Orders matching every filter given, oldest first."""
        q = sa.select(t.orders).where(*self._scope())
        if system is not None:
            q = q.where(t.orders.c.system == system)
        if statuses is not None:
            q = q.where(t.orders.c.status.in_([OrderStatus(s).value for s in statuses]))
        if parent_id is not None:
            q = q.where(t.orders.c.parent_id == parent_id)
        if origin is not None:
            q = q.where(t.orders.c.origin == origin)
        with self.db.begin() as conn:
            rows = conn.execute(q.order_by(t.orders.c.created_at, t.orders.c.id)).all()
        return [OrderRecord.from_row(r) for r in rows]

    def unresolved(self, system: str) -> list[OrderRecord]:
        return self.query(system=system, statuses=_UNRESOLVED)

    def open_orders(self, system: str) -> list[OrderRecord]:
        return self.query(system=system, statuses=_OPEN)

    def mark_sent(self, order_id: str, now: datetime) -> OrderRecord:
        """Count one more send attempt, before the request leaves (so a crash mid-send is visible)."""
        with self.db.begin() as conn:
            self.db.execute(conn, self._mark_sent, {"b_id": order_id, "b_sent": now})
            return OrderRecord.from_row(
                self.db.execute(conn, self._select_by["id"], {"b_id": order_id}).one()
            )

    def set_error(self, order_id: str, error: str, now: datetime) -> None:
        with self.db.begin() as conn:
            conn.execute(
                t.orders.update()
                .where(t.orders.c.id == order_id)
                .values(last_error=redact_text(error)[:2000], updated_at=now)
            )

    def apply(
        self, order_id: str, obs: Observation, now: datetime
    ) -> tuple[OrderRecord, OrderRecord, HistoryEntry | None]:
        """Apply an observation; returns (before, after, history entry or None when ignored).

        Duplicate events (an ``event_id`` already applied for the system) and observations that change
        nothing are not written.
        """
        with self.db.begin() as conn:
            before = OrderRecord.from_row(self.db.execute(conn, self._lock_order, {"b_id": order_id}).one())
            return self._apply_locked(conn, before, obs, now)

    def apply_event(
        self,
        system: str,
        *,
        client_order_id: str | None,
        venue_order_id: str | None,
        obs: Observation,
        now: datetime,
        execution: Execution | None,
        instrument_id: str | None,
        book: str | None,
        usual: Callable[[OrderRecord], bool],
    ) -> AppliedEvent | OrderRecord | None:
        """An order event in one transaction: the order found (by client order id, else venue id) and
        locked, its execution recorded (once, moving the book), the observation applied.

        Returns:
            What was applied; the order unchanged when ``usual`` says it needs the caller's careful
            path (nothing is written then); None when no order matches (the caller holds the event).
        """
        with self.db.begin() as conn:
            row = None
            if client_order_id:
                row = self.db.execute(
                    conn, self._lock_by["client"], {"b_system": system, "b_v": client_order_id}
                ).first()
            if row is None and venue_order_id:
                row = self.db.execute(
                    conn, self._lock_by["venue"], {"b_system": system, "b_v": venue_order_id}
                ).first()
            if row is None:
                return None
            before = OrderRecord.from_row(row)
            if not usual(before):
                return before
            recorded = False
            if execution is not None:
                if execution.client_order_id is None:
                    # a fill report may not name the client order id: the order it belongs to does
                    execution = execution.model_copy(update={"client_order_id": before.client_order_id})
                recorded = self._record_execution_in(
                    conn,
                    system,
                    execution,
                    order_id=before.id,
                    instrument_id=instrument_id,
                    now=now,
                    book=book,
                )
            before, after, entry = self._apply_locked(conn, before, obs, now)
        return AppliedEvent(
            before, after, entry, recorded, None if execution is None else execution.execution_id
        )

    def _apply_locked(
        self, conn: sa.Connection, before: OrderRecord, obs: Observation, now: datetime
    ) -> tuple[OrderRecord, OrderRecord, HistoryEntry | None]:
        """:meth:`apply` on an order row this transaction holds locked."""
        order_id = before.id
        if obs.event_id is not None:
            seen = self.db.execute(
                conn, self._seen_event, {"b_system": before.system, "b_event": obs.event_id}
            ).first()
            if seen is not None:
                return before, before, None
        tr: Transition = advance(
            before.status,
            before.filled_quantity,
            before.average_fill_price,
            before.request.quantity,
            obs,
            before.status_at,
        )
        learns_venue_id = obs.venue_order_id is not None and before.venue_order_id is None
        if not tr.changed and not learns_venue_id and obs.error is None and obs.event_id is None:
            return before, before, None
        values: dict[str, Any] = {
            "status": tr.status.value,
            "filled_quantity": t.to_dec(tr.filled_quantity),
            "average_fill_price": t.to_dec(tr.average_fill_price),
            "status_at": tr.status_at,
            "updated_at": now,
        }
        if learns_venue_id:
            values["venue_order_id"] = obs.venue_order_id
        # Venues echo credentials in error bodies: free text is stored as the logs would show it.
        if tr.status is OrderStatus.REJECTED and obs.reject_reason:
            values["reject_reason"] = redact_text(obs.reject_reason)
        if obs.error is not None:
            values["last_error"] = redact_text(obs.error)[:2000]
        if before.is_unresolved and tr.status not in (OrderStatus.PENDING_SUBMIT, OrderStatus.UNKNOWN):
            values["resolved_at"] = now
        self.db.execute(conn, self._update_order, {**values, "b_id": order_id})
        result = self.db.execute(
            conn,
            self._insert_history,
            {
                "order_id": order_id,
                "system": before.system,
                "at": now,
                "event_at": obs.event_at,
                "source": obs.source,
                "event": obs.event,
                "event_id": obs.event_id,
                "from_status": before.status.value,
                "to_status": tr.status.value,
                "filled_quantity": t.to_dec(tr.filled_quantity),
                "status_applied": tr.status_applied,
                "note": redact_text(tr.note or obs.error or "") or None,
            },
        )
        seq = result.inserted_primary_key[0] if result.inserted_primary_key else 0
        # the row as it now reads back, from the values just written (no second read)
        after = dataclasses.replace(
            before,
            status=tr.status,
            filled_quantity=Decimal(values["filled_quantity"]),
            average_fill_price=t.from_dec(values["average_fill_price"]),
            status_at=_utc_or_none(tr.status_at),
            updated_at=_utc(now),
            venue_order_id=values.get("venue_order_id", before.venue_order_id),
            reject_reason=values.get("reject_reason", before.reject_reason),
            last_error=values.get("last_error", before.last_error),
            resolved_at=_utc(values["resolved_at"]) if "resolved_at" in values else before.resolved_at,
        )
        entry = HistoryEntry(
            seq=int(seq),
            order_id=order_id,
            system=before.system,
            at=now,
            source=obs.source,
            event=obs.event,
            from_status=before.status,
            to_status=tr.status,
            filled_quantity=tr.filled_quantity,
            status_applied=tr.status_applied,
            event_id=obs.event_id,
            event_at=obs.event_at,
            note=tr.note or obs.error,
        )
        return before, after, entry

    def history(self, order_id: str) -> list[HistoryEntry]:
        """Every recorded event of an order, in the order applied."""
        h = t.order_history
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(h).where(h.c.order_id == order_id).order_by(h.c.seq)).all()
        return [
            HistoryEntry(
                seq=r.seq,
                order_id=r.order_id,
                system=r.system,
                at=r.at,
                source=r.source,
                event=r.event,
                from_status=None if r.from_status is None else OrderStatus(r.from_status),
                to_status=OrderStatus(r.to_status),
                filled_quantity=Decimal(r.filled_quantity),
                status_applied=bool(r.status_applied),
                event_id=r.event_id,
                event_at=r.event_at,
                note=r.note,
            )
            for r in rows
        ]

    # -- executions and the internal book ------------------------------------------------------

    def record_execution(
        self,
        system: str,
        execution: Execution,
        *,
        order_id: str | None,
        instrument_id: str | None,
        now: datetime,
        book: str | None,
    ) -> bool:
        """Store an execution once; with ``book``, move the internal book position in the same
        transaction (so a replayed fill never moves it twice). Returns False for a duplicate."""
        with self.db.begin() as conn:
            return self._record_execution_in(
                conn, system, execution, order_id=order_id, instrument_id=instrument_id, now=now, book=book
            )

    def _record_execution_in(
        self,
        conn: sa.Connection,
        system: str,
        execution: Execution,
        *,
        order_id: str | None,
        instrument_id: str | None,
        now: datetime,
        book: str | None,
    ) -> bool:
        """:meth:`record_execution` inside the caller's transaction."""
        if execution.order_id:
            window = timedelta(seconds=SAME_FILL_WINDOW_SECONDS)
            known = self.db.execute(
                conn,
                self._execution_known,
                {
                    "b_system": system,
                    "b_execution": execution.execution_id,
                    "b_venue": execution.order_id,
                    "b_side": execution.side.value,
                    "b_quantity": t.to_dec(execution.quantity),
                    "b_price": t.to_dec(execution.price),
                    "b_from": execution.executed_at - window,
                    "b_to": execution.executed_at + window,
                },
            ).first()
        else:
            known = self.db.execute(
                conn, self._execution_seen, {"b_system": system, "b_execution": execution.execution_id}
            ).first()
        if known is not None:
            return False
        self.db.execute(
            conn,
            self._insert_execution,
            {
                "system": system,
                "execution_id": execution.execution_id,
                "order_id": order_id,
                "venue_order_id": execution.order_id,
                "client_order_id": execution.client_order_id,
                "account_id": execution.account_id,
                "symbol": execution.symbol,
                "side": execution.side.value,
                "quantity": t.to_dec(execution.quantity),
                "price": t.to_dec(execution.price),
                "currency": execution.currency,
                "commission": t.to_dec(execution.commission),
                "fees": t.to_dec(execution.fees),
                "venue": execution.venue,
                "executed_at": execution.executed_at,
                "recorded_at": now,
            },
        )
        if book is not None:
            iid = instrument_id or unmapped_instrument_id(system, execution.symbol)
            self._move_book(
                conn,
                book=book,
                system=system,
                account_id=execution.account_id or "",
                instrument_id=iid,
                symbol=execution.symbol,
                delta=signed_quantity(execution.side, execution.quantity),
                price=execution.price,
                currency=execution.currency,
                now=now,
            )
            cash_delta = -signed_quantity(execution.side, execution.quantity) * execution.price
            cash_delta -= (execution.commission or 0) + (execution.fees or 0)
            self._move_cash(
                conn, book, system, execution.account_id or "", execution.currency, cash_delta, now
            )
        return True

    def executions(
        self,
        *,
        system: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        order_id: str | None = None,
    ) -> list[Execution]:
        """Stored executions, oldest first."""
        e = t.executions
        q = sa.select(e)
        if system is not None:
            q = q.where(e.c.system == system)
        if since is not None:
            q = q.where(e.c.executed_at >= since)
        if until is not None:
            q = q.where(e.c.executed_at < until)
        if order_id is not None:
            q = q.where(e.c.order_id == order_id)
        with self.db.begin() as conn:
            rows = conn.execute(q.order_by(e.c.executed_at, e.c.execution_id)).all()
        return [
            Execution(
                execution_id=r.execution_id,
                order_id=r.venue_order_id or r.order_id or "",
                client_order_id=r.client_order_id,
                system=r.system,
                account_id=r.account_id,
                symbol=r.symbol,
                side=OrderSide(r.side),
                quantity=Decimal(r.quantity),
                price=Decimal(r.price),
                currency=r.currency,
                commission=t.from_dec(r.commission),
                fees=t.from_dec(r.fees),
                venue=r.venue,
                executed_at=r.executed_at,
            )
            for r in rows
        ]

    def unrecorded_fills(self, system: str, *, since: datetime | None = None) -> list[OrderRecord]:
        """Orders of a system (updated since ``since``) whose filled quantity is ahead of the quantity
        of the executions recorded for them, oldest first: fills the service learned of from an order
        status (a submit answer, a poll, a stream without fill details) but has no execution for yet."""
        o, e = t.orders, t.executions
        q = sa.select(o).where(o.c.system == system, o.c.venue_order_id.is_not(None))
        if since is not None:
            q = q.where(o.c.updated_at >= since)
        with self.db.begin() as conn:
            rows = [
                r
                for r in conn.execute(q.order_by(o.c.created_at, o.c.id)).all()
                if Decimal(r.filled_quantity) > 0
            ]
            recorded: dict[str, Decimal] = {}
            if rows:
                fills = conn.execute(
                    sa.select(e.c.order_id, e.c.quantity).where(
                        e.c.system == system, e.c.order_id.in_([r.id for r in rows])
                    )
                ).all()
                for fill in fills:
                    recorded[fill.order_id] = recorded.get(fill.order_id, Decimal(0)) + Decimal(fill.quantity)
        records = [OrderRecord.from_row(r) for r in rows]
        return [r for r in records if r.filled_quantity > recorded.get(r.id, Decimal(0))]

    def execution_order_ids(self, system: str) -> dict[str, str | None]:
        """execution id -> portico order id, for one system."""
        e = t.executions
        with self.db.begin() as conn:
            return {
                r.execution_id: r.order_id
                for r in conn.execute(sa.select(e.c.execution_id, e.c.order_id).where(e.c.system == system))
            }

    def _move_book(
        self,
        conn: sa.Connection,
        *,
        book: str,
        system: str,
        account_id: str,
        instrument_id: str,
        symbol: str,
        delta: Decimal,
        price: Decimal,
        currency: str,
        now: datetime,
    ) -> None:
        key = {"b_book": book, "b_system": system, "b_account": account_id, "b_instrument": instrument_id}
        row = self.db.execute(conn, self._lock_book, key).one_or_none()
        qty = Decimal(row.quantity) if row else Decimal(0)
        cost = Decimal(row.cost_basis) if row else Decimal(0)
        new_qty, new_cost = _average_cost(qty, cost, delta, price)
        values = {
            "quantity": t.to_dec(new_qty),
            "cost_basis": t.to_dec(new_cost),
            "symbol": symbol,
            "updated_at": now,
        }
        if row is None:
            self.db.execute(
                conn,
                self._insert_book,
                {
                    "book": book,
                    "system": system,
                    "account_id": account_id,
                    "instrument_id": instrument_id,
                    "currency": currency,
                    **values,
                },
            )
        else:
            self.db.execute(conn, self._update_book, {**key, **values})

    def _move_cash(
        self,
        conn: sa.Connection,
        book: str,
        system: str,
        account_id: str,
        currency: str,
        delta: Decimal,
        now: datetime,
    ) -> None:
        key = {"b_book": book, "b_system": system, "b_account": account_id, "b_currency": currency}
        row = self.db.execute(conn, self._lock_cash, key).one_or_none()
        if row is None:
            # cash is only tracked once an opening balance was set (set_book_cash)
            return
        self.db.execute(
            conn,
            self._update_cash,
            {**key, "amount": t.to_dec(Decimal(row.amount) + delta), "updated_at": now},
        )

    # -- book maintenance ------------------------------------------------------------------------

    def set_book_position(
        self,
        *,
        book: str,
        system: str,
        account_id: str,
        instrument_id: str,
        quantity: Decimal,
        average_cost: Decimal | None,
        currency: str,
        symbol: str | None,
        now: datetime,
    ) -> None:
        """Set a book position outright (opening balances, corrections)."""
        b = t.book_positions
        key = (
            b.c.book == book,
            b.c.system == system,
            b.c.account_id == account_id,
            b.c.instrument_id == instrument_id,
        )
        cost = quantity * (average_cost or 0)
        with self.db.begin() as conn:
            conn.execute(b.delete().where(*key))
            conn.execute(
                b.insert().values(
                    book=book,
                    system=system,
                    account_id=account_id,
                    instrument_id=instrument_id,
                    symbol=symbol,
                    quantity=t.to_dec(quantity),
                    cost_basis=t.to_dec(cost),
                    currency=currency,
                    updated_at=now,
                )
            )

    def set_book_cash(
        self, *, book: str, system: str, account_id: str, currency: str, amount: Decimal, now: datetime
    ) -> None:
        """Set a book cash balance outright."""
        c = t.book_cash
        key = (c.c.book == book, c.c.system == system, c.c.account_id == account_id, c.c.currency == currency)
        with self.db.begin() as conn:
            conn.execute(c.delete().where(*key))
            conn.execute(
                c.insert().values(
                    book=book,
                    system=system,
                    account_id=account_id,
                    currency=currency,
                    amount=t.to_dec(amount),
                    updated_at=now,
                )
            )

    def book_rows(self, book: str, system: str) -> Sequence[Any]:
        b = t.book_positions
        with self.db.begin() as conn:
            return conn.execute(sa.select(b).where(b.c.book == book, b.c.system == system)).all()

    def cash_rows(self, book: str, system: str) -> Sequence[Any]:
        c = t.book_cash
        with self.db.begin() as conn:
            return conn.execute(sa.select(c).where(c.c.book == book, c.c.system == system)).all()

    # -- parents -----------------------------------------------------------------------------------

    def insert_parent(
        self, *, id: str, key: str, policy: str, on_child_failure: str, request: dict[str, Any], now: datetime
    ) -> None:
        with self.db.begin() as conn:
            conn.execute(
                t.parents.insert().values(
                    id=id,
                    idempotency_key=key,
                    policy=policy,
                    on_child_failure=on_child_failure,
                    request_json=json.dumps(request, sort_keys=True, default=str),
                    created_at=now,
                )
            )

    def parent_by_key(self, key: str) -> Any:
        with self.db.begin() as conn:
            return conn.execute(sa.select(t.parents).where(t.parents.c.idempotency_key == key)).one_or_none()

    def parent(self, parent_id: str) -> Any:
        with self.db.begin() as conn:
            return conn.execute(sa.select(t.parents).where(t.parents.c.id == parent_id)).one_or_none()

    def add_parent_action(
        self,
        parent_id: str,
        action: str,
        *,
        now: datetime,
        child_id: str | None = None,
        system: str | None = None,
        quantity: Decimal | None = None,
        detail: str | None = None,
    ) -> None:
        with self.db.begin() as conn:
            conn.execute(
                t.parent_actions.insert().values(
                    parent_id=parent_id,
                    at=now,
                    action=action,
                    child_id=child_id,
                    system=system,
                    quantity=t.to_dec(quantity),
                    detail=detail,
                )
            )

    def parent_actions(self, parent_id: str) -> list[dict[str, Any]]:
        a = t.parent_actions
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(a).where(a.c.parent_id == parent_id).order_by(a.c.seq)).all()
        return [
            {
                "seq": r.seq,
                "at": r.at,
                "action": r.action,
                "child_id": r.child_id,
                "system": r.system,
                "quantity": t.from_dec(r.quantity),
                "detail": r.detail,
            }
            for r in rows
        ]


def _average_cost(qty: Decimal, cost: Decimal, delta: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
    """Move a position (quantity, signed total cost) by ``delta`` at ``price`` using average cost."""
    if qty == 0 or (qty > 0) == (delta > 0):
        return qty + delta, cost + delta * price
    closing = min(abs(delta), abs(qty))
    cost -= cost * closing / abs(qty)
    new_qty = qty + delta
    if new_qty != 0 and (new_qty > 0) != (qty > 0):
        # the trade flipped the position: the remainder opens at the trade price
        cost = new_qty * price
    if new_qty == 0:
        cost = Decimal(0)
    return new_qty, cost
