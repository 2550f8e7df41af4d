"""Pre-trade risk checks: plugins that may refuse an order before it is stored or sent.

A check is any object with a ``name`` and a ``check(order, context) -> str | None`` method returning
the reason it refuses the order, or None. Its limits come from configuration, per account::

    trading:
      risk:
        default:  {max_order_value: {limit: 250000}}
        accounts:
          ACC-1:  {max_order_value: {limit: 50000}, restricted_list: {symbols: [XYZ]}}

A check with no settings for an account (neither in ``default`` nor under the account) does not run
for it. Plugins contribute checks through the ``portico_risk_checks`` hook.
"""

from __future__ import annotations

from decimal import Decimal

from portico.contributions import RiskCheck, RiskContext
from portico.models import OrderRequest, OrderSide

__all__ = [
    "MaxOrderValue",
    "MaxPositionConcentration",
    "RestrictedList",
    "RiskCheck",
    "RiskContext",
    "builtin_risk_checks",
    "order_value",
]


def order_value(order: OrderRequest, price: Decimal | None) -> Decimal | None:
    """The order's estimated value: its notional, or quantity x price when a price is known."""
    if order.notional is not None:
        return order.notional
    if order.quantity is not None and price is not None:
        return order.quantity * price
    return None


class MaxOrderValue:
    """Refuses an order worth more than ``limit`` (in the account currency).

    Settings: ``limit`` (required). An order whose value cannot be estimated (market order, no quote)
    is refused: the limit cannot be shown to hold.
    """

    name = "max_order_value"

    def check(self, order: OrderRequest, context: RiskContext) -> str | None:
        limit = Decimal(str(context.settings["limit"]))
        value = order_value(order, context.price)
        if value is None:
            return f"order value of {order.symbol} cannot be estimated (no limit price or quote) against limit {limit}"
        if value > limit:
            return f"order value {value} exceeds the limit {limit}"
        return None


class MaxPositionConcentration:
    """Refuses a buy that would make one instrument more than ``max_fraction`` of the account's equity.

    Settings: ``max_fraction`` (0..1, required); ``include_order_in_equity`` (default false) counts the
    order's value in the equity it is measured against. Sells always pass (they reduce concentration).
    """

    name = "max_position_concentration"
    needs_positions = True

    def check(self, order: OrderRequest, context: RiskContext) -> str | None:
        if order.side is not OrderSide.BUY:
            return None
        max_fraction = Decimal(str(context.settings["max_fraction"]))
        value = order_value(order, context.price)
        equity = None
        if context.account is not None:
            equity = context.account.equity or context.account.portfolio_value
        if value is None or equity is None or equity <= 0:
            return f"concentration of {order.symbol} cannot be estimated (no price or account equity)"
        held = Decimal(0)
        for pos in context.positions:
            if pos.symbol.upper() == order.symbol.upper():
                if pos.market_value is not None:
                    held += pos.market_value
                elif context.price is not None:
                    held += pos.quantity * context.price
        fraction = (held + value) / (
            equity + value if context.settings.get("include_order_in_equity") else equity
        )
        if fraction > max_fraction:
            return (
                f"{order.symbol} would be {fraction:.4f} of equity {equity}, above the maximum {max_fraction}"
            )
        return None


class RestrictedList:
    """Refuses any order in a restricted instrument.

    Settings: ``symbols`` (tickers as the venue names them) and/or ``instruments`` (internal ids, matched
    through the cross-reference); ``sides`` to restrict only ``buy`` or ``sell``.
    """

    name = "restricted_list"

    def check(self, order: OrderRequest, context: RiskContext) -> str | None:
        sides = {str(s).lower() for s in context.settings.get("sides", ())}
        if (
            sides
            and order.side.value not in sides
            and not (order.side is OrderSide.SELL_SHORT and "sell" in sides)
        ):
            return None
        symbols = {str(s).upper() for s in context.settings.get("symbols", ())}
        instruments = {str(s) for s in context.settings.get("instruments", ())}
        if order.symbol.upper() in symbols:
            return f"{order.symbol} is on the restricted list"
        if context.instrument_id is not None and context.instrument_id in instruments:
            return f"{order.symbol} ({context.instrument_id}) is on the restricted list"
        return None


def builtin_risk_checks() -> list[RiskCheck]:
    """The checks portico ships: max order value, max position concentration, restricted list."""
    return [MaxOrderValue(), MaxPositionConcentration(), RestrictedList()]
