"""The canonical form of an order request, to tell "the same order again" from "a different order"."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import Enum
from typing import Any

from portico.models import Order, OrderRequest, OrderSide, OrderType

__all__ = ["adoption_differences", "canonical_request", "differences", "fingerprint"]


def _canon(value: Any) -> Any:
    if isinstance(value, Decimal):
        # 10, 10.0 and 1E+1 are the same quantity
        normal = value.normalize()
        return format(normal, "f")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    return value


def canonical_request(request: OrderRequest) -> dict[str, Any]:
    """Every parameter of the request in a normalised, JSON-safe form."""
    return _canon(request.model_dump(mode="python"))


def fingerprint(request: OrderRequest) -> tuple[str, dict[str, Any]]:
    """(sha256 of the canonical request, the canonical request)."""
    canon = canonical_request(request)
    blob = json.dumps(canon, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest(), canon


def differences(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ, as ``{field: (stored, given)}``."""
    keys = set(stored) | set(given)
    return {k: (stored.get(k), given.get(k)) for k in sorted(keys) if stored.get(k) != given.get(k)}


def _side(side: OrderSide) -> OrderSide:
    # venues report a short sale as a sell (Alpaca's wire has no sell_short side)
    return OrderSide.SELL if side is OrderSide.SELL_SHORT else side


def adoption_differences(request: OrderRequest, order: Order) -> dict[str, tuple[Any, Any]]:
    """Parameters in which a venue's order differs from the intent about to be linked to it, as
    ``{field: (intent, venue)}``.

    Compared: symbol, side, quantity (or notional), order type, limit and stop price, time in force and
    account. A field the venue does not report, or an account the intent leaves to the venue, is not
    compared; numbers are compared as numbers (1 and 1.0 are the same quantity).
    """
    pairs: list[tuple[str, Any, Any]] = [
        ("symbol", request.symbol.strip().upper(), order.symbol.strip().upper()),
        ("side", _side(request.side).value, _side(order.side).value),
        ("order_type", request.order_type.value, order.order_type.value),
        ("time_in_force", request.time_in_force.value, order.time_in_force.value),
    ]
    optional: list[tuple[str, Any, Any]] = [
        ("quantity", request.quantity, order.quantity),
        ("notional", request.notional, order.notional),
        ("limit_price", request.limit_price, order.limit_price),
        ("stop_price", request.stop_price, order.stop_price),
        ("account_id", request.account_id, order.account_id),
    ]
    out = {name: (mine, theirs) for name, mine, theirs in pairs if mine != theirs}
    for name, mine, theirs in optional:
        if theirs is None or (name == "account_id" and mine is None):
            # the venue did not report it (a notional order has no quantity in some answers), or
            # the intent left it to the venue (no account: the default one)
            continue
        if name == "stop_price" and request.order_type is OrderType.TRAILING_STOP:
            # the venue reports the trailing stop it computed, which the intent cannot name
            continue
        if mine != theirs:
            out[name] = (_canon(mine), _canon(theirs))
    return dict(sorted(out.items()))
