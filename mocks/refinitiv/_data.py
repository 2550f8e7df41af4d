"""The mock's instruments and seeded prices, in LSEG's field names.

Equity RICs (``AAPL.O``, ``VOD.L``) take their prices from the kit's :class:`MarketDataGenerator` under the
RIC's root (``AAPL``), so the mock agrees with every other data mock. FX spot RICs follow LSEG's quoting
convention: ``EUR=`` is EUR/USD (USD per euro) for the currencies quoted against the dollar (EUR, GBP,
AUD, NZD), ``JPY=`` is USD/JPY (yen per dollar) for the rest, and crosses are ``EURGBP=R``. Currencies the
kit's generator does not know get a seeded level and drift of their own, so every ISO 4217 currency
has a spot rate (the FX feed pulls 150+ pairs).
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from portico.mocks._kit import NEW_YORK, MarketDataGenerator, is_trading_day
from portico.models._iso import CURRENCY_CODES

__all__ = [
    "EQUITIES",
    "USD_BASED",
    "Equity",
    "FxRic",
    "PriceBook",
    "parse_fx_ric",
]

USD_BASED = frozenset({"EUR", "GBP", "AUD", "NZD"})
"""Currencies whose ``XXX=`` RIC quotes XXX/USD; every other ``XXX=`` quotes USD/XXX."""

_NOT_SPOT = frozenset(
    {"XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD", "XTS", "XXX"}
)


@dataclass(frozen=True)
class Equity:
    """A listed share the mock knows."""

    ric: str
    name: str
    exchange: str
    currency: str
    country: str
    sector: str
    industry: str


EQUITIES: dict[str, Equity] = {
    e.ric: e
    for e in (
        Equity("AAPL.O", "Apple Inc", "NASDAQ Global Select Consolidated", "USD", "United States of America",
               "Technology", "Phones & Handheld Devices"),
        Equity("MSFT.O", "Microsoft Corp", "NASDAQ Global Select Consolidated", "USD", "United States of America",
               "Technology", "Software"),
        Equity("IBM.N", "International Business Machines Corp", "New York Stock Exchange", "USD",
               "United States of America", "Technology", "IT Services & Consulting"),
        Equity("JPM.N", "JPMorgan Chase & Co", "New York Stock Exchange", "USD", "United States of America",
               "Financials", "Banks"),
        Equity("GS.N", "Goldman Sachs Group Inc", "New York Stock Exchange", "USD", "United States of America",
               "Financials", "Investment Banking & Brokerage Services"),
        Equity("VOD.L", "Vodafone Group PLC", "London Stock Exchange", "GBP", "United Kingdom",
               "Technology", "Wireless Telecommunications Services"),
        Equity("SAPG.DE", "SAP SE", "Xetra", "EUR", "Germany", "Technology", "Software"),
        Equity("7203.T", "Toyota Motor Corp", "Tokyo Stock Exchange", "JPY", "Japan",
               "Consumer Cyclicals", "Automobiles & Multiutility Vehicles"),
    )
}  # fmt: skip
"""Equity RICs the mock serves, by RIC."""

_FX_SINGLE = re.compile(r"^([A-Z]{3})=([A-Z]*)$")
_FX_CROSS = re.compile(r"^([A-Z]{3})([A-Z]{3})=([A-Z]*)$")


@dataclass(frozen=True)
class FxRic:
    """An FX spot RIC resolved to its pair: the rate is units of ``quote`` per one ``base``."""

    ric: str
    base: str
    quote: str


def parse_fx_ric(ric: str) -> FxRic | None:
    """The pair an FX spot RIC quotes (``EUR=`` EUR/USD, ``JPY=`` USD/JPY, ``EURGBP=R``), None otherwise."""
    single = _FX_SINGLE.match(ric)
    if single:
        code = single.group(1)
        if code not in CURRENCY_CODES or code in _NOT_SPOT or code == "USD":
            return None
        return FxRic(ric, code, "USD") if code in USD_BASED else FxRic(ric, "USD", code)
    cross = _FX_CROSS.match(ric)
    if cross:
        base, quote = cross.group(1), cross.group(2)
        if base == quote or {base, quote} & _NOT_SPOT or not {base, quote} <= CURRENCY_CODES:
            return None
        return FxRic(ric, base, quote)
    return None


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def _round(value: float) -> float:
    digits = 6 if value < 10 else 4 if value < 1000 else 2
    return round(value, digits)


class PriceBook:
    """Seeded prices in LSEG field names, for equities and FX spot RICs.

    Args:
        seed: the data seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.generator = MarketDataGenerator(seed)
        self._known = set(MarketDataGenerator.currencies())

    # -- FX --------------------------------------------------------------------------------------

    def _usd_per_unit(self, currency: str, when: datetime) -> float:
        if currency in self._known:
            return self.generator.fx_rate(currency, "USD", when)
        # a level between 0.0001 and 3 dollars, and a seeded daily walk interpolated through the day
        level = 10 ** (-4 + (_digest("level", currency) % 3500) / 1000)
        day = when.astimezone(UTC).date()
        frac = (when - datetime.combine(day, time(0), UTC)).total_seconds() / 86400

        def drift(d: date) -> float:
            return random.Random(_digest(self.seed, currency, d.toordinal())).gauss(0.0, 0.004)

        return level * math.exp(drift(day) + (drift(day + timedelta(days=1)) - drift(day)) * frac)

    def fx_mid(self, pair: FxRic, when: datetime) -> float:
        """Units of ``quote`` per ``base`` at ``when``: the daily path plus a seeded wiggle per second."""
        second = int(when.timestamp())
        wiggle = random.Random(_digest(self.seed, pair.base, pair.quote, second)).gauss(0.0, 0.00008)
        return self._usd_per_unit(pair.base, when) / self._usd_per_unit(pair.quote, when) * (1 + wiggle)

    def fx_quote(self, pair: FxRic, when: datetime) -> tuple[float, float]:
        """(bid, ask) around the mid: a spread of about one basis point."""
        mid = self.fx_mid(pair, when)
        half = mid * (0.00004 + (_digest(self.seed, pair.ric, "spread") % 40) / 1_000_000)
        return _round(mid - half), _round(mid + half)

    def fx_summaries(self, pair: FxRic, stamps: list[datetime], step: timedelta) -> list[dict[str, Any]]:
        """One FX summary per period start in ``stamps``: bid and ask open/high/low/close, and the mid."""
        rows = []
        for start in stamps:
            points = [self.fx_quote(pair, start + step * k / 4) for k in range(5)]
            bids = [p[0] for p in points]
            asks = [p[1] for p in points]
            rows.append(
                {
                    "start": start,
                    "OPEN_BID": bids[0], "BID_HIGH_1": max(bids), "BID_LOW_1": min(bids), "BID": bids[-1],
                    "OPEN_ASK": asks[0], "ASK_HIGH_1": max(asks), "ASK_LOW_1": min(asks), "ASK": asks[-1],
                    "MID_PRICE": _round((bids[-1] + asks[-1]) / 2), "NUM_BIDS": 40 + _digest(pair.ric, start) % 400,
                }
            )  # fmt: skip
        return rows

    # -- equities --------------------------------------------------------------------------------

    @staticmethod
    def root(ric: str) -> str:
        """The generator's symbol for an equity RIC (``AAPL.O`` -> ``AAPL``)."""
        return ric.split(".", 1)[0]

    def equity_summaries(
        self, ric: str, timeframe: str, start: datetime, end: datetime, now: datetime
    ) -> list[dict[str, Any]]:
        """Equity summaries (kit bars) whose period starts in [start, end], cut at ``now``."""
        bars = self.generator.bars(self.root(ric), timeframe, start, end, until=now)
        rows = []
        for bar in bars:
            spread = max(0.01, round(bar.close * 0.0002, 2))
            rows.append(
                {
                    "start": bar.timestamp,
                    "OPEN_PRC": bar.open, "HIGH_1": bar.high, "LOW_1": bar.low, "TRDPRC_1": bar.close,
                    "ACVOL_UNS": bar.volume, "VWAP": bar.vwap, "NUM_MOVES": bar.trade_count,
                    "BID": round(bar.close - spread, 2), "ASK": round(bar.close + spread, 2),
                }
            )  # fmt: skip
        return rows

    def equity_snapshot(self, equity: Equity, now: datetime) -> dict[str, Any]:
        """A snapshot's ``Fields`` for an equity: the standing quote, the last print, today's range."""
        root = self.root(equity.ric)
        quote = self.generator.quote(root, now)
        trade = self.generator.trade(root, now)
        local = now.astimezone(NEW_YORK).date()
        day = local
        while not is_trading_day(day):
            day -= timedelta(days=1)
        today = self.generator.daily_bar(root, day)
        previous_day = day - timedelta(days=1)
        while not is_trading_day(previous_day):
            previous_day -= timedelta(days=1)
        previous = self.generator.daily_bar(root, previous_day)
        close = previous.close if previous else trade.price
        fields: dict[str, Any] = {
            "DSPLY_NAME": equity.name.upper()[:16],
            "CURRENCY": equity.currency,
            "BID": quote.bid_price, "BIDSIZE": quote.bid_size, "ASK": quote.ask_price, "ASKSIZE": quote.ask_size,
            "TRDPRC_1": trade.price, "TRDVOL_1": trade.size, "HST_CLOSE": close,
            "NETCHNG_1": round(trade.price - close, 4), "PCTCHNG": round((trade.price / close - 1) * 100, 4),
            "OPEN_PRC": today.open if today else None, "HIGH_1": today.high if today else None,
            "LOW_1": today.low if today else None, "ACVOL_1": today.volume if today else None,
            "TRADE_DATE": day.isoformat(), "QUOTIM": quote.timestamp.strftime("%H:%M:%S"),
            "QUOTE_DATE": quote.timestamp.date().isoformat(),
            "TRDTIM_1": trade.timestamp.strftime("%H:%M:%S"), "VALUE_TS1": trade.timestamp.strftime("%H:%M:%S"),
            "VALUE_DT1": trade.timestamp.date().isoformat(),
        }  # fmt: skip
        return fields

    def fx_snapshot(self, pair: FxRic, now: datetime) -> dict[str, Any]:
        """A snapshot's ``Fields`` for an FX spot RIC."""
        bid, ask = self.fx_quote(pair, now)
        day_start = datetime.combine(now.astimezone(UTC).date(), time(0), UTC)
        open_bid, _ = self.fx_quote(pair, day_start)
        previous_bid, _ = self.fx_quote(pair, day_start - timedelta(seconds=1))
        return {
            "DSPLY_NAME": f"{pair.base}/{pair.quote}",
            "CURRENCY": pair.quote,
            "BID": bid, "ASK": ask, "OPEN_BID": open_bid, "HST_CLOSE": previous_bid,
            "NETCHNG_1": _round(bid - previous_bid), "PCTCHNG": round((bid / previous_bid - 1) * 100, 4),
            "QUOTIM": now.strftime("%H:%M:%S"), "VALUE_TS1": now.strftime("%H:%M:%S"),
            "VALUE_DT1": now.date().isoformat(), "QUOTE_DATE": now.date().isoformat(),
        }  # fmt: skip

    def reference(self, equity: Equity, now: datetime) -> dict[str, Any]:
        """Reference and fundamental values by TR field name, consistent with the price at ``now``."""
        figures = self.generator.fundamentals(self.root(equity.ric), now)
        price = self.generator.price(self.root(equity.ric), now)
        return {
            "TR.COMMONNAME": equity.name,
            "TR.EXCHANGENAME": equity.exchange,
            "TR.HEADQUARTERSCOUNTRY": equity.country,
            "TR.TRBCECONOMICSECTOR": equity.sector,
            "TR.TRBCINDUSTRY": equity.industry,
            "TR.PRICECLOSE": round(price, 2),
            "TR.PRICECLOSE.CURRENCY": equity.currency,
            "TR.COMPANYMARKETCAP": figures["market_capitalization"],
            "TR.SHARESOUTSTANDING": figures["shares_outstanding"],
            "TR.EPSACTVALUE": figures["eps"],
            "TR.PE": figures["pe_ratio"],
            "TR.DIVIDENDYIELD": round(float(str(figures["dividend_yield"])) * 100, 4),
            "TR.BETA": figures["beta"],
            "TR.REVENUE": figures["revenue"],
            "TR.ISIN": "US" + str(_digest("isin", equity.ric) % 10**10).zfill(10),
        }
