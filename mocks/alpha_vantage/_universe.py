"""The listings the Alpha Vantage mock knows: symbols, names, types, regions, for quotes and SYMBOL_SEARCH.

Alpha Vantage answers an unknown symbol with an ``Error Message``; so does the mock, for any symbol not in
its universe. Tests and benchmarks add symbols through ``create_app(symbols=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LISTINGS", "Listing", "match_score"]


@dataclass(frozen=True)
class Listing:
    """One row of the mock's listing, in the shape of a ``bestMatches`` item."""

    symbol: str
    name: str
    type: str = "Equity"
    region: str = "United States"
    market_open: str = "09:30"
    market_close: str = "16:00"
    timezone: str = "UTC-05"
    currency: str = "USD"


_US = [
    ("AAPL", "Apple Inc"),
    ("MSFT", "Microsoft Corporation"),
    ("GOOGL", "Alphabet Inc - Class A"),
    ("AMZN", "Amazon.com Inc"),
    ("META", "Meta Platforms Inc - Class A"),
    ("NVDA", "NVIDIA Corporation"),
    ("TSLA", "Tesla Inc"),
    ("IBM", "International Business Machines Corp"),
    ("JPM", "JPMorgan Chase & Co"),
    ("BAC", "Bank of America Corp"),
    ("BA", "Boeing Company"),
    ("BABA", "Alibaba Group Holding Ltd"),
    ("BIDU", "Baidu Inc"),
    ("BHC", "Bausch Health Companies Inc"),
    ("KO", "Coca-Cola Company"),
    ("PEP", "PepsiCo Inc"),
    ("WMT", "Walmart Inc"),
    ("DIS", "Walt Disney Company"),
    ("NFLX", "Netflix Inc"),
    ("INTC", "Intel Corporation"),
    ("AMD", "Advanced Micro Devices Inc"),
    ("ORCL", "Oracle Corporation"),
    ("CSCO", "Cisco Systems Inc"),
    ("XOM", "Exxon Mobil Corporation"),
    ("CVX", "Chevron Corporation"),
    ("PFE", "Pfizer Inc"),
    ("JNJ", "Johnson & Johnson"),
    ("V", "Visa Inc - Class A"),
    ("MA", "Mastercard Inc - Class A"),
    ("GS", "Goldman Sachs Group Inc"),
]
_ETFS = [
    ("SPY", "SPDR S&P 500 ETF Trust"),
    ("QQQ", "Invesco QQQ Trust Series 1"),
    ("IWM", "iShares Russell 2000 ETF"),
    ("TLT", "iShares 20+ Year Treasury Bond ETF"),
]
_FOREIGN = [
    Listing("TSCO.LON", "Tesco PLC", region="United Kingdom", market_open="08:00", market_close="16:30",
            timezone="UTC+00", currency="GBX"),
    Listing("SHOP.TRT", "Shopify Inc", region="Toronto", timezone="UTC-05", currency="CAD"),
    Listing("SAP.DEX", "SAP SE", region="XETRA", market_open="08:00", market_close="20:00", timezone="UTC+01",
            currency="EUR"),
    Listing("6190.HKG", "Bank of Jiujiang Co Ltd", region="Hong Kong", timezone="UTC+08", currency="HKD"),
]  # fmt: skip

DEFAULT_LISTINGS: tuple[Listing, ...] = (
    *(Listing(s, n) for s, n in _US),
    *(Listing(s, n, type="ETF") for s, n in _ETFS),
    *_FOREIGN,
)
"""The listings a default mock knows."""


def match_score(keywords: str, listing: Listing) -> float:
    """How well ``keywords`` matches a listing, 0..1: exact symbol 1, symbol prefix, then name words."""
    needle = keywords.strip().upper()
    if not needle:
        return 0.0
    symbol = listing.symbol.upper()
    if symbol == needle:
        return 1.0
    if symbol.startswith(needle):
        return round(len(needle) / len(symbol), 4)
    name = listing.name.upper()
    if any(word.startswith(needle) for word in name.replace("-", " ").split()):
        return round(min(0.9, len(needle) / max(len(name), 1) * 2), 4)
    if needle in name:
        return round(len(needle) / max(len(name), 1), 4)
    return 0.0
