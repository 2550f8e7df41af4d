"""The canonical form of an order request, to tell "the same order again" from "a different order"."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import Enum
from typing import Any

from portico.models import OrderRequest

__all__ = ["canonical_request", "differences", "fingerprint"]


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
