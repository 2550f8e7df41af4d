"""Alpha Vantage DIVIDENDS, SPLITS and NEWS_SENTIMENT: the mapping of documented bodies, and the mock's
answers agreeing with its own adjusted series (a split in SPLITS is the split coefficient of the bars)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from portico.connectors.alpha_vantage.mapping import dividends_from_body, news_from_body, splits_from_body
from portico.errors import PayloadRejected
from portico.models import BarInterval, CorporateActionType

DATA = Path(__file__).parent / "data"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_dividends_map_oldest_first_and_skip_rows_without_dates() -> None:
    actions = dividends_from_body(_load("dividends.json"))

    assert [(a.ex_date, a.pay_date, a.cash_amount) for a in actions] == [
        (date(1962, 5, 7), None, Decimal("0.0016")),
        (date(2024, 8, 9), date(2024, 9, 10), Decimal("1.67")),
        (date(2024, 11, 12), date(2024, 12, 10), Decimal("1.67")),
    ]
    latest = actions[-1]
    assert latest.action_type is CorporateActionType.CASH_DIVIDEND
    assert (latest.symbol, latest.currency, latest.declaration_date) == ("IBM", "USD", date(2024, 10, 29))
    assert latest.key == "IBM:cash_dividend:2024-11-12"


def test_splits_map_factor_to_ratio_and_reverse_splits() -> None:
    actions = splits_from_body(_load("splits.json"))
    assert [(a.ex_date, a.ratio_from, a.ratio_to) for a in actions] == [
        (date(2000, 6, 27), 1, 2),
        (date(2021, 7, 20), 1, 4),
        (date(2024, 6, 10), 1, 10),
    ]
    reverse = splits_from_body(
        {"symbol": "XYZ", "data": [{"effective_date": "2023-05-01", "split_factor": "0.1000"}]}
    )
    assert reverse[0].action_type is CorporateActionType.REVERSE_SPLIT
    assert (reverse[0].ratio_from, reverse[0].ratio_to, reverse[0].share_factor) == (10, 1, Decimal("0.1"))


def test_a_malformed_split_row_is_rejected_naming_the_row() -> None:
    with pytest.raises(PayloadRejected, match=r"SPLITS data\[0\]"):
        splits_from_body(
            {"symbol": "XYZ", "data": [{"effective_date": "2023-05-01", "split_factor": "None"}]}
        )
    with pytest.raises(PayloadRejected, match=r"data\[0\]\.ex_dividend_date"):
        dividends_from_body({"symbol": "XYZ", "data": [{"ex_dividend_date": "05/01/2023", "amount": "1"}]})


def test_news_keeps_overall_and_per_ticker_sentiment() -> None:
    (item,) = news_from_body(_load("news_sentiment.json"))

    assert item.headline == "Apple Stock Rises After Services Revenue Beat"
    assert item.published_at == datetime(2024, 1, 5, 18, 30, tzinfo=UTC)  # 13:30 New York
    assert item.symbols == ("AAPL", "MSFT")
    assert item.sentiment == Decimal("0.281233")
    assert item.symbol_sentiment == {"AAPL": Decimal("0.402185"), "MSFT": Decimal("-0.05")}
    assert (item.source, item.provider, item.topics) == ("Benzinga", "alpha_vantage", ("Earnings",))
    assert item.key == "url:https://www.benzinga.com/news/24/01/36500000/apple-stock-rises"


async def test_the_mock_split_is_the_split_coefficient_of_its_adjusted_series(av: Any) -> None:
    # seed 3: find a listed symbol the generator splits, then read both answers from the mock
    connector = av.connector()
    av.mock_clock.set(datetime(2026, 1, 5, 21, 0, tzinfo=UTC))
    av.clock._wall = av.mock_clock.now()
    split_symbol = None
    for listing in av.mock.listings.values():
        actions = av.mock.generator.corporate_actions(listing.symbol, date(2025, 1, 6), date(2026, 1, 5))
        if any(a.kind == "split" for a in actions) and "." not in listing.symbol:
            split_symbol = listing.symbol
            break
    assert split_symbol is not None
    actions = await connector.get_corporate_actions(split_symbol, start=datetime(2025, 1, 6, tzinfo=UTC))
    splits = [a for a in actions if a.action_type is CorporateActionType.SPLIT]
    assert len(splits) == 1 and splits[0].share_factor == 4
    bars = await connector.get_bars(
        split_symbol, BarInterval.DAY, start=datetime(2025, 1, 6, tzinfo=UTC), adjusted=True
    )
    by_day = {b.timestamp.date(): b for b in bars}
    assert by_day[splits[0].ex_date].split_coefficient == 4
    assert {d for d, b in by_day.items() if b.split_coefficient not in (None, 1)} == {splits[0].ex_date}
    dividends = [a for a in actions if a.action_type is CorporateActionType.CASH_DIVIDEND]
    for dividend in dividends:
        if dividend.ex_date in by_day:
            assert by_day[dividend.ex_date].dividend == dividend.cash_amount


async def test_mock_news_is_served_newest_first_within_the_window(av: Any) -> None:
    connector = av.connector()
    end = av.mock_clock.now()
    items = await connector.get_news(["AAPL"], start=end - timedelta(days=2), end=end, limit=50)
    assert items and all(end - timedelta(days=2) <= i.published_at <= end for i in items)
    assert [i.published_at for i in items] == sorted((i.published_at for i in items), reverse=True)
    assert all(i.symbols == ("AAPL",) and i.sentiment is not None for i in items)
