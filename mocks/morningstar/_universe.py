"""The mock's investments, data point catalogue, seeded return series and fund holdings.

Names, SecIds, ISINs and CUSIPs of the first funds are the ones Morningstar's own ``morningstar-data``
documentation uses in its examples; their figures (expense ratios, returns, holdings) are seeded and
made up. Returns come from one daily return index per investment, so a month's return is the product
of its days' and every frequency agrees with every other.
"""

from __future__ import annotations

import calendar
import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = [
    "DEFAULT_INVESTMENTS",
    "STATIC_DATA_POINTS",
    "TIME_SERIES_DATA_POINTS",
    "HoldingRow",
    "MockInvestment",
    "Universe",
    "period_ends",
]

SERIES_START = date(2018, 1, 1)
"""The first day of every seeded return index."""

STATIC_DATA_POINTS: dict[str, tuple[str, str]] = {
    # datapointId: (the column name the API gives it, the MockInvestment attribute)
    "OS01W": ("Name", "name"),
    "LS05M": ("Base Currency", "base_currency_name"),
    "LS01Z": ("Exchange", "exchange"),
    "OS00F": ("Inception Date", "inception"),
    "LS017": ("Domicile", "domicile"),
    "LF035": ("Global Broad Category Group", "category_group"),
    "ZZ006": ("Annual Report Adjusted Expense Ratio", "expense_ratio"),
}
"""Data points with one value per investment (ids and names as the package's documentation shows them)."""

TIME_SERIES_DATA_POINTS: dict[str, tuple[str, str]] = {
    # datapointId: (column name, frequency) -- the ids md.direct.get_returns sends per Frequency
    "HS793": ("Daily Return", "daily"),
    "HP002": ("Weekly Return", "weekly"),
    "HP010": ("Monthly Return", "monthly"),
    "HP020": ("Quarterly Return", "quarterly"),
    "HS803": ("Annual Return", "yearly"),
}
"""Time series data points (``isTsdp``): total returns in percent per period."""

CURRENCY_NAMES: dict[str, str] = {
    "USD": "US Dollar",
    "AUD": "Australian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound",
    "CAD": "Canadian Dollar",
}


@dataclass(frozen=True)
class HoldingRow:
    """One position of a fund's portfolio (before seeding the date's share count)."""

    name: str
    sec_id: str | None
    ticker: str | None
    isin: str | None
    country_code: str
    country: str
    holding_type: str  # detailHoldingType
    type_code: str  # defaultHoldingTypeCode
    base_shares: int
    price: float


@dataclass(frozen=True)
class MockInvestment:
    """An investment the mock knows."""

    sec_id: str
    universe: str  # FO (open-end fund), FE (ETF), ST (stock)
    name: str
    ticker: str | None
    isin: str | None
    cusip: str | None
    currency: str
    exchange: str
    exchange_code: str
    domicile: str
    country_code: str
    category_group: str
    expense_ratio: float | None
    inception: date
    master_portfolio_id: int | None = None
    fund_id: str | None = None
    holdings: tuple[HoldingRow, ...] = ()

    @property
    def base_currency_name(self) -> str:
        """The currency as Direct names it (``US Dollar``)."""
        return CURRENCY_NAMES.get(self.currency, self.currency)


_US_EQUITY = (
    HoldingRow("Microsoft Corp", "0P000003MH", "MSFT", "US5949181045", "USA", "United States", "EQUITY", "E", 41_000, 415.1),
    HoldingRow("Apple Inc", "0P000000GY", "AAPL", "US0378331005", "USA", "United States", "EQUITY", "E", 52_000, 228.4),
    HoldingRow("Alphabet Inc Class A", "0P000002HD", "GOOGL", "US02079K3059", "USA", "United States", "EQUITY", "E", 60_500, 172.3),
    HoldingRow("Visa Inc Class A", "0P0000CPCP", "V", "US92826C8394", "USA", "United States", "EQUITY", "E", 21_000, 281.7),
    HoldingRow("USD Cash", None, None, None, "USA", "United States", "CASH", "C", 1_250_000, 1.0),
)  # fmt: skip
_INCOME = (
    HoldingRow("Broadcom Inc", "0P000001BW", "AVGO", "US11135F1012", "USA", "United States", "EQUITY", "E", 9_800, 163.9),
    HoldingRow("Philip Morris International Inc", "0P000004I6", "PM", "US7181721090", "USA", "United States", "EQUITY", "E", 17_500, 121.2),
    HoldingRow("United States Treasury Notes 4.25%", None, None, "US91282CJL54", "USA", "United States", "BOND", "B", 2_400_000, 0.995),
    HoldingRow("USD Cash", None, None, None, "USA", "United States", "CASH", "C", 800_000, 1.0),
)  # fmt: skip
_SP500 = (
    HoldingRow("Apple Inc", "0P000000GY", "AAPL", "US0378331005", "USA", "United States", "EQUITY", "E", 178_000_000, 228.4),
    HoldingRow("Microsoft Corp", "0P000003MH", "MSFT", "US5949181045", "USA", "United States", "EQUITY", "E", 89_000_000, 415.1),
    HoldingRow("NVIDIA Corp", "0P000003RE", "NVDA", "US67066G1040", "USA", "United States", "EQUITY", "E", 290_000_000, 121.4),
)  # fmt: skip
_GLOBAL = (
    HoldingRow("Novo Nordisk A/S Class B", "0P0000A5BQ", "NOVO B", "DK0062498333", "DNK", "Denmark", "EQUITY", "E", 33_000, 870.0),
    HoldingRow("Taiwan Semiconductor Manufacturing Co Ltd", "0P0000AB3Q", "2330", "TW0002330008", "TWN", "Taiwan", "EQUITY", "E", 120_000, 910.0),
    HoldingRow("AUD Cash", None, None, None, "AUS", "Australia", "CASH", "C", 400_000, 1.0),
)  # fmt: skip

DEFAULT_INVESTMENTS: tuple[MockInvestment, ...] = (
    MockInvestment("F00000YOOK", "FO", "Morningstar US Equity", "MSTQX", "US6176971074", "617697107", "USD",
                   "Nasdaq - All Markets", "EXXNAS", "United States", "USA", "Equity", 0.84, date(2018, 11, 2),
                   master_portfolio_id=2_004_519, fund_id="FS0000DY6A", holdings=_US_EQUITY),
    MockInvestment("FOUSA00D6E", "FO", "American Funds Income Fund of Amer A", "AMECX", "US4533201038", "453320103",
                   "USD", "Nasdaq - All Markets", "EXXNAS", "United States", "USA", "Allocation", 0.58,
                   date(1973, 12, 1), master_portfolio_id=6_079, fund_id="FSUSA00BXJ", holdings=_INCOME),
    MockInvestment("FEUSA04AER", "FE", "SPDR S&P 500 ETF Trust", "SPY", "US78462F1030", "78462F103", "USD",
                   "NYSE Arca", "ARCX", "United States", "USA", "Equity", 0.0945, date(1993, 1, 22),
                   master_portfolio_id=1_356_725, fund_id="FSUSA06K3Y", holdings=_SP500),
    MockInvestment("F0AUS05U7H", "FO", "Walter Scott Global Equity", None, "AU60ETL00162", None, "AUD",
                   "Australian Securities Exchange", "XASX", "Australia", "AUS", "Equity", 1.28, date(2006, 8, 31),
                   master_portfolio_id=311_420, fund_id="FSAUS05R9C", holdings=_GLOBAL),
    MockInvestment("0P000000GY", "ST", "Apple Inc", "AAPL", "US0378331005", "037833100", "USD", "Nasdaq - All Markets",
                   "EXXNAS", "United States", "USA", "Equity", None, date(1980, 12, 12)),
)  # fmt: skip
"""The investments a fresh mock knows: three funds and an ETF with holdings, and a stock."""


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_ends(frequency: str, start: date, end: date) -> list[date]:
    """The end dates of the periods of ``frequency`` that end within ``[start, end]``.

    Daily periods are business days, weekly ones end on Friday, the others on calendar month, quarter
    and year ends (as the package's documentation shows: ``2020-10-31``).
    """
    out: list[date] = []
    if frequency == "daily":
        day = start
        while day <= end:
            if day.weekday() < 5:
                out.append(day)
            day += timedelta(days=1)
        return out
    if frequency == "weekly":
        day = start + timedelta(days=(4 - start.weekday()) % 7)
        while day <= end:
            out.append(day)
            day += timedelta(days=7)
        return out
    months = {"monthly": 1, "quarterly": 3, "yearly": 12}[frequency]
    day = _month_end(start)
    while day <= end:
        if (day.month % months) == 0:
            out.append(day)
        day = _month_end(day + timedelta(days=1))
    return out


@dataclass
class Universe:
    """The investments of one mock and their seeded series."""

    seed: int
    investments: dict[str, MockInvestment] = field(default_factory=dict)
    _index_cache: dict[str, dict[date, float]] = field(default_factory=dict, repr=False)

    @classmethod
    def default(cls, seed: int) -> Universe:
        """A universe of :data:`DEFAULT_INVESTMENTS`."""
        return cls(seed, {i.sec_id: i for i in DEFAULT_INVESTMENTS})

    def find(self, ident: str | dict[str, object]) -> MockInvestment | None:
        """The investment a SecId (``F00000YOOK`` or ``F00000YOOK;FO``) or an identifier object names."""
        if isinstance(ident, str):
            sec_id, _, universe = ident.strip().upper().partition(";")
            found = self.investments.get(sec_id)
            if found is None or (universe and universe != found.universe):
                return None
            return found
        wanted = {k: str(v).strip().upper() for k, v in ident.items() if v not in (None, "")}
        if not wanted:
            return None
        matches = self.search(wanted)
        return matches[0] if matches else None

    def search(self, wanted: dict[str, str]) -> list[MockInvestment]:
        """Investments matching every given field of an InvestmentIdentifier (``sec_id``, ``ticker``, ...)."""
        out = []
        for inv in self.investments.values():
            values = {
                "sec_id": inv.sec_id,
                "ticker": inv.ticker,
                "isin": inv.isin,
                "cusip": inv.cusip,
                "base_currency": inv.currency,
                "exchange": inv.exchange_code,
            }
            ok = True
            for key, value in wanted.items():
                have = values.get(key)
                if key == "base_currency" and value in (inv.base_currency_name.upper(), inv.currency):
                    continue
                if key == "exchange" and value in (inv.exchange.upper(), inv.exchange_code):
                    continue
                if have is None or have.upper() != value:
                    ok = False
                    break
            if ok:
                out.append(inv)
        # funds and ETFs before stocks, as the vendor ranks share classes ahead of listings [assumed]
        return sorted(out, key=lambda i: (i.universe == "ST", i.sec_id))

    def index(self, sec_id: str, until: date) -> dict[date, float]:
        """The daily return index (100 on :data:`SERIES_START`) of one investment, business days only."""
        cached = self._index_cache.get(sec_id)
        if cached is not None and max(cached) >= until - timedelta(days=3):
            return cached
        digest = hashlib.sha256(f"{self.seed}:{sec_id}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        drift = 0.0002 + rng.random() * 0.0003
        vol = 0.006 + rng.random() * 0.01
        value = 100.0
        series: dict[date, float] = {}
        day = SERIES_START
        last = max(until, SERIES_START)
        while day <= last:
            if day.weekday() < 5:
                value *= 1 + rng.gauss(drift, vol)
                series[day] = value
            day += timedelta(days=1)
        self._index_cache[sec_id] = series
        return series

    def returns(self, sec_id: str, frequency: str, start: date, end: date) -> list[tuple[date, float]]:
        """Total returns in percent (6 decimals) of the periods ending within ``[start, end]``."""
        series = self.index(sec_id, end)
        days = sorted(series)

        def level(on: date) -> float | None:
            # the index at the last business day on or before ``on``
            while on >= SERIES_START:
                if on in series:
                    return series[on]
                on -= timedelta(days=1)
            return None

        out: list[tuple[date, float]] = []
        ends = period_ends(frequency, max(start, days[0] + timedelta(days=1)), end)
        for period_end in ends:
            previous = _previous_end(frequency, period_end)
            now, before = level(period_end), level(previous)
            if now is None or before is None:
                continue
            out.append((period_end, round((now / before - 1) * 100, 6)))
        return out

    def portfolio_dates(self, today: date, count: int = 3) -> list[date]:
        """The month ends with holdings, latest first: the last ``count`` before the current month."""
        dates: list[date] = []
        day = today.replace(day=1) - timedelta(days=1)
        while len(dates) < count:
            dates.append(day)
            day = day.replace(day=1) - timedelta(days=1)
        return dates

    def holdings(self, inv: MockInvestment, on: date) -> list[dict[str, object]]:
        """One fund's positions on a portfolio date: shares seeded per date, weights summing to 100."""
        digest = hashlib.sha256(f"{self.seed}:{inv.sec_id}:{on.isoformat()}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        rows = []
        for row in inv.holdings:
            shares = int(row.base_shares * (0.95 + rng.random() * 0.1))
            rows.append((row, shares, round(shares * row.price, 2)))
        total = sum(value for _, _, value in rows) or 1.0
        out: list[dict[str, object]] = []
        for row, shares, value in rows:
            out.append({
                "name": row.name,
                "secId": row.sec_id,
                "ticker": row.ticker,
                "isin": row.isin,
                "numberOfShare": shares,
                "marketValue": value,
                "weight": round(value / total * 100, 5),
                "currency": inv.base_currency_name,
                "detailHoldingType": row.holding_type,
                "defaultHoldingTypeCode": row.type_code,
                "country": {"code": row.country_code, "value": row.country},
            })  # fmt: skip
        return out


def _previous_end(frequency: str, period_end: date) -> date:
    if frequency == "daily":
        day = period_end - timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return day
    if frequency == "weekly":
        return period_end - timedelta(days=7)
    months = {"monthly": 1, "quarterly": 3, "yearly": 12}[frequency]
    day = period_end
    for _ in range(months):
        day = day.replace(day=1) - timedelta(days=1)
    return day
