"""Custody reconciliation: a custodian's statement of holdings against the broker, a bank statement against the book.

Holdings are matched per account and ISIN (the symbol when a side has no ISIN); cash per account and
currency. Each difference beyond the tolerance is a :class:`CustodyBreak`; an empty list is a clean
reconciliation. The inputs are plain rows (as the importer stores them) and the broker's
:class:`~portico.models.Position` objects, so the check needs no connection of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portico.jobs._records import record_type

__all__ = ["CustodyBreak", "latest_rows", "reconcile_cash", "reconcile_holdings", "reconcile_statement_cash"]


@dataclass(frozen=True)
class CustodyBreak:
    """One difference: ``kind`` is ``missing_at_broker``, ``missing_at_custodian``, ``quantity_mismatch`` or ``cash_mismatch``."""

    kind: str
    account: str
    key: str
    statement: Decimal | None
    other: Decimal | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "account": self.account,
            "key": self.key,
            "statement": None if self.statement is None else str(self.statement),
            "other": None if self.other is None else str(self.other),
        }


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def reconcile_holdings(
    statement: Iterable[Mapping[str, Any]], broker: Iterable[Any], *, tolerance: Decimal = Decimal(0)
) -> list[CustodyBreak]:
    """Breaks between custodian ``statement`` rows (positions) and the ``broker``'s positions.

    Broker positions are :class:`~portico.models.Position` (``account_id``, ``isin``, ``symbol``,
    ``quantity``) or mappings with those keys.
    """
    ours: dict[tuple[str, str], Decimal] = {}
    for row in statement:
        key = (str(row["account"]), str(row.get("isin") or row["symbol"]))
        ours[key] = ours.get(key, Decimal(0)) + _dec(row["quantity"])
    theirs: dict[tuple[str, str], Decimal] = {}
    for p in broker:
        get = p.get if isinstance(p, Mapping) else lambda name, _p=p: getattr(_p, name, None)
        key = (str(get("account_id") or ""), str(get("isin") or get("symbol")))
        theirs[key] = theirs.get(key, Decimal(0)) + _dec(get("quantity"))
    breaks: list[CustodyBreak] = []
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if b is None:
            breaks.append(CustodyBreak("missing_at_broker", key[0], key[1], a, None))
        elif a is None:
            breaks.append(CustodyBreak("missing_at_custodian", key[0], key[1], None, b))
        elif abs(a - b) > tolerance:
            breaks.append(CustodyBreak("quantity_mismatch", key[0], key[1], a, b))
    return breaks


def reconcile_cash(
    closing: Iterable[Mapping[str, Any]],
    book: Mapping[tuple[str, str], Any],
    *,
    tolerance: Decimal = Decimal(0),
) -> list[CustodyBreak]:
    """Breaks between statements' closing balances (``cash_balances`` rows of type ``CLBD``) and ``book`` cash per (account, currency)."""
    ours = {
        (str(r["account"]), str(r["currency"])): _dec(r["amount"]) for r in closing if r.get("type") == "CLBD"
    }
    theirs = {k: _dec(v) for k, v in book.items()}
    breaks: list[CustodyBreak] = []
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if a is None or b is None or abs(a - b) > tolerance:
            breaks.append(CustodyBreak("cash_mismatch", key[0], key[1], a, b))
    return breaks


def reconcile_statement_cash(
    balances: Iterable[Mapping[str, Any]], flows: Iterable[Mapping[str, Any]]
) -> list[CustodyBreak]:
    """Breaks where opening balance plus the loaded cash movements is not the closing balance, per (account, currency)."""
    rows = list(balances)
    opening = {
        (str(r["account"]), str(r["currency"])): _dec(r["amount"])
        for r in rows
        if r.get("type") in ("OPBD", "PRCD")
    }
    moved: dict[tuple[str, str], Decimal] = {}
    for f in flows:
        key = (str(f["account"]), str(f["currency"]))
        moved[key] = moved.get(key, Decimal(0)) + _dec(f["amount"])
    book = {
        key: opening.get(key, Decimal(0)) + moved.get(key, Decimal(0)) for key in set(opening) | set(moved)
    }
    return reconcile_cash(rows, book)


def latest_rows(db: Any, data_type: str) -> list[dict[str, Any]]:
    """The rows of ``data_type`` from the committed loads in the store (every current load)."""
    from portico.jobs._tables import job_tables

    rt = record_type(data_type)
    loads = job_tables()["loads"]
    numbers = job_tables()["load_numbers"]
    with db.begin() as conn:
        if not sa.inspect(conn).has_table(rt.table):
            return []
        table = sa.Table(rt.table, sa.MetaData(), autoload_with=conn)
        current = (
            sa.select(numbers.c.load_no)
            .join(loads, loads.c.load_id == numbers.c.load_id)
            .where(
                loads.c.status == "committed", loads.c.data_type == rt.name, loads.c.destination == "store"
            )
        )
        rows = (
            conn.execute(
                sa.select(table).where(table.c.load_no.in_(current)).order_by(table.c.load_no, table.c.line)
            )
            .mappings()
            .all()
        )
    return [{k: v for k, v in r.items() if k not in ("load_no", "line")} for r in rows]
