"""Imported price history follows the corporate actions applied to it: a prices file loaded to the
market data service, then a split from a corporate actions file, its correction, a repeat and its
cancellation. Days before the ex date are divided by the factor (volumes multiplied), the ex date and
later stay as imported, a repeat changes nothing and a cancellation restores the imported values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from portico.clock import FakeClock
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration

PRICES = (
    "symbol,date,close,open,high,low,volume,currency,source\n"
    "XYZ,2026-01-01,400,396,404,392,1000,USD,vendor\n"
    "XYZ,2026-01-02,408,400,410,398,1200,USD,vendor\n"
    "XYZ,2026-01-05,103,102,104,101,4400,USD,vendor\n"
)
DAYS = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 5)]


async def test_a_split_its_correction_a_repeat_and_its_cancellation_on_imported_history(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime(2026, 1, 6, 15, 0, tzinfo=UTC))
    config = {"systems": {}, "market_data": {"cache": {"historical_ttl": 400 * 86400}}}
    async with AsyncIntegration(config, plugins=PluginManager(), clock=clock) as integration:
        history = integration.market_data.history
        assert history is not None

        def held() -> list[tuple[Decimal, Decimal, Decimal]]:
            rows = history.bars("vendor", "XYZ", "1day", DAYS)
            return [
                (Decimal(rows[d][1]["close"]), Decimal(rows[d][1]["high"]), Decimal(rows[d][1]["volume"]))
                for d in DAYS
            ]

        prices = tmp_path / "prices.csv"
        prices.write_text(PRICES)
        result = await integration.import_data(str(prices), "prices", {"destination": "market_data_service"})
        assert (result.status, result.loaded) == ("loaded", 3)
        imported = held()
        assert imported == [(400, 404, 1000), (408, 410, 1200), (103, 104, 4400)]

        async def load(name: str, body: str) -> None:
            path = tmp_path / name
            path.write_text("symbol,action_type,ex_date,ratio_from,ratio_to,status\n" + body)
            loaded = await integration.import_data(
                str(path), "corporate_actions", {"destination": "trading_book"}
            )
            assert loaded.status == "loaded", loaded

        await load("split.csv", "XYZ,split,2026-01-05,1,4,active\n")
        assert held() == [(100, 101, 4000), (102, 102.5, 4800), (103, 104, 4400)]

        # the same split from another file (a second provider, a re-run): nothing moves again
        await load("again.csv", "XYZ,split,2026-01-05,1,4,active\n")
        assert held() == [(100, 101, 4000), (102, 102.5, 4800), (103, 104, 4400)]

        # the provider corrects the ratio under the same key: undone, then applied at 1:2
        await load("corrected.csv", "XYZ,split,2026-01-05,1,2,active\n")
        assert held() == [(200, 202, 2000), (204, 205, 2400), (103, 104, 4400)]

        # and withdraws it: the history is as imported
        await load("cancelled.csv", "XYZ,split,2026-01-05,1,2,cancelled\n")
        assert held() == imported
