"""ingest_bars: imported daily bars become part of what get_market_data answers, without provider calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from portico.clock import FakeClock
from portico.marketdata import MarketDataService
from portico.models import Bar
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration
from portico.store import Database
from tests.core.marketdata.conftest import RecordingMonitor, Systems

Make = Callable[..., MarketDataService]

# Tuesday 2026-01-06 18:00 New York: the plan's scheduled import time, the day's session closed
AFTER_IMPORT = datetime(2026, 1, 6, 23, 0, tzinfo=UTC)
DAYS = [date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 2), date(2026, 1, 5), date(2026, 1, 6)]


def _to(systems: Systems, when: datetime) -> None:
    systems.advance((when - systems.clock.now()).total_seconds())


def _bar(symbol: str, day: date, close: str, *, source: str | None = "av_primary") -> Bar:
    # stamped like the importer's records: the day at midnight UTC
    price = Decimal(close)
    return Bar(symbol=symbol, timestamp=datetime(day.year, day.month, day.day, tzinfo=UTC), open=price,
               high=price + 1, low=price - 1, close=price, volume=Decimal(1000), currency="USD", source=source)  # fmt: skip


def _held(db: Database) -> int:
    with db.begin() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM marketdata_history")).scalar() or 0)


async def test_ingested_bars_answer_later_requests_without_provider_calls(
    systems: Systems, make_service: Make, monitor: RecordingMonitor
) -> None:
    _to(systems, AFTER_IMPORT)
    service = make_service()
    assert service.ingest_bars([_bar("aapl", d, str(100 + i)) for i, d in enumerate(DAYS)]) == 5
    [event] = monitor.named("market_data.ingested")
    assert (event["stored"], event["replaced"], event["rejected"], event["symbols"]) == (5, 0, 0, ["AAPL"])
    assert event["system"] == "av_primary"
    before = systems.calls("av_primary")

    result = await service.get_market_data("av_primary", ["AAPL"], "bars", {"interval": "1day", "limit": 5})
    assert systems.calls("av_primary") == before
    assert result.cached == {"AAPL"} and result.providers == {"AAPL": "av_primary"}
    assert [b.close for b in result["AAPL"]] == [Decimal(100 + i) for i in range(5)]
    # served as the provider stamps daily bars: the trading day's start in New York
    assert [b.timestamp.astimezone(UTC).hour for b in result["AAPL"]] == [5] * 5
    assert result.quality.series_checked == 1 and result.quality.ok and not result.quality.issues

    window = await service.get_market_data(
        "av_primary", "AAPL", "daily_prices", {"start": "2026-01-02", "end": "2026-01-05T12:00:00Z"}
    )
    assert [b.close for b in window["AAPL"]] == [Decimal(102), Decimal(103)]
    assert systems.calls("av_primary") == before and service.stats()["history_hits"] == 2

    # a window reaching past what was ingested, adjusted series and other systems still go to the provider
    longer = await service.get_market_data("av_primary", ["AAPL"], "bars", {"interval": "1day", "limit": 6})
    assert longer.cached == set() and len(longer["AAPL"]) == 6
    assert systems.calls("av_primary") == before + 1
    await service.get_market_data(
        "av_primary", ["AAPL"], "bars", {"interval": "1day", "limit": 2, "adjusted": True}
    )
    assert systems.calls("av_primary") == before + 2
    await service.get_market_data("av_backup", ["AAPL"], "bars", {"interval": "1day", "limit": 2})
    assert systems.calls("av_backup") == 1


async def test_a_session_still_trading_is_asked_of_the_provider(systems: Systems, make_service: Make) -> None:
    _to(systems, datetime(2026, 1, 6, 15, 0, tzinfo=UTC))  # 10:00 New York, Tuesday's session open
    service = make_service()
    service.ingest_bars([_bar("MSFT", d, "400") for d in DAYS])
    result = await service.get_market_data("av_primary", ["MSFT"], "bars", {"interval": "1day", "limit": 1})
    assert result.cached == set() and systems.calls("av_primary") == 1
    # Monday's bar is complete: a window ending on it is served from the ingested bars
    done = await service.get_market_data(
        "av_primary", ["MSFT"], "bars", {"limit": 2, "end": "2026-01-05T23:00:00Z"}
    )
    assert done.cached == {"MSFT"} and systems.calls("av_primary") == 1


async def test_ingesting_twice_keeps_one_copy_and_a_correction_replaces_it(
    systems: Systems, make_service: Make, monitor: RecordingMonitor, db: Database
) -> None:
    _to(systems, AFTER_IMPORT)
    service = make_service()
    bars = [_bar("GOOGL", d, "150") for d in DAYS[-2:]]
    assert service.ingest_bars(bars) == 2
    assert service.ingest_bars(bars) == 0
    assert _held(db) == 2
    again = monitor.named("market_data.ingested")[-1]
    assert (again["stored"], again["replaced"], again["unchanged"]) == (0, 0, 2)

    params = {"interval": "1day", "limit": 2}
    first = await service.get_market_data("av_primary", ["GOOGL"], "bars", params)
    assert [b.close for b in first["GOOGL"]] == [Decimal(150), Decimal(150)]
    # an answer the provider gave (and the cache keeps) is dropped when a corrected import arrives
    provider = await service.get_market_data(
        "av_primary", ["GOOGL"], "bars", {"interval": "1day", "limit": 3}
    )
    assert provider.cached == set() and systems.calls("av_primary") == 1
    corrected = [_bar("GOOGL", d, "151") for d in DAYS[-3:]]
    assert service.ingest_bars(corrected) == 3  # one new day, two corrected
    assert _held(db) == 3
    fixed = await service.get_market_data("av_primary", ["GOOGL"], "bars", {"interval": "1day", "limit": 3})
    assert fixed.cached == {"GOOGL"} and [b.close for b in fixed["GOOGL"]] == [Decimal(151)] * 3
    assert systems.calls("av_primary") == 1


async def test_quality_checks_run_on_ingested_bars(
    systems: Systems, make_service: Make, monitor: RecordingMonitor
) -> None:
    _to(systems, AFTER_IMPORT)
    service = make_service()
    broken = _bar("IBM", DAYS[-1], "180").model_copy(update={"high": Decimal(170)})
    assert service.ingest_bars([_bar("IBM", d, "180") for d in DAYS[:-1]] + [broken]) == 4
    event = monitor.named("market_data.ingested")[-1]
    assert event["rejected"] == 1 and event["quality"]["ohlc"] >= 1 and event["severity"] == "warning"
    [failed] = monitor.named("market_data.quality_failed")
    assert failed["symbol"] == "IBM" and "ohlc" in failed["checks"]
    # the rejected day is not held, so the request goes to the provider
    result = await service.get_market_data("av_primary", ["IBM"], "bars", {"interval": "1day", "limit": 2})
    assert result.cached == set() and systems.calls("av_primary") == 1


async def test_bars_without_a_system_are_refused(systems: Systems, make_service: Make) -> None:
    import pytest

    from portico.errors import ConfigurationError

    service = make_service()
    with pytest.raises(ConfigurationError, match="names no system"):
        service.ingest_bars([_bar("AAPL", DAYS[0], "10", source=None)])
    assert service.ingest_bars([_bar("AAPL", DAYS[0], "10", source=None)], source="av_primary") == 1


@pytest.mark.known_unclosed_client_session(
    "health checks keep calling Alpha Vantage after the integration stopped, through a client nothing closes"
)
async def test_plan_scheduled_import_feeds_the_market_data_service(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PORTICO_HOME", str(tmp_path))
    clock = FakeClock(AFTER_IMPORT)
    config = {
        "systems": {
            "alpha_vantage": {
                "type": "market_data",
                "mock": True,
                # the mock's clock pinned to the runtime's: Tuesday's session has closed
                "mock_options": {"default_tier": "premium_75", "start": AFTER_IMPORT},
                "connection": {"tier": "premium_75"},
                "authentication": {"type": "api_key", "credentials": {"api_key": "portico-test-key"}},
            }
        },
        "data_import": {
            "scheduled_imports": [
                {
                    "source": "alpha_vantage",
                    "data_type": "daily_prices",
                    "symbols": ["AAPL", "MSFT", "GOOGL"],
                    "schedule": "0 18 * * 1-5",
                    "destination": "market_data_service",
                }
            ]
        },
    }
    async with AsyncIntegration(config, plugins=PluginManager(), clock=clock) as integration:
        await integration.start(schedule=True)
        [job] = [j for j in await integration.list_jobs() if j["kind"] == "import"]
        record = await integration.run_job_now(job["job_id"])
        assert (record["status"], record["loaded"]) == ("loaded", 3)
        journal = integration.systems["alpha_vantage"].mock.app.journal

        def series_calls() -> list[Any]:
            return [e for e in journal.entries() if e.path == "/query" and "TIME_SERIES" in str(e.query)]

        imported = len(series_calls())
        assert imported == 3
        result = await integration.get_market_data(
            "alpha_vantage", ["AAPL", "MSFT", "GOOGL"], "bars", {"interval": "1day", "limit": 1}
        )
        assert len(series_calls()) == imported
        assert result.cached == {"AAPL", "MSFT", "GOOGL"} and not result.errors
        assert {s: [b.timestamp.date() for b in result[s]] for s in result} == {
            s: [date(2026, 1, 6)] for s in ("AAPL", "MSFT", "GOOGL")
        }
        with integration.db.begin() as conn:
            loaded = dict(conn.execute(sa.text("SELECT symbol, close FROM portico_import_prices")).all())
        assert {s: str(result[s][0].close) for s in result} == loaded
