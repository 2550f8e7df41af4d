"""What ``get_market_data`` returns: canonical models per symbol, who served them, and their quality."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from portico.errors import PorticoError
from portico.marketdata._quality import QualityReport

__all__ = ["FallbackAttempt", "MarketDataResult"]


@dataclass(frozen=True)
class FallbackAttempt:
    """A provider that could not serve some symbols, and why (``error``, ``throttled``, ``stale``...)."""

    system: str
    reason: str
    symbols: tuple[str, ...]
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return {
            "system": self.system,
            "reason": self.reason,
            "symbols": list(self.symbols),
            "error": self.error,
        }


def _flat(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str):
        return value.value  # enums
    return value


def _row(model: BaseModel, symbol: str, provider: str | None) -> dict[str, Any]:
    data = model.model_dump()
    row: dict[str, Any] = {"symbol": data.pop("symbol", symbol)}
    for key, value in data.items():
        if isinstance(value, list | dict):
            continue  # nested statements and conditions stay on the models
        row[key] = _flat(value)
    row["provider"] = provider
    return row


@dataclass
class MarketDataResult:
    """The answer of :meth:`~portico.marketdata.MarketDataService.get_market_data`.

    Attributes:
        data_type: the canonical data type (``bars``, ``latest_quote``...).
        system: the system asked for.
        data: per symbol (or pair, or search query): a model, or a list of models oldest first.
        providers: per symbol, the system that served it (a fallback when the asked one could not).
        attempts: providers that could not serve some symbols, and why.
        quality: the quality checks' findings.
        errors: per symbol, the error when no provider could serve it.
        cached: symbols answered from the local cache.
        parameters: the normalised parameters.
    """

    data_type: str
    system: str
    data: dict[str, Any] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)
    attempts: list[FallbackAttempt] = field(default_factory=list)
    quality: QualityReport = field(default_factory=QualityReport)
    errors: dict[str, PorticoError] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def served_by(self) -> str | None:
        """The provider that served the most symbols (see :attr:`providers` for each)."""
        if not self.providers:
            return None
        return Counter(self.providers.values()).most_common(1)[0][0]

    @property
    def fallback_used(self) -> bool:
        """Whether any symbol was served by another system than the one asked for."""
        return any(p != self.system for p in self.providers.values())

    @property
    def ok(self) -> bool:
        """Every symbol served."""
        return not self.errors

    def raise_for_errors(self) -> MarketDataResult:
        """Raise the first symbol's error when some symbol could not be served; return self otherwise."""
        if self.errors:
            raise next(iter(self.errors.values()))
        return self

    def __getitem__(self, symbol: str) -> Any:
        return self.data[symbol]

    def __iter__(self) -> Any:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per model (Decimals as floats), with ``symbol`` and ``provider`` columns."""
        rows: list[dict[str, Any]] = []
        for symbol, value in self.data.items():
            provider = self.providers.get(symbol)
            items = value if isinstance(value, list) else [value]
            rows.extend(_row(item, symbol, provider) for item in items)
        return rows

    def to_pandas(self) -> Any:
        """The data as a pandas DataFrame (one row per model)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.records())

    def to_polars(self) -> Any:
        """The data as a polars DataFrame (one row per model)."""
        import polars as pl

        rows = self.records()
        return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()

    def summary(self) -> dict[str, Any]:
        """A JSON-safe description (no data)."""
        return {
            "data_type": self.data_type,
            "system": self.system,
            "served_by": self.served_by,
            "providers": dict(self.providers),
            "fallback_used": self.fallback_used,
            "attempts": [a.to_dict() for a in self.attempts],
            "errors": {s: e.to_dict() for s, e in self.errors.items()},
            "cached": sorted(self.cached),
            "quality": self.quality.to_dict(),
        }
