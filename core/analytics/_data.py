"""What analytics reads from the embedded store: the book and its executions, imported prices, FX
rates, cash flows, benchmarks, factor exposures and scenarios.

Holdings on a past day are the book now rolled back by the executions after that day (so opening
balances count from the start). Cash on a day is the book's cash before any execution (the opening
balance, 0 where none was set) plus the cash of the trades up to that day plus the external cash flows
(imported ``cash_flows``) up to that day. Imported records of one key loaded twice: the later load wins.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from portico.errors import NotFound, PayloadRejected
from portico.jobs._records import RECORD_TYPES
from portico.jobs._tables import data_table
from portico.store import Database
from portico.trading import _tables as t
from portico.trading._repository import OrderRepository, signed_quantity

__all__ = ["AccountKey", "AnalyticsData", "Holdings"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class AccountKey:
    """An account at one system."""

    system: str
    account_id: str

    def __str__(self) -> str:
        return f"{self.system}:{self.account_id}"


@dataclass
class Holdings:
    """Quantities per symbol and cash per currency of one account at the end of one day."""

    quantities: dict[str, Decimal] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)
    cash: dict[str, Decimal] = field(default_factory=dict)


class _Series:
    """A value per day, looked up as of a day (the latest on or before it)."""

    def __init__(self, points: Mapping[date, Decimal]) -> None:
        self.days = sorted(points)
        self.values = [points[d] for d in self.days]

    def as_of(self, day: date) -> tuple[date, Decimal] | None:
        i = bisect_right(self.days, day)
        return (self.days[i - 1], self.values[i - 1]) if i else None


class AnalyticsData:
    """Reads the store for one analytics computation (each reader caches what it read).

    Args:
        db: the embedded store.
        repo: the trading repository (book and executions); None reads no book.
        book: the internal book's name.
    """

    def __init__(
        self, db: Database, repo: OrderRepository | None, *, book: str = "internal", fx_book: Any = None
    ) -> None:
        self.db = db
        self.repo = repo
        self.book = book
        self.fx_book = fx_book
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._prices: dict[str, _Series] | None = None
        self._price_currency: dict[str, str] = {}
        self._fx: dict[tuple[str, str], _Series] | None = None

    # -- imported records ------------------------------------------------------------------------

    def records(self, data_type: str) -> list[dict[str, Any]]:
        """Every loaded record of ``data_type`` (values as stored text), later loads overriding earlier ones."""
        if data_type not in self._records:
            import sqlalchemy as sa

            rt = RECORD_TYPES[data_type]
            table = data_table(rt)
            self.db.ensure_tables(table)
            with self.db.begin() as conn:
                rows = conn.execute(
                    sa.select(*[table.c[f] for f in rt.fields]).order_by(table.c.load_no, table.c.line)
                ).all()
            latest: dict[tuple[Any, ...], dict[str, Any]] = {}
            for row in rows:
                record = dict(zip(rt.fields, row, strict=True))
                latest[tuple(record[k] for k in rt.key)] = record
            self._records[data_type] = list(latest.values())
        return self._records[data_type]

    def prices(self) -> dict[str, _Series]:
        """Closing prices per symbol (imported ``prices``)."""
        if self._prices is None:
            points: dict[str, dict[date, Decimal]] = defaultdict(dict)
            for r in self.records("prices"):
                points[r["symbol"]][date.fromisoformat(r["date"])] = Decimal(r["close"])
                self._price_currency[r["symbol"]] = r["currency"]
            self._prices = {s: _Series(p) for s, p in points.items()}
        return self._prices

    def currency_of(self, symbol: str, default: str) -> str:
        """The currency of ``symbol``'s imported prices (``default`` when it has none)."""
        self.prices()
        return self._price_currency.get(symbol, default)

    def price_history(self, symbol: str) -> dict[date, Decimal]:
        """Every stored close of ``symbol`` by day."""
        series = self.prices().get(symbol)
        return dict(zip(series.days, series.values, strict=True)) if series else {}

    def price(self, symbol: str, day: date) -> tuple[date, Decimal]:
        """The close of ``symbol`` on ``day`` or the latest before it.

        Raises:
            PayloadRejected: no price of ``symbol`` on or before ``day``.
        """
        series = self.prices().get(symbol)
        found = series.as_of(day) if series else None
        if found is None:
            raise PayloadRejected(
                f"no price of {symbol} on or before {day}: import its prices (data_type prices) to value it",
                field="symbol",
            )
        return found

    def fx_rate(self, currency: str, base: str, day: date) -> Decimal:
        """The value of one unit of ``currency`` in ``base`` on ``day`` (the latest imported rate on or
        before it, either way round).

        Raises:
            PayloadRejected: no rate between the two currencies on or before ``day``.
        """
        if currency == base:
            return Decimal(1)
        if self._fx is None:
            points: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)
            for r in self.records("fx_rates"):
                points[(r["base"], r["quote"])][date.fromisoformat(r["date"])] = Decimal(r["rate"])
            self._fx = {k: _Series(v) for k, v in points.items()}
        direct = self._fx.get((currency, base))
        found = direct.as_of(day) if direct else None
        if found is not None:
            return found[1]
        inverse = self._fx.get((base, currency))
        found = inverse.as_of(day) if inverse else None
        if found is not None:
            return Decimal(1) / found[1]
        if self.fx_book is not None:
            # the FX feed's rates (direct, inverse or through USD), the last known by the end of the day
            try:
                answer = self.fx_book.get_fx_rate(currency, base, datetime.combine(day, time.max, tzinfo=UTC))
            except NotFound:
                pass
            else:
                return Decimal(answer.rate)
        raise PayloadRejected(
            f"no {currency}/{base} FX rate on or before {day}: import fx_rates (or configure the FX feed) "
            f"to convert {currency} to {base}",
            field="currency",
        )

    # -- the book --------------------------------------------------------------------------------

    def accounts(self) -> list[AccountKey]:
        """Every account the book or its executions know, plus accounts of imported cash flows at no system."""
        found: set[AccountKey] = set()
        if self.repo is not None:
            import sqlalchemy as sa

            with self.db.begin() as conn:
                for table in (t.book_positions, t.book_cash):
                    for row in conn.execute(
                        sa.select(table.c.system, table.c.account_id)
                        .where(table.c.book == self.book)
                        .distinct()
                    ):
                        found.add(AccountKey(row.system, row.account_id))
            for e in self.repo.executions():
                if e.system and e.account_id:  # a stored execution always has its system
                    found.add(AccountKey(e.system, e.account_id))
        return sorted(found, key=str)

    def resolve(self, account: str, system: str | None = None) -> AccountKey:
        """The one account called ``account`` (at ``system`` when given).

        Raises:
            PayloadRejected: no such account, or one id at several systems and no ``system`` given.
        """
        matches = [
            k for k in self.accounts() if k.account_id == account and (system is None or k.system == system)
        ]
        if not matches:
            known = ", ".join(str(k) for k in self.accounts()) or "none"
            raise PayloadRejected(
                f"unknown account {account!r}; accounts in the book: {known}", field="account"
            )
        if len(matches) > 1:
            raise PayloadRejected(
                f"account {account!r} is at several systems ({', '.join(k.system for k in matches)}); name the system",
                field="system",
            )
        return matches[0]

    def flows(self, account: AccountKey) -> list[tuple[date, Decimal, str]]:
        """The account's imported external cash flows: (day, amount, currency), oldest first."""
        return sorted(
            (date.fromisoformat(r["date"]), Decimal(r["amount"]), r["currency"])
            for r in self.records("cash_flows")
            if r["account"] == account.account_id
        )

    def holdings_by_day(self, account: AccountKey, days: Iterable[date]) -> dict[date, Holdings]:
        """The account's holdings at the end of each of ``days``."""
        quantities: dict[str, Decimal] = defaultdict(Decimal)
        currencies: dict[str, str] = {}
        opening_cash: dict[str, Decimal] = defaultdict(Decimal)
        executions = []
        if self.repo is not None:
            for row in self.repo.book_rows(self.book, account.system):
                if row.account_id == account.account_id:
                    symbol = row.symbol or row.instrument_id
                    quantities[symbol] += Decimal(row.quantity)
                    currencies[symbol] = row.currency
            for row in self.repo.cash_rows(self.book, account.system):
                if row.account_id == account.account_id:
                    opening_cash[row.currency] += Decimal(row.amount)
            executions = [
                e
                for e in self.repo.executions(system=account.system)
                if (e.account_id or "") == account.account_id
            ]
        # roll the book back to before every execution: what was there before the first trade
        cash_tracked = set(opening_cash)
        for e in executions:
            quantities[e.symbol] -= signed_quantity(e.side, e.quantity)
            currencies.setdefault(e.symbol, e.currency)
            if e.currency in cash_tracked:
                opening_cash[e.currency] -= self._trade_cash(e)
        flows = self.flows(account)
        out: dict[date, Holdings] = {}
        qty, cash = dict(quantities), dict(opening_cash)
        i = j = 0
        for day in sorted(days):
            while i < len(executions) and executions[i].executed_at.date() <= day:
                e = executions[i]
                qty[e.symbol] = qty.get(e.symbol, ZERO) + signed_quantity(e.side, e.quantity)
                cash[e.currency] = cash.get(e.currency, ZERO) + self._trade_cash(e)
                i += 1
            while j < len(flows) and flows[j][0] <= day:
                cash[flows[j][2]] = cash.get(flows[j][2], ZERO) + flows[j][1]
                j += 1
            out[day] = Holdings({s: q for s, q in qty.items() if q}, dict(currencies), dict(cash))
        return out

    @staticmethod
    def _trade_cash(e: Any) -> Decimal:
        return -signed_quantity(e.side, e.quantity) * e.price - (e.commission or ZERO) - (e.fees or ZERO)
