"""The listings the Yahoo Finance mock knows: symbol, names, quote type and exchange codes.

Yahoo answers an unknown symbol with ``chart.error`` ("No data found, symbol may be delisted") and leaves it
out of ``/v7/finance/quote`` results; the mock does the same for any symbol not in its universe. Tests add
symbols through ``create_app(symbols=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LISTINGS", "Listing", "search_score"]


@dataclass(frozen=True)
class Listing:
    """One instrument as Yahoo describes it in chart ``meta``, quotes and search results."""

    symbol: str
    long_name: str
    short_name: str
    quote_type: str = "EQUITY"
    exchange: str = "NMS"
    full_exchange_name: str = "NasdaqGS"
    exch_disp: str = "NASDAQ"
    currency: str = "USD"
    sector: str = "Technology"
    industry: str = "Consumer Electronics"

    @property
    def type_disp(self) -> str:
        """Yahoo's display name of the quote type (``Equity``, ``ETF``)."""
        return "ETF" if self.quote_type == "ETF" else self.quote_type.title()


_NYSE = {"exchange": "NYQ", "full_exchange_name": "NYSE", "exch_disp": "NYSE"}
_ARCA = {"exchange": "PCX", "full_exchange_name": "NYSEArca", "exch_disp": "NYSEArca"}

DEFAULT_LISTINGS: tuple[Listing, ...] = (
    Listing("AAPL", "Apple Inc.", "Apple Inc."),
    Listing("MSFT", "Microsoft Corporation", "Microsoft Corporation", industry="Software - Infrastructure"),
    Listing("GOOGL", "Alphabet Inc.", "Alphabet Inc.", industry="Internet Content & Information"),
    Listing("AMZN", "Amazon.com, Inc.", "Amazon.com, Inc.", sector="Consumer Cyclical", industry="Internet Retail"),
    Listing("NVDA", "NVIDIA Corporation", "NVIDIA Corporation", industry="Semiconductors"),
    Listing("TSLA", "Tesla, Inc.", "Tesla, Inc.", sector="Consumer Cyclical", industry="Auto Manufacturers"),
    Listing("IBM", "International Business Machines Corporation", "International Business Machines",
            industry="Information Technology Services", **_NYSE),
    Listing("JPM", "JPMorgan Chase & Co.", "JP Morgan Chase & Co.", sector="Financial Services",
            industry="Banks - Diversified", **_NYSE),
    Listing("KO", "The Coca-Cola Company", "Coca-Cola Company (The)", sector="Consumer Defensive",
            industry="Beverages - Non-Alcoholic", **_NYSE),
    Listing("SPY", "SPDR S&P 500 ETF Trust", "SPDR S&P 500", quote_type="ETF", sector="", industry="", **_ARCA),
    Listing("QQQ", "Invesco QQQ Trust, Series 1", "Invesco QQQ Trust, Series 1", quote_type="ETF", sector="",
            industry=""),
)  # fmt: skip
"""The default universe: US listings on NASDAQ, NYSE and NYSE Arca, quoted in USD."""


def search_score(query: str, listing: Listing) -> float:
    """How well ``query`` matches ``listing`` (0: no match); exact symbols first, then prefixes, then names."""
    text = query.strip().upper()
    if not text:
        return 0.0
    if listing.symbol == text:
        return 1_000_000.0
    if listing.symbol.startswith(text):
        return 100_000.0 - len(listing.symbol)
    name = listing.long_name.upper()
    if name.startswith(text):
        return 50_000.0
    if text in name:
        return 20_000.0
    return 0.0
