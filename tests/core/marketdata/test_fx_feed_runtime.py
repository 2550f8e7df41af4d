"""The FX feed as the runtime runs it (``market_data.fx_feed``): Bloomberg's mock lacks one pair, the feed
takes it from Refinitiv's mock with one alert; the rates are queryable (through USD where no cross is
kept), exportable, and convert currency in the analytics valuations."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portico.errors import ConfigurationError, NotFound
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration


def _config(**feed: Any) -> dict[str, Any]:
    return {
        "systems": {
            "bloomberg": {
                "type": "data_service",
                "mock": True,
                "mock_options": {"unknown_identifiers": ["USDJPY Curncy"]},
                "connection": {"poll_interval": 0.05},
                "authentication": {
                    "type": "oauth2_client_credentials",
                    "credentials": {"client_id": "portico-mock-client", "client_secret": "portico-mock-secret"},
                },
            },
            "refinitiv": {
                "type": "data_service",
                "mock": True,
                "authentication": {
                    "type": "refinitiv_password",
                    "credentials": {"app_key": "portico-app-key", "username": "portico-user", "password": "portico-password"},
                },
            },
        },
        "market_data": {
            "fx_feed": {"primary": "bloomberg", "fallback": "refinitiv", "pairs": ["EUR/USD", "USD/JPY"],
                        "retry_delay": 0, **feed},
        },
    }  # fmt: skip


async def test_one_cycle_fills_the_missing_pair_from_the_fallback_with_one_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with AsyncIntegration(_config(), plugins=PluginManager()) as integration:
        cycle = await integration.run_fx_feed_cycle()
        assert cycle.from_primary == {("EUR", "USD")}
        assert cycle.from_fallback == {("USD", "JPY")} and not cycle.failed
        assert cycle.primary_attempts == 3  # the missing pair was asked three times before falling back
        alerts = [a for a in integration.monitor.alerts.active() if a.rule == "fx_fallback"]
        assert [(a.system, a.severity) for a in alerts] == [("bloomberg", "warning")]
        assert "USD/JPY" in alerts[0].summary

        eur = await integration.get_fx_rate("EUR", "USD")
        assert (eur.how, eur.sources) == ("direct", ["bloomberg"])
        jpy = await integration.get_fx_rate("USD", "JPY")
        assert (jpy.how, jpy.sources) == ("direct", ["refinitiv"]) and jpy.legs[0].fallback
        # no EUR/JPY is kept: through USD, from both legs
        cross = await integration.get_fx_rate("EUR", "JPY")
        assert (cross.how, cross.via) == ("triangulated", "USD")
        assert cross.rate == eur.rate * jpy.rate
        with pytest.raises(NotFound, match="no GBP/CHF rate"):
            await integration.get_fx_rate("GBP", "CHF")

        # the stored rates convert currency for analytics (no fx_rates import needed)
        data = integration.analytics._data()
        assert data.fx_rate("EUR", "USD", datetime.now(UTC).date()) == eur.rate

        await integration.export_data("fx_feed_rates", "file://fx.csv", {"format": "csv"})
    rows = list(csv.DictReader((tmp_path / "fx.csv").open()))
    assert {(r["base"], r["quote"], r["source"], r["fallback"]) for r in rows} == {
        ("EUR", "USD", "bloomberg", "false"),
        ("USD", "JPY", "refinitiv", "true"),
    }
    assert all(Decimal(r["mid"]) > 0 for r in rows)


async def test_the_stored_rates_survive_a_restart() -> None:
    async with AsyncIntegration(_config(), plugins=PluginManager()) as integration:
        await integration.run_fx_feed_cycle()
        before = (await integration.get_fx_rate("EUR", "USD")).rate
    async with AsyncIntegration(_config(), plugins=PluginManager()) as integration:
        assert (await integration.get_fx_rate("EUR", "USD")).rate == before


async def test_a_feed_naming_a_system_without_get_fx_rates_is_refused() -> None:
    config = _config(primary="refinitiv", fallback="nosuch")
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        with pytest.raises(ConfigurationError, match="market_data.fx_feed.fallback: unknown system 'nosuch'; configured systems: bloomberg, refinitiv"):
            await integration.run_fx_feed_cycle()


def test_pairs_are_validated_at_their_key_path() -> None:
    from portico.marketdata import MarketDataConfig

    with pytest.raises(ValueError, match="'EURUSD' is not a currency pair written BASE/QUOTE"):
        MarketDataConfig.model_validate({"fx_feed": {"primary": "b", "pairs": ["EURUSD"]}})


async def test_the_runtime_runs_the_feed_on_its_schedule_and_stops_it() -> None:
    from portico.testing import wait_for_async

    async with AsyncIntegration(_config(), plugins=PluginManager()) as integration:
        await integration.start(schedule=True)

        async def stored() -> bool:
            return len(integration.fx_rates.export()) == 2

        await wait_for_async(stored, timeout=20, message="the scheduled feed stored no rates")
        task = integration._fx_task
        assert task is not None and not task.done()
    assert task.done() and integration._fx_task is None  # stopping the runtime stopped the feed


async def test_the_portfolio_summary_gives_values_in_the_base_currency_from_the_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "positions.csv").write_text(
        "account,isin,symbol,quantity,price,currency,date\n"
        "CUST-1,US0378331005,AAPL,10,200,USD,2026-01-05\n"
        "CUST-1,DE0007164600,SAP,5,100,EUR,2026-01-05\n"
    )
    config = _config()
    config["data_export"] = {"base_currency": "EUR"}
    async with AsyncIntegration(config, plugins=PluginManager()) as integration:
        assert (await integration.import_data(str(tmp_path / "positions.csv"), "positions")).status == "loaded"
        await integration.run_fx_feed_cycle()
        eur_usd = (await integration.get_fx_rate("EUR", "USD")).rate
        await integration.export_data("portfolio_summary", "file://summary.csv", {"format": "csv"})
    rows = {r["currency"]: r for r in csv.DictReader((tmp_path / "summary.csv").open())}
    # 10 x 200 USD = 2,000 USD, in EUR at the feed's USD/EUR (the inverse of its EUR/USD); 500 EUR stays 500
    assert Decimal(rows["USD"]["market_value_base"]) == pytest.approx(Decimal(2000) / eur_usd)
    assert Decimal(rows["EUR"]["market_value_base"]) == Decimal(500)
    assert {r["base_currency"] for r in rows.values()} == {"EUR"}


def test_the_base_currency_must_be_iso_4217() -> None:
    from portico.jobs import DataExportConfig

    with pytest.raises(ValueError, match="'EURO' is not an ISO 4217 currency code"):
        DataExportConfig.model_validate({"base_currency": "EURO"})
