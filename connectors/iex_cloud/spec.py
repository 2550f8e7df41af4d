"""The IEX Cloud connector's manifest: retired, with the replacements portico has and the way to them.

IEX Cloud shut down on 31 August 2024 and its API no longer answers. The connector stays installed so a
configuration naming it is refused with this manifest's :class:`~portico.sdk.Retirement` (the
replacements and a table from IEX endpoints to portico calls) instead of "unknown connector".
"""

from __future__ import annotations

from datetime import date

from portico.sdk import ConnectorKind, ConnectorSpec, Environment, Retirement

__all__ = ["RETIREMENT", "SPEC"]

RETIREMENT = Retirement(
    retired_on=date(2024, 8, 31),
    message=(
        "IEX Cloud shut down on 31 August 2024 and its API no longer answers; configure one of portico's market "
        "data connectors instead: 'polygon' (Polygon.io, now Massive), 'alpaca' (Alpaca market data) or "
        "'alpha_vantage' ('yahoo_finance' is unofficial, for research only). The IEX token has no successor: "
        "each provider needs its own key."
    ),
    replacements=("polygon", "alpaca", "alpha_vantage"),
    migration=(
        ("/stock/{symbol}/quote and /stock/market/batch?types=quote", "get_latest_quotes([symbols])"),
        ("/stock/{symbol}/chart/{range}", "get_bars(symbol, '1day', start=..., end=...)"),
        ("/stock/{symbol}/intraday-prices", "get_bars(symbol, '1min')"),
        ("/stock/{symbol}/dividends and /splits", "get_corporate_actions(symbol)"),
        ("/stock/{symbol}/company and /stats", "get_fundamentals(symbol)"),
        ("/search/{text}", "search_instruments(text)"),
        ("/fx/latest", "get_fx_rate(base, quote)"),
    ),
    migration_heading="IEX endpoint -> portico call",
)
"""Why ``iex_cloud`` is refused, what replaces it, and which portico call each IEX endpoint becomes."""

SPEC = ConnectorSpec(
    name="iex_cloud",
    display_name="IEX Cloud",
    kinds=(ConnectorKind.MARKET_DATA,),
    description="IEX Cloud's market data API, shut down on 2024-08-31: kept only to refuse configurations "
    "naming it, with the replacements (polygon, alpaca, alpha_vantage) and the migration.",
    environments=(
        Environment(
            name="production",
            urls={"base": "https://cloud.iexapis.com/stable"},
            description="no longer answers (shut down 2024-08-31)",
        ),
    ),
    retired=RETIREMENT,
)
"""The IEX Cloud manifest: retired, no capabilities."""
