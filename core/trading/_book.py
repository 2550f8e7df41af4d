"""The internal book reconciliation compares with brokers: from a plugin, a file, or the embedded store."""

from __future__ import annotations

import csv
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from portico.contributions import BookCash, BookPosition, PositionBook
from portico.errors import PayloadRejected
from portico.trading._repository import OrderRepository

__all__ = ["BookCash", "BookPosition", "FileBook", "PositionBook", "StoreBook"]


class StoreBook:
    """The book kept in the embedded store: opening balances plus every execution the service records."""

    def __init__(self, repo: OrderRepository, book: str = "internal") -> None:
        self.repo = repo
        self.book = book

    def positions(self, system: str, account_id: str | None = None) -> list[BookPosition]:
        out = []
        for row in self.repo.book_rows(self.book, system):
            if account_id is not None and row.account_id != account_id:
                continue
            qty = Decimal(row.quantity)
            cost = Decimal(row.cost_basis)
            out.append(
                BookPosition(
                    account_id=row.account_id,
                    instrument_id=row.instrument_id,
                    quantity=qty,
                    average_cost=None if qty == 0 else cost / qty,
                    currency=row.currency,
                    symbol=row.symbol,
                )
            )
        return out

    def cash(self, system: str, account_id: str | None = None) -> list[BookCash]:
        return [
            BookCash(account_id=row.account_id, currency=row.currency, amount=Decimal(row.amount))
            for row in self.repo.cash_rows(self.book, system)
            if account_id is None or row.account_id == account_id
        ]


class FileBook:
    """A book read from a CSV or JSON file.

    Positions: rows with ``system, account_id, instrument_id, quantity`` and optional ``average_cost,
    currency, symbol``. Cash: rows with ``system, account_id, currency, amount`` and ``kind=cash``
    (CSV) or under a ``cash`` key (JSON ``{"positions": [...], "cash": [...]}``).

    Raises:
        PayloadRejected: a row is malformed; the message names the file, line/index and field.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._positions: list[tuple[str, BookPosition]] = []
        self._cash: list[tuple[str, BookCash]] = []
        if self.path.suffix.lower() == ".json":
            data = json.loads(self.path.read_text(encoding="utf-8"))
            for i, row in enumerate(data.get("positions", [])):
                self._add_position(row, f"positions[{i}]")
            for i, row in enumerate(data.get("cash", [])):
                self._add_cash(row, f"cash[{i}]")
        else:
            with self.path.open(newline="", encoding="utf-8") as fh:
                for line, row in enumerate(csv.DictReader(fh), start=2):
                    if (row.get("kind") or "position").strip().lower() == "cash":
                        self._add_cash(row, f"line {line}")
                    else:
                        self._add_position(row, f"line {line}")

    def _field(
        self, row: dict[str, Any], name: str, where: str, *, decimal: bool = False, required: bool = True
    ) -> Any:
        value = row.get(name)
        if value is None or str(value).strip() == "":
            if required:
                raise PayloadRejected(f"{self.path} {where}: {name} is missing", field=name)
            return None
        if decimal:
            try:
                return Decimal(str(value).strip())
            except InvalidOperation:
                raise PayloadRejected(
                    f"{self.path} {where}: {name}={value!r} is not a number", field=name
                ) from None
        return str(value).strip()

    def _add_position(self, row: dict[str, Any], where: str) -> None:
        system = self._field(row, "system", where)
        self._positions.append(
            (
                system,
                BookPosition(
                    account_id=self._field(row, "account_id", where),
                    instrument_id=self._field(row, "instrument_id", where),
                    quantity=self._field(row, "quantity", where, decimal=True),
                    average_cost=self._field(row, "average_cost", where, decimal=True, required=False),
                    currency=self._field(row, "currency", where, required=False) or "USD",
                    symbol=self._field(row, "symbol", where, required=False),
                ),
            )
        )

    def _add_cash(self, row: dict[str, Any], where: str) -> None:
        system = self._field(row, "system", where)
        self._cash.append(
            (
                system,
                BookCash(
                    account_id=self._field(row, "account_id", where),
                    currency=self._field(row, "currency", where),
                    amount=self._field(row, "amount", where, decimal=True),
                ),
            )
        )

    def positions(self, system: str, account_id: str | None = None) -> list[BookPosition]:
        return [
            p
            for s, p in self._positions
            if s == system and (account_id is None or p.account_id == account_id)
        ]

    def cash(self, system: str, account_id: str | None = None) -> list[BookCash]:
        return [
            c for s, c in self._cash if s == system and (account_id is None or c.account_id == account_id)
        ]
