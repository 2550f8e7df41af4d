"""Stored daily history rescaled for a split, and back when the split is withdrawn: prices before the
ex date divided by the factor, volumes multiplied, later days untouched, in the store and in memory."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portico.clock import FakeClock
from portico.marketdata._history import BarHistory
from portico.store import Database


def _bar(close: str, volume: str) -> dict[str, str]:
    return {"open": close, "high": close, "low": close, "close": close, "volume": volume, "vwap": None}


@pytest.mark.parametrize("stored", [True, False], ids=["store", "memory"])
def test_a_split_rescales_the_days_before_its_ex_date_and_its_inverse_restores_them(stored: bool) -> None:
    db = Database() if stored else None
    try:
        history = BarHistory(db, FakeClock())
        history.store(
            {
                ("av", "XYZ", "1day", "2026-01-02"): _bar("400", "100"),
                ("polygon", "XYZ", "1day", "2026-01-02"): _bar("401", "90"),
                ("av", "XYZ", "1day", "2026-01-05"): _bar("101", "400"),
                ("av", "ABC", "1day", "2026-01-02"): _bar("50", "10"),
            },
            ttl=3600,
        )
        changed = history.rescale("XYZ", date(2026, 1, 5), Decimal(4))
        assert changed == [("av", "XYZ", "1day", "2026-01-02"), ("polygon", "XYZ", "1day", "2026-01-02")]
        held = history.bars("av", "XYZ", "1day", [date(2026, 1, 2), date(2026, 1, 5)])
        assert (
            Decimal(held[date(2026, 1, 2)][1]["close"]),
            Decimal(held[date(2026, 1, 2)][1]["volume"]),
        ) == (100, 400)
        assert held[date(2026, 1, 5)][1]["close"] == "101"  # the ex date itself trades post-split
        assert history.bars("av", "ABC", "1day", [date(2026, 1, 2)])[date(2026, 1, 2)][1]["close"] == "50"

        history.rescale("XYZ", date(2026, 1, 5), Decimal(1) / Decimal(4))
        back = history.bars("polygon", "XYZ", "1day", [date(2026, 1, 2)])[date(2026, 1, 2)][1]
        assert (Decimal(back["close"]), Decimal(back["volume"])) == (401, 90)
    finally:
        if db is not None:
            db.dispose()
