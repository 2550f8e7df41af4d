"""The seeded market data generator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from portico.mocks import MarketDataGenerator, session_bounds


def test_deterministic_whatever_the_order_of_calls() -> None:
    a, b = MarketDataGenerator(5), MarketDataGenerator(5)
    when = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    b.price("AAPL", datetime(2020, 1, 2, 15, tzinfo=UTC))  # extends the walk far back first
    assert a.price("AAPL", when) == b.price("AAPL", when)
    assert MarketDataGenerator(6).price("AAPL", when) != a.price("AAPL", when)


def test_bars_are_consistent() -> None:
    gen = MarketDataGenerator(1)
    day = date(2026, 2, 3)
    minutes = gen.minute_bars("MSFT", day)
    assert len(minutes) == 390
    for bar in minutes:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
    daily = gen.daily_bar("MSFT", day)
    assert daily is not None
    assert (daily.open, daily.close) == (minutes[0].open, minutes[-1].close)
    assert daily.high == max(b.high for b in minutes) and daily.volume == sum(b.volume for b in minutes)
    # the traded price at the close is the daily close
    assert gen.price("MSFT", session_bounds(day)[1]) == daily.close
    five = gen.bars("MSFT", "5min", *session_bounds(day))
    assert len(five) == 78 and five[0].high == max(b.high for b in minutes[:5])
    assert gen.daily_bar("MSFT", date(2026, 2, 7)) is None  # a Saturday


def test_bars_stop_at_the_simulated_now() -> None:
    gen = MarketDataGenerator(1)
    open_, _ = session_bounds(date(2026, 2, 3))
    now = open_ + timedelta(minutes=30, seconds=20)
    bars = gen.bars("AAPL", "1min", open_ - timedelta(days=1), now + timedelta(days=3), until=now)
    assert bars[-1].timestamp == open_ + timedelta(minutes=30)


def test_quotes_straddle_the_price_and_splits_adjust() -> None:
    gen = MarketDataGenerator(2)
    when = datetime(2026, 2, 3, 16, 0, 5, tzinfo=UTC)
    quote, price = gen.quote("NVDA", when), gen.price("NVDA", when)
    assert quote.bid_price < price < quote.ask_price
    split_symbols = [s for s in ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III", "JJJ", "KKK") if gen._splits(s)]
    assert split_symbols
    symbol = split_symbols[0]
    split = gen.corporate_actions(symbol, date(2020, 1, 1), date(2027, 1, 1))
    ex = next(a.ex_date for a in split if a.kind == "split")
    before = session_bounds(ex - timedelta(days=7))[1]
    assert gen.price(symbol, before) > 3 * gen.price(symbol, before, adjusted=True)


def test_fx_and_fundamentals() -> None:
    gen = MarketDataGenerator(0)
    when = datetime(2026, 1, 5, tzinfo=UTC)
    eur_usd = gen.fx_rate("EUR", "USD", when)
    assert 0.8 < eur_usd < 1.4
    assert abs(gen.fx_rate("USD", "EUR", when) * eur_usd - 1) < 1e-5
    assert len(gen.fx_bars("EUR", "USD", date(2026, 1, 5), date(2026, 1, 11))) == 5
    fundamentals = gen.fundamentals("IBM", when)
    assert fundamentals["symbol"] == "IBM" and fundamentals["pe_ratio"] > 0


def test_spot_many_prices_a_book_as_spot_prices_each_symbol() -> None:
    gen, alone = MarketDataGenerator(3), MarketDataGenerator(3)
    symbols = ("AAPL", "MSFT", "TSLA", "SPY")
    # before the open, inside the session (between two minutes), at the close, after it, on a Saturday
    for when in (
        datetime(2026, 3, 2, 13, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 15, 7, 31, 250_000, tzinfo=UTC),
        datetime(2026, 3, 2, 21, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 23, 30, tzinfo=UTC),
        datetime(2026, 3, 7, 16, 0, tzinfo=UTC),
    ):
        many = gen.spot_many(symbols, when)
        assert many == tuple(alone.spot(s, when) for s in symbols)
        assert all(round(price, 2) == price > 0 for price in many)
    assert gen.spot_many((), datetime(2026, 3, 2, 15, tzinfo=UTC)) == ()
