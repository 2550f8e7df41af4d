"""Reference and event data as importable record types: connector imports of corporate actions and news
(news deduplicated across providers by URL), file imports of cash movements and alternative data, and
their exports."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portico.clock import FakeClock
from portico.jobs import JobService
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration

NOW = datetime(2025, 9, 15, 15, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).parents[3] / "examples" / "alternative_data" / "social_sentiment.csv"


def _config(exports: Path) -> dict[str, Any]:
    mock_clock = {"start": NOW, "realtime": False}
    return {
        "data_export": {"allowed_roots": [str(exports)]},
        "systems": {
            "alpaca": {
                "type": "brokerage",
                "connector": "alpaca",
                "mock": True,
                "mock_seed": 0,
                "mock_options": mock_clock,
                "authentication": {
                    "type": "api_key_pair",
                    "credentials": {"api_key_id": "PKTEST", "api_secret_key": "secret"},
                },
            },
            "av": {
                "type": "market_data",
                "connector": "alpha_vantage",
                "mock": True,
                "mock_seed": 0,
                "mock_options": {**mock_clock, "key_tiers": {"av-key": "premium_75"}},
                "connection": {"tier": "premium_75"},
                "authentication": {"type": "api_key", "credentials": {"api_key": "av-key"}},
            },
        },
    }


async def test_news_from_two_providers_is_stored_once_and_corporate_actions_export(tmp_path: Path) -> None:
    async with AsyncIntegration(
        _config(tmp_path), plugins=PluginManager(), clock=FakeClock(NOW)
    ) as integration:
        window = {
            "symbols": ["AAPL"],
            "start": "2025-09-13T00:00:00+00:00",
            "end": NOW.isoformat(),
            "limit": 50,
        }
        first = await integration.import_data("av", "news", window)
        # two seeded articles a day: the 13th, the 14th, and the 15th's published before 15:00
        assert first.status == "loaded" and first.loaded >= 4 and first.rejected == 0
        second = await integration.import_data("alpaca", "news", window)
        # the same stories, by URL: none loaded again, none failed
        assert (second.status, second.loaded, second.control_totals) == (
            "duplicate",
            0,
            {"already_stored": first.loaded},
        )

        # the facade serves the same articles as a market data type
        served = await integration.get_market_data(
            "av", ["AAPL"], "news", {"start": datetime(2025, 9, 13, tzinfo=UTC), "end": NOW, "limit": 50}
        )
        assert len(served.data["AAPL"]) == first.loaded

        fundamentals = await integration.import_data("av", "fundamentals", {"symbols": ["IBM"]})
        assert fundamentals.status == "loaded" and fundamentals.rejected == 0 and fundamentals.loaded > 100
        out_f = tmp_path / "fundamentals.csv"
        await integration.export_data("fundamentals", f"file://{out_f}", {"format": "csv"})
        rows_f = list(csv.DictReader(out_f.open()))
        statements = {r["statement"] for r in rows_f}
        assert statements == {"profile", "income", "balance", "cash_flow", "earnings"}
        assert any(r["item"] == "estimatedEPS" and r["period"] == "quarterly" for r in rows_f)

        actions = await integration.import_data(
            "av", "corporate_actions", {"symbols": ["META"], "start": "2025-05-01T00:00:00+00:00"}
        )
        assert actions.status == "loaded" and actions.rejected == 0
        out = tmp_path / "actions.csv"
        await integration.export_data("corporate_actions", f"file://{out}", {"format": "csv"})
        rows = list(csv.DictReader(out.open()))
        split = [r for r in rows if r["action_type"] == "split"]
        assert [(r["symbol"], r["ex_date"], r["ratio_from"], r["ratio_to"]) for r in split] == [
            ("META", "2025-06-11", "1", "4")
        ]
        dividends = {r["ex_date"]: r["cash_amount"] for r in rows if r["action_type"] == "cash_dividend"}
        assert dividends["2025-08-31"] == "1.68"


def test_cash_movements_file_rejects_an_unknown_type_with_its_line(
    tmp_path: Path, service: JobService
) -> None:
    path = tmp_path / "movements.csv"
    path.write_text(
        "movement_id,account,date,type,amount,currency,symbol\n"
        "m1,A1,2025-09-14,dividend,67.20,USD,META\n"
        "m2,A1,2025-09-15,deposit,1000,USD,\n"
        "m3,A1,2025-09-15,bonus,5,USD,\n"
    )
    result = service.importer.import_file(path, "cash_movements")
    assert (result.loaded, result.rejected) == (2, 1)
    (reject,) = result.rejects
    assert (reject["line"], reject["field"]) == (4, "type")
    assert "'bonus' is not one of deposit, dividend" in reject["reason"]


def test_the_alternative_data_example_loads_as_a_time_series(service: JobService) -> None:
    result = service.importer.import_file(EXAMPLE, "time_series")
    assert (result.status, result.loaded, result.rejected) == ("loaded", 6, 0)
    again = service.importer.import_file(EXAMPLE, "alternative_data")
    assert again.status == "duplicate" and again.loaded == 0


def test_a_naive_timestamp_in_a_series_is_rejected(tmp_path: Path, service: JobService) -> None:
    path = tmp_path / "series.csv"
    path.write_text("series_id,timestamp,value\ns1,2026-01-05T21:00:00,0.4\ns1,2026-01-06T21:00:00Z,0.5\n")
    result = service.importer.import_file(path, "time_series")
    assert (result.loaded, result.rejected) == (1, 1)
    assert (result.rejects[0]["line"], result.rejects[0]["field"]) == (2, "timestamp")
    assert "has no UTC offset" in result.rejects[0]["reason"]


def test_the_cli_imports_corporate_actions_and_exports_news(tmp_path: Path, monkeypatch: Any) -> None:
    from click.testing import CliRunner

    from portico.cli import cli

    monkeypatch.chdir(tmp_path)  # exports are confined to the working directory by default
    actions = tmp_path / "actions.csv"
    actions.write_text(
        "symbol,action_type,ex_date,pay_date,cash_amount,currency,ratio_from,ratio_to\n"
        "IBM,cash_dividend,2024-11-12,2024-12-10,1.67,USD,,\n"
        "NVDA,split,2024-06-10,,,,1,10\n"
        "NVDA,split,2024-06-11,,,,1,\n"
    )
    runner = CliRunner()
    result = runner.invoke(
        cli, ["import", str(actions), "--type", "corporate_actions"], catch_exceptions=False
    )
    assert result.exit_code == 3, result.output  # two loaded, one rejected
    assert "loaded 2  rejected 1" in result.output
    assert "a split needs ratio_from and ratio_to" in result.output
    news = tmp_path / "news.csv"
    news.write_text(
        "news_id,published_at,headline,url,symbols,sentiment\n"
        "n1,2024-01-05T18:30:00+00:00,Apple rises,https://example.com/a,AAPL,0.28\n"
    )
    result = runner.invoke(cli, ["import", str(news), "--type", "news"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = tmp_path / "news-out.csv"
    result = runner.invoke(
        cli, ["export", "--type", "news", "--format", "csv", "--destination", f"file://{out}",
              "--columns", "news_id,headline,sentiment"], catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text() == "news_id,headline,sentiment\nn1,Apple rises,0.28\n"


async def test_a_corporate_actions_file_loaded_into_the_trading_book_splits_the_book(tmp_path: Path) -> None:
    from decimal import Decimal

    from portico.trading._repository import unmapped_instrument_id

    clock = FakeClock(datetime(2026, 1, 6, 15, 0, tzinfo=UTC))
    async with AsyncIntegration({"systems": {}}, plugins=PluginManager(), clock=clock) as integration:
        trading = integration.trading
        trading.repo.set_book_position(
            book="internal", system="broker", account_id="A1", instrument_id=unmapped_instrument_id("broker", "XYZ"),
            quantity=Decimal(10), average_cost=Decimal(40), currency="USD", symbol="XYZ", now=clock.now(),
        )  # fmt: skip
        path = tmp_path / "actions.csv"
        path.write_text("symbol,action_type,ex_date,ratio_from,ratio_to\nXYZ,split,2026-01-05,1,4\n")
        result = await integration.import_data(
            str(path), "corporate_actions", {"destination": "trading_book"}
        )
        assert (result.status, result.loaded) == ("loaded", 1)
        (position,) = trading.reconciler().book.positions("broker")
        assert (position.quantity, position.average_cost) == (40, 10)
        # the same file again is a duplicate delivery; another file with the same split changes nothing
        again = tmp_path / "again.csv"
        again.write_text(
            "symbol,action_type,ex_date,ratio_from,ratio_to,source\nXYZ,split,2026-01-05,1,4,vendor2\n"
        )
        await integration.import_data(str(again), "corporate_actions", {"destination": "trading_book"})
        assert trading.reconciler().book.positions("broker")[0].quantity == 40
        # a plain store import keeps the records without touching the book
        other = tmp_path / "other.csv"
        other.write_text("symbol,action_type,ex_date,ratio_from,ratio_to\nXYZ,split,2026-01-06,1,2\n")
        await integration.import_data(str(other), "corporate_actions")
        assert trading.reconciler().book.positions("broker")[0].quantity == 40
