"""The tickers the Polygon (Massive) mock knows: the reference data behind ``/v3/reference/tickers``.

Unknown tickers answer the way the vendor answers them: aggregates with ``resultsCount: 0`` and no
``results``, ticker details and last trade/quote with 404 ``NOT_FOUND``. Tests add tickers through
``create_app(symbols=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_TICKERS", "EXCHANGE_IDS", "TickerInfo", "ticker_info"]

EXCHANGE_IDS = {"V": 15, "Q": 12, "N": 10, "P": 11, "Z": 19, "K": 8}
"""The data generator's exchange letters as the vendor's numeric exchange ids: IEX 15, Nasdaq 12,
NYSE 10, NYSE Arca 11, Cboe BZX 19, Cboe EDGX 8 (``/v3/reference/exchanges``, as recalled)."""


@dataclass(frozen=True)
class TickerInfo:
    """One row of ``/v3/reference/tickers`` (and the seed of its ticker details)."""

    ticker: str
    name: str
    type: str = "CS"
    primary_exchange: str = "XNAS"
    sic_code: str = "7372"
    sic_description: str = "SERVICES-PREPACKAGED SOFTWARE"


_ROWS = [
    ("AAPL", "Apple Inc.", "CS", "XNAS", "3571", "ELECTRONIC COMPUTERS"),
    ("MSFT", "Microsoft Corp", "CS", "XNAS", "7372", "SERVICES-PREPACKAGED SOFTWARE"),
    ("GOOGL", "Alphabet Inc. Class A Common Stock", "CS", "XNAS", "7370", "SERVICES-COMPUTER PROGRAMMING"),
    ("AMZN", "Amazon.Com Inc", "CS", "XNAS", "5961", "RETAIL-CATALOG & MAIL-ORDER HOUSES"),
    (
        "META",
        "Meta Platforms, Inc. Class A Common Stock",
        "CS",
        "XNAS",
        "7370",
        "SERVICES-COMPUTER PROGRAMMING",
    ),
    ("NVDA", "Nvidia Corp", "CS", "XNAS", "3674", "SEMICONDUCTORS & RELATED DEVICES"),
    ("TSLA", "Tesla, Inc. Common Stock", "CS", "XNAS", "3711", "MOTOR VEHICLES & PASSENGER CAR BODIES"),
    ("IBM", "International Business Machines", "CS", "XNYS", "3570", "COMPUTER & OFFICE EQUIPMENT"),
    ("JPM", "JPMorgan Chase & Co.", "CS", "XNYS", "6021", "NATIONAL COMMERCIAL BANKS"),
    ("BAC", "Bank of America Corporation", "CS", "XNYS", "6021", "NATIONAL COMMERCIAL BANKS"),
    ("KO", "Coca-Cola Company (The)", "CS", "XNYS", "2080", "BEVERAGES"),
    ("PEP", "PepsiCo, Inc.", "CS", "XNAS", "2080", "BEVERAGES"),
    ("WMT", "Walmart Inc.", "CS", "XNYS", "5331", "RETAIL-VARIETY STORES"),
    (
        "DIS",
        "Walt Disney Company (The)",
        "CS",
        "XNYS",
        "7990",
        "SERVICES-MISCELLANEOUS AMUSEMENT & RECREATION",
    ),
    ("NFLX", "Netflix, Inc.", "CS", "XNAS", "7841", "SERVICES-VIDEO TAPE RENTAL"),
    ("INTC", "Intel Corp", "CS", "XNAS", "3674", "SEMICONDUCTORS & RELATED DEVICES"),
    ("AMD", "Advanced Micro Devices", "CS", "XNAS", "3674", "SEMICONDUCTORS & RELATED DEVICES"),
    ("XOM", "Exxon Mobil Corp", "CS", "XNYS", "2911", "PETROLEUM REFINING"),
    ("SPY", "SPDR S&P 500 ETF Trust", "ETF", "ARCX", "", ""),
    ("QQQ", "Invesco QQQ Trust, Series 1", "ETF", "XNAS", "", ""),
    ("IWM", "iShares Russell 2000 ETF", "ETF", "ARCX", "", ""),
]

DEFAULT_TICKERS: tuple[TickerInfo, ...] = tuple(TickerInfo(*row) for row in _ROWS)
"""The tickers a default mock knows, in ticker order once sorted."""


def ticker_info(symbol: str) -> TickerInfo:
    """A generic listing for a ticker a test adds (``create_app(symbols=["ZZZ"])``)."""
    return TickerInfo(symbol.upper(), f"{symbol.upper()} Holdings Inc.")
