"""Alpaca's JSON shapes, built from the simulated venue's state.

Decimals are strings and timestamps RFC 3339 in UTC, as the real API sends them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from portico.mocks._kit import (
    AccountState,
    AssetInfo,
    BarData,
    FillState,
    OrderState,
    PositionState,
    QuoteData,
    TradeData,
    VenueEvent,
)
from portico.mocks._kit._holder_events import HolderActivity

__all__ = [
    "account_json",
    "activity_json",
    "announcement_json",
    "asset_json",
    "bar_json",
    "decimal_text",
    "non_trade_activity_json",
    "order_json",
    "position_json",
    "quote_json",
    "rfc3339",
    "trade_json",
    "trade_update_json",
]

_CENT = Decimal("0.01")


def rfc3339(value: datetime | None) -> str | None:
    """``2026-01-05T15:00:00.123456Z``, or None."""
    if value is None:
        return None
    # isoformat's C path, several times strftime's speed (five stamps on every order body)
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def decimal_text(value: Decimal | None) -> str | None:
    """A Decimal as Alpaca prints it (no exponent, no trailing zeros beyond what was given)."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def _money(value: Decimal) -> str:
    return format(value.quantize(_CENT), "f")


def order_json(order: OrderState, legs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Order entity."""
    intent = order.extra.get("position_intent")
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": rfc3339(order.created_at),
        "updated_at": rfc3339(order.updated_at),
        "submitted_at": rfc3339(order.submitted_at),
        "filled_at": rfc3339(order.filled_at),
        "expired_at": rfc3339(order.expired_at),
        "canceled_at": rfc3339(order.canceled_at),
        "failed_at": rfc3339(order.failed_at),
        "replaced_at": rfc3339(order.replaced_at),
        "replaced_by": order.replaced_by,
        "replaces": order.replaces,
        "asset_id": order.asset_id,
        "symbol": order.symbol,
        "asset_class": order.asset_class,
        "notional": decimal_text(order.notional),
        "qty": decimal_text(order.qty) if order.notional is None or order.filled_qty else None,
        "filled_qty": decimal_text(order.filled_qty),
        "filled_avg_price": decimal_text(order.filled_avg_price),
        "order_class": order.extra.get("order_class", "simple"),
        "order_type": order.order_type,
        "type": order.order_type,
        "side": order.side,
        "position_intent": intent,
        "time_in_force": order.time_in_force,
        "limit_price": decimal_text(order.limit_price),
        "stop_price": decimal_text(order.stop_price),
        "status": order.status,
        "extended_hours": order.extended_hours,
        "legs": legs,
        "trail_percent": decimal_text(order.trail_percent),
        "trail_price": decimal_text(order.trail_price),
        "hwm": decimal_text(order.hwm),
        "subtag": None,
        "source": None,
        "expires_at": rfc3339(order.expires_at),
    }


def account_json(account: AccountState, balances: dict[str, Decimal]) -> dict[str, Any]:
    """The TradeAccount entity."""
    return {
        "id": account.id,
        "account_number": account.number,
        "status": account.status,
        "crypto_status": "ACTIVE",
        "currency": account.currency,
        "buying_power": _money(balances["buying_power"]),
        "regt_buying_power": _money(balances["regt_buying_power"]),
        "daytrading_buying_power": _money(balances["daytrading_buying_power"]),
        "effective_buying_power": _money(balances["buying_power"]),
        "non_marginable_buying_power": _money(max(Decimal(0), balances["cash"])),
        "options_buying_power": _money(max(Decimal(0), balances["cash"])),
        "bod_dtbp": "0",
        "cash": _money(balances["cash"]),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "portfolio_value": _money(balances["equity"]),
        "pattern_day_trader": account.pattern_day_trader,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": rfc3339(account.created_at),
        "trade_suspended_by_user": False,
        "multiplier": str(account.multiplier),
        "shorting_enabled": True,
        "equity": _money(balances["equity"]),
        "last_equity": _money(balances["last_equity"]),
        "long_market_value": _money(balances["long_market_value"]),
        "short_market_value": _money(balances["short_market_value"]),
        "position_market_value": _money(balances["long_market_value"] - balances["short_market_value"]),
        "initial_margin": _money(balances["initial_margin"]),
        "maintenance_margin": _money(balances["maintenance_margin"]),
        "last_maintenance_margin": _money(balances["maintenance_margin"]),
        "sma": _money(balances["equity"]),
        "daytrade_count": 0,
        "balance_asof": account.created_at.date().isoformat(),
        "options_approved_level": 0,
        "options_trading_level": 0,
    }


def position_json(position: PositionState, price: Decimal, lastday: Decimal, exchange: str) -> dict[str, Any]:
    """The Position entity, valued at ``price``."""
    qty = position.qty
    market_value = qty * price
    cost_basis = qty * position.avg_entry_price
    unrealized = market_value - cost_basis
    intraday = market_value - qty * lastday
    base = abs(cost_basis) or Decimal(1)
    lastday_value = abs(qty * lastday) or Decimal(1)
    return {
        "asset_id": position.asset_id,
        "symbol": position.symbol,
        "exchange": exchange,
        "asset_class": "us_equity",
        "asset_marginable": True,
        "qty": decimal_text(qty),
        "qty_available": decimal_text(qty),
        "avg_entry_price": _money(position.avg_entry_price),
        "side": "long" if qty > 0 else "short",
        "market_value": _money(market_value),
        "cost_basis": _money(cost_basis),
        "unrealized_pl": _money(unrealized),
        "unrealized_plpc": format((unrealized / base).quantize(Decimal("0.0000000001")), "f"),
        "unrealized_intraday_pl": _money(intraday),
        "unrealized_intraday_plpc": format((intraday / lastday_value).quantize(Decimal("0.0000000001")), "f"),
        "current_price": _money(price),
        "lastday_price": _money(lastday),
        "change_today": format(((price - lastday) / lastday).quantize(Decimal("0.0000000001")), "f") if lastday else "0",
    }


def asset_json(asset: AssetInfo) -> dict[str, Any]:
    """The Asset entity (``class`` is the asset class)."""
    return {
        "id": asset.id,
        "class": asset.asset_class,
        "exchange": asset.exchange,
        "symbol": asset.symbol,
        "name": asset.name,
        "status": asset.status,
        "tradable": asset.tradable,
        "marginable": asset.marginable,
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30",
        "margin_requirement_short": "100",
        "shortable": asset.shortable,
        "easy_to_borrow": asset.easy_to_borrow,
        "fractionable": asset.fractionable,
        "attributes": ["fractional_eh_enabled", "has_options"],
    }


def activity_json(fill: FillState) -> dict[str, Any]:
    """A FILL trade activity."""
    stamp = fill.timestamp.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
    return {
        "id": f"{stamp}::{fill.id}",
        "activity_type": "FILL",
        "transaction_time": rfc3339(fill.timestamp),
        "type": "fill" if fill.leaves_qty == 0 else "partial_fill",
        "price": _money(fill.price),
        "qty": decimal_text(fill.qty),
        "side": fill.side,
        "symbol": fill.symbol,
        "leaves_qty": decimal_text(fill.leaves_qty),
        "order_id": fill.order_id,
        "cum_qty": decimal_text(fill.cum_qty),
        "order_status": fill.order_status,
    }


def non_trade_activity_json(item: HolderActivity, activity_type: str) -> dict[str, Any]:
    """A non-trade activity (``DIV`` dividend paid, ``SSP`` stock split) as the Trading API lists it."""
    stamp = item.timestamp.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
    out: dict[str, Any] = {
        "id": f"{stamp}::{item.id}",
        "activity_type": activity_type,
        "date": item.date.isoformat(),
        "net_amount": _money(item.net_amount),
        "description": "Cash DIV" if activity_type == "DIV" else "Stock split",
        "symbol": item.symbol,
        "qty": decimal_text(item.qty),
        "status": "executed",
    }
    if item.per_share_amount is not None:
        out["per_share_amount"] = decimal_text(item.per_share_amount)
    return out


def trade_update_json(event: VenueEvent) -> dict[str, Any]:
    """A ``trade_updates`` stream message for a venue event."""
    data: dict[str, Any] = {
        "event": event.event,
        "timestamp": rfc3339(event.timestamp),
        "order": order_json(event.order),
    }
    if event.fill is not None:
        data["execution_id"] = event.fill.id
        data["price"] = _money(event.fill.price)
        data["qty"] = decimal_text(event.fill.qty)
        data["position_qty"] = decimal_text(event.position_qty)
    if event.event == "new":
        data["execution_id"] = event.order.id
    return {"stream": "trade_updates", "data": data}


def bar_json(bar: BarData, *, stamp: Any = None) -> dict[str, Any]:
    """A bar in data v2 letters (``t`` as RFC 3339 unless ``stamp`` is given)."""
    return {
        "t": stamp if stamp is not None else rfc3339(bar.timestamp).replace(".000000Z", "Z"),  # type: ignore[union-attr]
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": bar.volume,
        "n": bar.trade_count,
        "vw": bar.vwap,
    }


def quote_json(quote: QuoteData, *, stamp: Any = None) -> dict[str, Any]:
    """A quote in data v2 letters."""
    return {
        "t": stamp if stamp is not None else rfc3339(quote.timestamp),
        "ax": quote.ask_exchange,
        "ap": quote.ask_price,
        "as": quote.ask_size // 100,
        "bx": quote.bid_exchange,
        "bp": quote.bid_price,
        "bs": quote.bid_size // 100,
        "c": list(quote.conditions),
        "z": quote.tape,
    }


def trade_json(trade: TradeData, *, stamp: Any = None) -> dict[str, Any]:
    """A trade in data v2 letters."""
    return {
        "t": stamp if stamp is not None else rfc3339(trade.timestamp),
        "x": trade.exchange,
        "p": trade.price,
        "s": trade.size,
        "c": list(trade.conditions),
        "i": trade.trade_id,
        "z": trade.tape,
    }


def announcement_json(action: Any, venue_seed: int) -> dict[str, Any]:
    """A corporate action announcement (``/v2/corporate_actions/announcements``) of a seeded action."""
    import uuid

    key = f"{venue_seed}|{action.symbol}|{action.kind}|{action.ex_date}"
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, "announcement:" + key))
    split = action.kind == "split"
    return {
        "id": ident,
        "corporate_action_id": f"{action.symbol}{action.ex_date:%y%m%d}{'S' if split else 'D'}",
        "ca_type": "split" if split else "dividend",
        "ca_sub_type": "forward_split" if split else "cash",
        "initiating_symbol": action.symbol,
        "initiating_original_cusip": "",
        "target_symbol": action.symbol,
        "target_original_cusip": "",
        "declaration_date": None,
        "ex_date": action.ex_date.isoformat(),
        "record_date": action.record_date.isoformat(),
        "payable_date": action.pay_date.isoformat(),
        "cash": "0" if split else f"{action.cash_amount:.2f}",
        "old_rate": str(action.ratio_from) if split else "1",
        "new_rate": str(action.ratio_to) if split else "1",
    }
