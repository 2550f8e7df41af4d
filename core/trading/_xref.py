"""The instrument cross-reference: venue identifiers to one internal instrument id.

Reconciliation and the internal book key everything by an internal instrument id, never by symbol
text: a venue's own id (IB conid, Alpaca asset id), then ISIN/FIGI/CUSIP/SEDOL, then an explicit
per-system symbol alias (``BRK.B`` at one broker is ``BRK B`` at another) are looked up, in that order.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from portico.errors import ConfigurationError, PayloadRejected
from portico.models import Instrument

__all__ = ["InstrumentXref", "XrefEntry"]


@dataclass(frozen=True)
class XrefEntry:
    """One cross-reference row: how ``system`` names ``instrument_id``."""

    instrument_id: str
    system: str | None = None
    symbol: str | None = None
    venue_id: str | None = None
    isin: str | None = None
    figi: str | None = None
    cusip: str | None = None
    sedol: str | None = None


class InstrumentXref:
    """Maps what a venue reports about an instrument to the internal instrument id."""

    def __init__(self, entries: Iterable[XrefEntry] = ()) -> None:
        self._by_venue_id: dict[tuple[str, str], str] = {}
        self._by_code: dict[str, str] = {}
        self._by_alias: dict[tuple[str, str], str] = {}
        self._symbol_of: dict[tuple[str, str], str] = {}
        for entry in entries:
            self.add_entry(entry)

    def add_entry(self, entry: XrefEntry) -> None:
        """Register one row. A code or alias already mapped to another instrument is an error."""
        iid = entry.instrument_id
        if entry.system and entry.venue_id:
            self._put(
                self._by_venue_id,
                (entry.system, entry.venue_id),
                iid,
                f"{entry.system} venue id {entry.venue_id}",
            )
        for code in (entry.isin, entry.figi, entry.cusip, entry.sedol):
            if code:
                self._put(self._by_code, code.strip().upper(), iid, f"code {code}")
        if entry.system and entry.symbol:
            symbol = entry.symbol.strip().upper()
            self._put(self._by_alias, (entry.system, symbol), iid, f"{entry.system} symbol {symbol}")
            self._symbol_of.setdefault((entry.system, iid), symbol)

    @staticmethod
    def _put(table: dict, key: object, iid: str, what: str) -> None:  # type: ignore[type-arg]
        existing = table.get(key)
        if existing is not None and existing != iid:
            raise ConfigurationError(
                f"instrument cross-reference: {what} maps to both {existing!r} and {iid!r}"
            )
        table[key] = iid

    def add_instrument(
        self, instrument: Instrument, *, instrument_id: str | None = None, systems: Iterable[str] = ()
    ) -> str:
        """Register an instrument with every identifier it carries; returns its internal id.

        The internal id is ``instrument_id`` when given, else its ISIN, FIGI or CUSIP. Its symbol is
        registered as an alias for each of ``systems`` (the venues that use that ticker).
        """
        iid = instrument_id or instrument.isin or instrument.figi or instrument.cusip
        if not iid:
            raise ConfigurationError(
                f"instrument {instrument.symbol!r} has no ISIN, FIGI or CUSIP: give instrument_id explicitly"
            )
        self.add_entry(
            XrefEntry(
                iid,
                isin=instrument.isin,
                figi=instrument.figi,
                cusip=instrument.cusip,
                sedol=instrument.sedol,
            )
        )
        for system, venue_id in instrument.venue_ids.items():
            self.add_entry(XrefEntry(iid, system=system, venue_id=venue_id))
        for system in systems:
            self.add_entry(XrefEntry(iid, system=system, symbol=instrument.symbol))
        return iid

    def resolve(
        self,
        system: str,
        *,
        venue_id: str | None = None,
        isin: str | None = None,
        symbol: str | None = None,
    ) -> str | None:
        """The internal instrument id for what ``system`` reported, or None when unmapped."""
        if venue_id and (system, venue_id) in self._by_venue_id:
            return self._by_venue_id[(system, venue_id)]
        if isin and isin.strip().upper() in self._by_code:
            return self._by_code[isin.strip().upper()]
        if symbol:
            return self._by_alias.get((system, symbol.strip().upper()))
        return None

    def symbol_for(self, system: str, instrument_id: str) -> str | None:
        """The ticker ``system`` uses for ``instrument_id``, when an alias is registered."""
        return self._symbol_of.get((system, instrument_id))

    @classmethod
    def from_csv(cls, path: str | Path) -> InstrumentXref:
        """Load rows with columns ``instrument_id, system, symbol, venue_id, isin, figi, cusip, sedol``.

        Raises:
            PayloadRejected: a row lacks ``instrument_id`` (names the file and line).
        """
        xref = cls()
        with Path(path).open(newline="", encoding="utf-8") as fh:
            for line, row in enumerate(csv.DictReader(fh), start=2):
                iid = (row.get("instrument_id") or "").strip()
                if not iid:
                    raise PayloadRejected(
                        f"{path}:{line}: instrument_id is empty", field="instrument_id", line=line
                    )
                xref.add_entry(
                    XrefEntry(
                        iid,
                        **{
                            k: (row.get(k) or "").strip() or None
                            for k in ("system", "symbol", "venue_id", "isin", "figi", "cusip", "sedol")
                        },
                    )
                )
        return xref
