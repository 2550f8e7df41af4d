"""get_market_data: canonical models, frames, batching, cache, and provider fallback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import polars as pl
import pytest

from portico.errors import ConfigurationError, RateLimited, ServerError
from portico.marketdata import MarketDataConfig, MarketDataService
from portico.models import Bar, BarInterval, Quote
from portico.sdk import (
    Capability,
    CapabilitySet,
    Connector,
    ConnectorContext,
    ConnectorSpec,
    Environment,
    Support,
)
from tests.core.marketdata.conftest import RecordingMonitor, Systems

Make = Callable[..., MarketDataService]


async def test_bars_as_models_and_frames(systems: Systems, make_service: Make) -> None:
    service = make_service()
    result = await service.get_market_data(
        "av_primary", ["IBM", "AAPL"], "bars", {"interval": "1day", "limit": 30}
    )
    assert result.served_by == "av_primary" and not result.fallback_used and result.ok
    assert set(result) == {"IBM", "AAPL"} and all(len(result[s]) == 30 for s in result)
    assert all(isinstance(b, Bar) for b in result["IBM"])
    assert result.quality.series_checked == 2

    frame = result.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 60
    assert {"symbol", "timestamp", "open", "high", "low", "close", "volume", "provider"} <= set(frame.columns)
    assert frame["close"].dtype == float and set(frame["provider"]) == {"av_primary"}
    polars_frame = result.to_polars()
    assert isinstance(polars_frame, pl.DataFrame) and polars_frame.height == 60


async def test_aliases_and_other_types(systems: Systems, make_service: Make) -> None:
    service = make_service()
    daily = await service.get_market_data("av_primary", "MSFT", "daily_prices", {"limit": 5})
    assert [b.interval for b in daily["MSFT"]] == [BarInterval.DAY] * 5
    quotes = await service.get_market_data("av_primary", ["IBM"], "latest_quote")
    assert isinstance(quotes["IBM"], Quote) and quotes["IBM"].last_price
    rate = await service.get_market_data("av_primary", ["EUR/USD"], "fx_rate")
    assert rate["EUR/USD"].base == "EUR"
    series = await service.get_market_data("av_primary", ["EURUSD"], "fx_series", {"limit": 10})
    assert len(series["EURUSD"]) == 10
    found = await service.get_market_data("av_primary", "Boeing", "search")
    assert found["Boeing"][0].symbol == "BA"
    fundamentals = await service.get_market_data("av_primary", "IBM", "fundamentals", {"statements": True})
    assert fundamentals["IBM"].income_statements
    assert fundamentals.to_pandas().loc[0, "symbol"] == "IBM"


async def test_bad_requests_name_the_problem(make_service: Make) -> None:
    service = make_service()
    with pytest.raises(ConfigurationError, match="unknown market data type 'candles'"):
        await service.get_market_data("av_primary", ["IBM"], "candles")
    with pytest.raises(ConfigurationError, match=r"unknown parameter\(s\) \['colour'\]"):
        await service.get_market_data("av_primary", ["IBM"], "bars", {"colour": "red"})
    with pytest.raises(ConfigurationError, match="interval '2day'"):
        await service.get_market_data("av_primary", ["IBM"], "bars", {"interval": "2day"})
    with pytest.raises(ConfigurationError, match="no connected system 'nope'"):
        await service.get_market_data("nope", ["IBM"], "bars", {"fallback": False})
    with pytest.raises(Exception, match="lists itself"):
        MarketDataConfig.model_validate({"fallback": {"a": ["a"]}})


async def test_cache_spares_the_quota_inside_its_window(
    systems: Systems, make_service: Make, db: Any
) -> None:
    service = make_service(cache={"ttl": {"bars": 120}})
    params = {"interval": "1day", "limit": 10}
    first = await service.get_market_data("av_primary", ["IBM", "MSFT"], "bars", params)
    assert systems.calls("av_primary") == 2
    again = await service.get_market_data("av_primary", ["IBM", "MSFT"], "bars", params)
    assert systems.calls("av_primary") == 2 and again.cached == {"IBM", "MSFT"}
    assert again["IBM"] == first["IBM"] and again.providers == first.providers
    assert service.counters["cache_hits"] == 2

    # a new service on the same store (another process, a restart) reuses it too
    other = MarketDataService(systems.connectors, db=db, clock=systems.clock)
    await other.get_market_data("av_primary", ["IBM"], "bars", params)
    assert systems.calls("av_primary") == 2

    # other parameters, a bypass, and expiry all go to the provider
    await service.get_market_data("av_primary", ["IBM"], "bars", {"interval": "1day", "limit": 11})
    await service.get_market_data("av_primary", ["IBM"], "bars", {**params, "cache": False})
    assert systems.calls("av_primary") == 4
    systems.advance(121)
    await service.get_market_data("av_primary", ["IBM"], "bars", params)
    assert systems.calls("av_primary") == 5


async def test_fallback_when_the_primary_fails(
    systems: Systems, make_service: Make, monitor: RecordingMonitor
) -> None:
    systems.primary.mock.faults.extend([{"kind": "http_500"}])
    service = make_service()
    result = await service.get_market_data("av_primary", ["IBM", "AAPL"], "bars", {"limit": 5})
    assert result.providers == {"IBM": "av_backup", "AAPL": "av_backup"} and result.fallback_used
    assert result.served_by == "av_backup" and result.ok
    (attempt,) = result.attempts
    assert (
        attempt.system == "av_primary"
        and attempt.reason == "error"
        and set(attempt.symbols) == {"IBM", "AAPL"}
    )
    (event,) = monitor.named("marketdata.fallback")
    assert event["from_system"] == "av_primary" and event["to_system"] == "av_backup"
    assert (
        event["reason"] == "error"
        and event["severity"] == "warning"
        and sorted(event["symbols"]) == ["AAPL", "IBM"]
    )
    assert service.counters["fallbacks"] == 1
    # the answer is cached under the asked system: asking again spends neither provider's quota
    backup_calls = systems.calls("av_backup")
    again = await service.get_market_data("av_primary", ["IBM", "AAPL"], "bars", {"limit": 5})
    assert again.providers["IBM"] == "av_backup" and systems.calls("av_backup") == backup_calls


async def test_fallback_when_throttled_past_the_budget(
    systems: Systems, make_service: Make, monitor: RecordingMonitor
) -> None:
    systems.primary.mock.faults.extend([{"kind": "information", "function": "GLOBAL_QUOTE"}])
    service = make_service()
    result = await service.get_market_data("av_primary", ["IBM"], "latest_quote")
    assert result.providers == {"IBM": "av_backup"}
    assert result.attempts[0].reason == "throttled"
    assert monitor.named("marketdata.fallback")[0]["reason"] == "throttled"


async def test_fallback_when_the_primary_is_stale(
    systems: Systems, make_service: Make, monitor: RecordingMonitor
) -> None:
    systems.primary.mock.faults.extend([{"kind": "stale", "seconds": 6 * 86400}])
    service = make_service()
    result = await service.get_market_data("av_primary", ["IBM"], "bars", {"limit": 20})
    assert result.providers == {"IBM": "av_backup"} and result.attempts[0].reason == "stale"
    assert monitor.named("marketdata.fallback")[0]["reason"] == "stale"
    assert not result.quality.stale_symbols()


async def test_stale_data_is_served_when_no_provider_is_fresher(systems: Systems, make_service: Make) -> None:
    systems.primary.mock.faults.extend([{"kind": "stale", "seconds": 6 * 86400}])
    service = make_service(fallback={})
    result = await service.get_market_data("av_primary", ["IBM"], "bars", {"limit": 20})
    assert result.providers == {"IBM": "av_primary"} and result.quality.stale_symbols() == {"IBM"}
    assert service.counters["quality.stale"] == 1


async def test_when_every_provider_fails(systems: Systems, make_service: Make) -> None:
    systems.primary.mock.faults.extend([{"kind": "http_503"}])
    systems.backup.mock.faults.extend([{"kind": "note"}])
    service = make_service()
    with pytest.raises(ServerError):
        await service.get_market_data("av_primary", ["IBM"], "bars", {"limit": 5})
    # one symbol unknown everywhere, one fine: a partial answer naming the failure
    systems.primary.mock.faults.clear()
    result = await service.get_market_data("av_primary", ["IBM", "NOSUCH"], "bars", {"limit": 5})
    assert set(result.data) == {"IBM"} and "NOSUCH" in result.errors and not result.ok
    with pytest.raises(Exception, match="Invalid API call"):
        result.raise_for_errors()


async def test_fallback_can_be_switched_off_per_call(systems: Systems, make_service: Make) -> None:
    systems.primary.mock.faults.extend([{"kind": "information"}])
    service = make_service()
    with pytest.raises(RateLimited):
        await service.get_market_data("av_primary", ["IBM"], "bars", {"limit": 5, "fallback": False})


class _Batching(Connector):
    spec = ConnectorSpec(
        name="batching",
        display_name="Batching",
        kinds=("market_data",),  # type: ignore[arg-type]
        environments=(Environment(name="test", urls={"base": "http://unused"}),),
        capabilities=CapabilitySet(
            operations={Capability.GET_LATEST_QUOTES: Support.SUPPORTED}, max_symbols_per_request=2
        ),
    )
    batches: list[list[str]]

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        self.batches.append(list(symbols))
        now = self.context.clock.now()
        return {
            s: Quote(symbol=s, timestamp=now, bid_price=Decimal(1), ask_price=Decimal(2)) for s in symbols
        }


async def test_symbols_are_batched_by_the_connectors_limit(fake_clock: Any) -> None:
    connector = _Batching(ConnectorContext.for_testing(_Batching, clock=fake_clock))
    connector.batches = []
    service = MarketDataService({"b": connector}, clock=fake_clock)
    result = await service.get_market_data("b", ["A", "B", "C", "D", "E"], "latest_quote")
    assert connector.batches == [["A", "B"], ["C", "D"], ["E"]]
    assert set(result) == {"A", "B", "C", "D", "E"}


async def test_intraday_bars_and_quality_counts_reach_the_monitor(
    systems: Systems, make_service: Make, monitor: RecordingMonitor
) -> None:
    service = make_service()
    systems.advance(timedelta(hours=2).total_seconds())
    result = await service.get_market_data("av_primary", ["IBM"], "bars", {"interval": "5min", "limit": 50})
    assert len(result["IBM"]) == 50 and result.quality.series_checked == 1
    # the mock keeps the NYSE calendar, so its daily series has no off-calendar bar
    daily = await service.get_market_data("av_primary", ["IBM"], "bars", {"interval": "1day", "limit": 60})
    assert "off_calendar" not in daily.quality.counts
    # a stale answer from the primary is caught by the quality checks: the backup serves, the
    # fallback is counted, and the monitor hears about it
    systems.primary.mock.faults.extend([{"kind": "stale", "function": "TIME_SERIES_DAILY", "times": 1, "seconds": 10 * 86400}])
    stale = await service.get_market_data("av_primary", ["MSFT"], "bars", {"interval": "1day", "limit": 60})
    assert stale.providers == {"MSFT": "av_backup"} and not stale.quality.counts
    assert service.counters["fallbacks"] == 1
    assert monitor.named("marketdata.fallback")


async def test_the_monitor_hears_updates_and_quality_verdicts(
    systems: Systems, make_service: Make, monitor: RecordingMonitor
) -> None:
    systems.primary.mock.faults.extend(
        [{"kind": "stale", "seconds": 6 * 86400, "function": "TIME_SERIES_DAILY"}]
    )
    service = make_service(fallback={})
    await service.get_market_data("av_primary", ["IBM"], "bars", {"limit": 10})
    (failed,) = monitor.named("market_data.quality_failed")
    assert failed["symbol"] == "IBM" and failed["system"] == "av_primary" and "stale" in failed["checks"]
    systems.primary.mock.faults.clear()
    await service.get_market_data("av_primary", ["IBM"], "bars", {"limit": 10, "cache": False})
    assert [e["symbol"] for e in monitor.named("market_data.quality_ok")] == ["IBM"]
    assert len(monitor.named("market_data.update")) == 2


def test_config_problems_name_their_key_path() -> None:
    from portico.config import load_config

    with pytest.raises(ConfigurationError) as info:
        load_config(
            {
                "systems": {},
                "market_data": {"cache": {"ttl": {"bars": -1}}, "subscriptions": {"overflow": "x"}},
            }
        )
    paths = [path for path, _ in info.value.problems]
    assert "market_data.cache.ttl" in paths and "market_data.subscriptions.overflow" in paths


async def test_fallback_only_for_the_configured_reasons(systems: Systems, make_service: Make) -> None:
    systems.primary.mock.faults.extend([{"kind": "http_500"}])
    service = make_service(fallback_on=["throttled"])
    with pytest.raises(ServerError):
        await service.get_market_data("av_primary", ["IBM"], "bars", {"limit": 5})
    assert systems.calls("av_backup") == 0
