"""Risk limits as pre-trade checks: exposure, concentration per issuer or sector, currency exposure, VaR.

Each is a :class:`portico.trading.RiskCheck` configured per account under ``trading.risk`` like the
built-in checks (or supplied by an external limits system through the ``portico_risk_limits`` hook)::

    trading:
      risk:
        accounts:
          PA-1:
            max_gross_exposure: {limit: 1000000}
            max_net_exposure: {limit: 600000}
            max_issuer_concentration: {max_fraction: 0.25, issuers: {GOOG: Alphabet, GOOGL: Alphabet}}
            max_sector_concentration: {max_fraction: 0.4, sectors: {AAPL: tech, MSFT: tech}}
            max_currency_exposure: {limits: {EUR: 200000}}
            max_var: {limit: 25000, confidence: 0.99, horizon_days: 1, method: historical}

Each measures the book as it would be after the order (the venue's positions at market value, plus
the order at its estimated price). A limit that cannot be shown to hold (no price for the order) refuses,
naming why, as the built-in checks do.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from portico.errors import PayloadRejected
from portico.models import OrderRequest, OrderSide
from portico.trading._risk import RiskContext, order_value

__all__ = [
    "MaxCurrencyExposure",
    "MaxGrossExposure",
    "MaxGroupConcentration",
    "MaxIssuerConcentration",
    "MaxNetExposure",
    "MaxSectorConcentration",
    "MaxVar",
    "analytics_risk_checks",
]

ZERO = Decimal(0)


def _signed_order_value(order: OrderRequest, context: RiskContext) -> Decimal | None:
    value = order_value(order, context.price)
    if value is None:
        return None
    return value if order.side is OrderSide.BUY else -value


def _book_after(order: OrderRequest, context: RiskContext) -> tuple[dict[str, Decimal], dict[str, str]] | str:
    """Market value per symbol after the order, and each symbol's currency; or the reason it is unknown."""
    delta = _signed_order_value(order, context)
    if delta is None:
        return f"the value of the {order.symbol} order cannot be estimated (no limit price or quote)"
    values: dict[str, Decimal] = defaultdict(Decimal)
    currencies: dict[str, str] = {}
    for pos in context.positions:
        symbol = pos.symbol.upper()
        if pos.market_value is not None:
            values[symbol] += pos.market_value
        elif pos.market_price is not None:
            values[symbol] += pos.quantity * pos.market_price
        elif context.price is not None and symbol == order.symbol.upper():
            values[symbol] += pos.quantity * context.price
        else:
            return f"the market value of the {pos.symbol} position is not reported"
        currencies[symbol] = pos.currency
    values[order.symbol.upper()] += delta
    currencies.setdefault(order.symbol.upper(), context.account.currency if context.account else "USD")
    return dict(values), currencies


def _equity(context: RiskContext) -> Decimal | None:
    if context.account is None:
        return None
    return context.account.equity or context.account.portfolio_value


class MaxGrossExposure:
    """Refuses an order after which the sum of absolute position values exceeds ``limit``."""

    name = "max_gross_exposure"
    needs_positions = True

    def check(self, order: OrderRequest, context: RiskContext) -> str | None:
        limit = Decimal(str(context.settings["limit"]))
        book = _book_after(order, context)
        if isinstance(book, str):
            return f"gross exposure cannot be measured: {book}"
        gross = sum((abs(v) for v in book[0].values()), ZERO)
        if gross > limit:
            return f"gross exposure would be {gross:.2f}, above the limit max_gross_exposure {limit}"
        return None


class MaxNetExposure:
    """Refuses an order after which the absolute sum of signed position values exceeds ``limit``."""

    name = "max_net_exposure"
    needs_positions = True

    def check(self, order: OrderRequest, context: RiskContext) -> str | None:
        limit = Decimal(str(context.settings["limit"]))
        book = _book_after(order, context)
        if isinstance(book, str):
            return f"net exposure cannot be measured: {book}"
        net = sum(book[0].values(), ZERO)
        if abs(net) > limit:
            return f"net exposure would be {net:.2f}, beyond the limit max_net_exposure {limit}"
        return None


class MaxGroupConcentration:
    """Refuses an order after which one group's (issuer's, sector's) absolute value is more than
    ``max_fraction`` of the account's equity. ``groups`` maps symbols to groups; an unmapped symbol is
    its own group."""

    name = "max_group_concentration"
    needs_positions = True
    settings_key = "groups"
    what = "group"

    def check(self, order: OrderRequest, context: RiskContext) -> str | None:
        max_fraction = Decimal(str(context.settings["max_fraction"]))
        groups = {str(k).upper(): str(v) for k, v in (context.settings.get(self.settings_key) or {}).items()}
        equity = _equity(context)
        if equity is None or equity <= 0:
            return f"{self.what} concentration cannot be measured: no account equity"
        book = _book_after(order, context)
        if isinstance(book, str):
            return f"{self.what} concentration cannot be measured: {book}"
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for symbol, value in book[0].items():
            totals[groups.get(symbol, symbol)] += abs(value)
        group = groups.get(order.symbol.upper(), order.symbol.upper())
        fraction = totals[group] / equity
        if fraction > max_fraction:
            return (
                f"{self.what} {group} would be {fraction:.4f} of equity {equity}, above the limit "
                f"{self.name} {max_fraction}"
            )
        return None


class MaxIssuerConcentration(MaxGroupConcentration):
    """:class:`MaxGroupConcentration` by issuer (settings ``issuers``: symbol -> issuer)."""

    name = "max_issuer_concentration"
    settings_key = "issuers"
    what = "issuer"


class MaxSectorConcentration(MaxGroupConcentration):
    """:class:`MaxGroupConcentration` by sector (settings ``sectors``: symbol -> sector)."""

    name = "max_sector_concentration"
    settings_key = "sectors"
    what = "sector"


class MaxCurrencyExposure:
    """Refuses an order after which the absolute exposure to a currency exceeds its limit
    (settings ``limits``: currency -> amount, in the account's currency)."""

    name = "max_currency_exposure"
    needs_positions = True

    def check(self, order: OrderRequest, context: RiskContext) -> str | None:
        limits = {str(k).upper(): Decimal(str(v)) for k, v in (context.settings.get("limits") or {}).items()}
        book = _book_after(order, context)
        if isinstance(book, str):
            return f"currency exposure cannot be measured: {book}"
        values, currencies = book
        exposure: dict[str, Decimal] = defaultdict(Decimal)
        for symbol, value in values.items():
            exposure[currencies.get(symbol, "USD")] += value
        for currency, limit in sorted(limits.items()):
            if abs(exposure.get(currency, ZERO)) > limit:
                return (
                    f"{currency} exposure would be {exposure[currency]:.2f}, beyond the limit "
                    f"max_currency_exposure {currency} {limit}"
                )
        return None


class MaxVar:
    """Refuses an order after which the account's VaR (from the analytics service, over the book and
    imported price history) exceeds ``limit``. Settings: ``limit``; ``confidence`` (0.99),
    ``horizon_days`` (1), ``method`` (``historical`` or ``parametric``), ``lookback`` (250 days)."""

    name = "max_var"

    def __init__(self, analytics: Callable[[], Any]) -> None:
        self._analytics = analytics

    def check(self, order: OrderRequest, context: RiskContext) -> str | None:
        limit = Decimal(str(context.settings["limit"]))
        method = str(context.settings.get("method", "historical"))
        if method not in ("historical", "parametric"):
            return f"max_var method {method!r} is not historical or parametric"
        delta = _signed_order_value(order, context)
        if delta is None:
            return f"VaR cannot be measured: the value of the {order.symbol} order cannot be estimated"
        if context.account_id is None:
            return "VaR cannot be measured: the order names no account"
        try:
            report = self._analytics().risk(
                context.account_id,
                system=context.system,
                confidence=float(context.settings.get("confidence", 0.99)),
                horizon_days=int(context.settings.get("horizon_days", 1)),
                lookback=int(context.settings.get("lookback", 250)),
                extra={order.symbol: delta},
                new_account=True,
            )
        except PayloadRejected as exc:
            return f"VaR cannot be measured: {exc.message}"
        figures = report.historical if method == "historical" else report.parametric
        if figures is None:
            return "VaR cannot be measured: under 21 days of price history for the book and the order"
        if Decimal(f"{figures.var:.2f}") > limit:
            return (
                f"{method} VaR at {figures.confidence:.0%} over {figures.horizon_days} day(s) would be "
                f"{figures.var:.2f}, above the limit max_var {limit}"
            )
        return None


def analytics_risk_checks(analytics: Callable[[], Any]) -> list[Any]:
    """Every analytics limit check; ``analytics`` returns the service (built on first use)."""
    return [
        MaxGrossExposure(),
        MaxNetExposure(),
        MaxIssuerConcentration(),
        MaxSectorConcentration(),
        MaxCurrencyExposure(),
        MaxVar(analytics),
    ]
