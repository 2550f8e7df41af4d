"""What the Bloomberg mock knows: securities by identifier, the field mnemonics it serves, and the output
rows of a DataRequest or HistoryRequest built from the kit's seeded market data.

Securities are the kit generator's equities (``AAPL US Equity``, or by ISIN, CUSIP or FIGI for the few
listed in :data:`EQUITY_IDS`) and its currencies as spot crosses (``EURUSD Curncy``). A universe member
that cannot be resolved gets a row with return code ``RC`` 10 and no values, as Data License answers an
unknown security.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from portico.mocks._kit import NEW_YORK, BarData, MarketDataGenerator

__all__ = [
    "DATA_FIELDS",
    "EQUITIES",
    "EQUITY_IDS",
    "HISTORY_FIELDS",
    "IDENTIFIER_TYPES",
    "RC_OK",
    "RC_UNKNOWN_SECURITY",
    "Security",
    "history_rows",
    "reference_rows",
    "resolve",
]

RC_OK = 0
RC_UNKNOWN_SECURITY = 10
"""The return code of a universe member Data License could not identify."""

IDENTIFIER_TYPES = ("TICKER", "ISIN", "CUSIP", "BB_GLOBAL", "SEDOL")

EQUITIES = ("AAPL", "MSFT", "TSLA", "SPY", "QQQ", "AMZN", "GOOGL", "NVDA", "META", "IBM", "JPM", "BAC")
"""The equity tickers the mock knows by default (the kit generator's named symbols)."""

EQUITY_IDS: dict[str, dict[str, str]] = {
    # symbol: the identifiers Data License knows it by (public ISIN/CUSIP/FIGI of these companies)
    "AAPL": {"ISIN": "US0378331005", "CUSIP": "037833100", "BB_GLOBAL": "BBG000B9XRY4"},
    "MSFT": {"ISIN": "US5949181045", "CUSIP": "594918104", "BB_GLOBAL": "BBG000BPH459"},
    "IBM": {"ISIN": "US4592001014", "CUSIP": "459200101", "BB_GLOBAL": "BBG000BLNNH6"},
    "JPM": {"ISIN": "US46625H1005", "CUSIP": "46625H100", "BB_GLOBAL": "BBG000DMBXR2"},
}


@dataclass(frozen=True)
class Security:
    """A resolved universe member: an equity ``symbol`` or an FX cross ``base``/``quote``."""

    identifier: str
    kind: str  # "equity" or "fx"
    symbol: str = ""
    base: str = ""
    quote: str = ""


def resolve(identifier_type: str, value: str, currencies: set[str], equities: set[str]) -> Security | None:
    """The security an identifier names, None when the mock does not know it."""
    text = value.strip()
    if identifier_type == "TICKER":
        parts = text.split()
        if len(parts) >= 2 and parts[-1].lower() == "curncy":
            pair = parts[0].upper()
            if len(pair) == 6 and pair[:3] in currencies and pair[3:] in currencies and pair[:3] != pair[3:]:
                return Security(text, "fx", base=pair[:3], quote=pair[3:])
            return None
        if len(parts) >= 2 and parts[-1].lower() == "equity" and parts[0].upper() in equities:
            return Security(text, "equity", symbol=parts[0].upper())
        return None
    for symbol, ids in EQUITY_IDS.items():
        if ids.get(identifier_type, "").upper() == text.upper():
            return Security(text, "equity", symbol=symbol)
    return None


def _num(value: float | None, places: int = 6) -> str | None:
    """A price as Data License writes it: a decimal string (no float noise), None when not available."""
    if value is None:
        return None
    return format(round(value, places), f".{places}f").rstrip("0").rstrip(".") or "0"


def _fx_half_spread(seed: int, base: str, quote: str, when: datetime, mid: float) -> float:
    digest = hashlib.sha256(f"{seed}:{base}{quote}:{int(when.timestamp())}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    return mid * rng.uniform(0.00002, 0.00012)


Getter = Callable[["_Values"], str | None]


class _Values:
    """Lazily computed values of one security at one time (each field asks for what it needs)."""

    def __init__(self, data: MarketDataGenerator, security: Security, when: datetime) -> None:
        self.data = data
        self.security = security
        self.when = when
        self._cache: dict[str, Any] = {}

    def _get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def is_fx(self) -> bool:
        return self.security.kind == "fx"

    def fx(self) -> tuple[float, float, float]:
        def make() -> tuple[float, float, float]:
            s = self.security
            mid = self.data.fx_rate(s.base, s.quote, self.when)
            half = _fx_half_spread(self.data.seed, s.base, s.quote, self.when, mid)
            return mid - half, mid, mid + half

        result: tuple[float, float, float] = self._get("fx", make)
        return result

    def quote(self) -> Any:
        return self._get("quote", lambda: self.data.quote(self.security.symbol, self.when))

    def trade(self) -> Any:
        return self._get("trade", lambda: self.data.trade(self.security.symbol, self.when))

    def day_bar(self) -> BarData | None:
        def make() -> BarData | None:
            local = self.when.astimezone(NEW_YORK)
            start = datetime.combine(local.date(), time(0), NEW_YORK)
            bars = self.data.bars(self.security.symbol, "1day", start, self.when, until=self.when)
            return bars[-1] if bars else None

        bar: BarData | None = self._get("day", make)
        return bar

    def fundamentals(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get(
            "fund", lambda: self.data.fundamentals(self.security.symbol, self.when)
        )
        return result

    def ids(self) -> dict[str, str]:
        return EQUITY_IDS.get(self.security.symbol, {})


def _equity(get: Callable[[_Values], str | None]) -> Getter:
    return lambda v: None if v.is_fx else get(v)


def _bar(attr: str) -> Getter:
    def get(v: _Values) -> str | None:
        if v.is_fx:
            return None
        bar = v.day_bar()
        return None if bar is None else _num(float(getattr(bar, attr)), 4)

    return get


DATA_FIELDS: dict[str, Getter] = {
    "NAME": lambda v: (
        f"{v.security.base}-{v.security.quote} X-RATE" if v.is_fx else str(v.fundamentals()["name"])
    ),
    "TICKER": lambda v: v.security.base + v.security.quote if v.is_fx else v.security.symbol,
    "SECURITY_TYP": lambda v: "SPOT" if v.is_fx else "Common Stock",
    "CRNCY": lambda v: v.security.quote if v.is_fx else "USD",
    "EXCH_CODE": _equity(lambda v: "US"),
    "COUNTRY_ISO": _equity(lambda v: "US"),
    "ID_ISIN": _equity(lambda v: v.ids().get("ISIN")),
    "ID_CUSIP": _equity(lambda v: v.ids().get("CUSIP")),
    "ID_BB_GLOBAL": _equity(lambda v: v.ids().get("BB_GLOBAL")),
    "PX_LAST": lambda v: _num(v.fx()[1]) if v.is_fx else _num(v.trade().price, 4),
    "PX_BID": lambda v: _num(v.fx()[0]) if v.is_fx else _num(v.quote().bid_price, 4),
    "PX_ASK": lambda v: _num(v.fx()[2]) if v.is_fx else _num(v.quote().ask_price, 4),
    "PX_MID": lambda v: (
        _num(v.fx()[1]) if v.is_fx else _num((v.quote().bid_price + v.quote().ask_price) / 2, 4)
    ),
    "PX_OPEN": _bar("open"),
    "PX_HIGH": _bar("high"),
    "PX_LOW": _bar("low"),
    "PX_VOLUME": lambda v: None if v.is_fx or v.day_bar() is None else str(v.day_bar().volume),  # type: ignore[union-attr]
    "LAST_UPDATE_DT": lambda v: v.when.astimezone(NEW_YORK).date().isoformat(),
    "CUR_MKT_CAP": _equity(lambda v: str(v.fundamentals()["market_capitalization"])),
    "EQY_SH_OUT": _equity(lambda v: str(v.fundamentals()["shares_outstanding"])),
    "PE_RATIO": _equity(lambda v: _num(float(v.fundamentals()["pe_ratio"]), 2)),
    "IS_EPS": _equity(lambda v: _num(float(v.fundamentals()["eps"]), 2)),
    "EQY_DVD_YLD_IND": _equity(lambda v: _num(float(v.fundamentals()["dividend_yield"]) * 100, 4)),
    "EQY_BETA": _equity(lambda v: _num(float(v.fundamentals()["beta"]), 3)),
    "GICS_SECTOR_NAME": _equity(lambda v: str(v.fundamentals()["sector"])),
    "INDUSTRY_SECTOR": _equity(lambda v: str(v.fundamentals()["industry"])),
}
"""The mnemonics a DataRequest may ask for, and how the mock computes each."""

HISTORY_FIELDS = ("PX_OPEN", "PX_HIGH", "PX_LOW", "PX_LAST", "PX_VOLUME", "PX_BID", "PX_ASK", "PX_MID")
"""The mnemonics a HistoryRequest may ask for."""


def reference_rows(
    data: MarketDataGenerator,
    members: list[tuple[str, Security | None]],
    fields: list[str],
    when: datetime,
) -> list[dict[str, str | int | None]]:
    """One row per universe member: ``IDENTIFIER``, ``RC`` and each field's value at ``when``."""
    rows: list[dict[str, str | int | None]] = []
    for identifier, security in members:
        row: dict[str, str | int | None] = {"IDENTIFIER": identifier}
        if security is None:
            row["RC"] = RC_UNKNOWN_SECURITY
            row.update(dict.fromkeys(fields))
        else:
            values = _Values(data, security, when)
            row["RC"] = RC_OK
            row.update({f: DATA_FIELDS[f](values) for f in fields})
        rows.append(row)
    return rows


def _fx_history(
    data: MarketDataGenerator, security: Security, start: date, end: date, period: str
) -> list[BarData]:
    days = data.fx_bars(security.base, security.quote, start, end)
    if period == "daily":
        return days
    groups: dict[tuple[int, int], list[BarData]] = {}
    for bar in days:
        day = bar.timestamp.date()
        key = day.isocalendar()[:2] if period == "weekly" else (day.year, day.month)
        groups.setdefault(key, []).append(bar)
    return [
        BarData(
            g[0].symbol,
            g[-1].timestamp,
            g[0].open,
            max(b.high for b in g),
            min(b.low for b in g),
            g[-1].close,
            0,
            0,
            g[-1].close,
        )
        for g in groups.values()
    ]


_TIMEFRAMES = {"daily": "1day", "weekly": "1week", "monthly": "1month"}


def history_rows(
    data: MarketDataGenerator,
    members: list[tuple[str, Security | None]],
    fields: list[str],
    start: date,
    end: date,
    period: str,
    now: datetime,
) -> list[dict[str, str | int | None]]:
    """One row per member and period in ``[start, end]`` (never past ``now``), with ``DATE``; a member
    the mock does not know gets one row with ``RC`` 10."""
    rows: list[dict[str, str | int | None]] = []
    last = min(end, now.astimezone(NEW_YORK).date())
    for identifier, security in members:
        if security is None:
            rows.append(
                {"IDENTIFIER": identifier, "RC": RC_UNKNOWN_SECURITY, "DATE": None, **dict.fromkeys(fields)}
            )
            continue
        if security.kind == "fx":
            bars = _fx_history(data, security, start, last, period)
        else:
            first = datetime.combine(start, time(0), NEW_YORK).astimezone(UTC)
            stop = datetime.combine(last, time(23, 59), NEW_YORK).astimezone(UTC)
            bars = data.bars(security.symbol, _TIMEFRAMES[period], first, stop, until=now)
        for bar in bars:
            stamp = bar.timestamp if security.kind == "fx" else bar.timestamp.astimezone(NEW_YORK)
            day = stamp.date()
            if period == "daily" and not start <= day <= last:
                continue
            values: dict[str, str | None] = {
                "PX_OPEN": _num(bar.open), "PX_HIGH": _num(bar.high), "PX_LOW": _num(bar.low),
                "PX_LAST": _num(bar.close), "PX_VOLUME": None if security.kind == "fx" else str(bar.volume),
                "PX_MID": _num(bar.close) if security.kind == "fx" else None,
                "PX_BID": None, "PX_ASK": None,
            }  # fmt: skip
            row: dict[str, str | int | None] = {
                "IDENTIFIER": identifier,
                "RC": RC_OK,
                "DATE": day.isoformat(),
            }
            row.update({f: values[f] for f in fields})
            rows.append(row)
    return rows
