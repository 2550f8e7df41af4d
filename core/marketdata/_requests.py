"""What each market data type means: the capability serving it, its model, and its parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from portico.errors import ConfigurationError
from portico.models import (
    Bar,
    BarInterval,
    CorporateAction,
    Fundamentals,
    FxRate,
    Instrument,
    NewsItem,
    Quote,
    Snapshot,
    Trade,
)
from portico.sdk import Capability, StreamKind

__all__ = ["DATA_TYPES", "DataKind", "Request", "normalize_request"]


@dataclass(frozen=True)
class DataKind:
    """A data type: the capability that serves it, its model, whether it takes a symbol list, whether each
    symbol maps to a list of models, and the stream that delivers it live."""

    name: str
    capability: Capability
    model: type[Any]
    batched: bool = False
    many: bool = False
    stream: StreamKind | None = None
    series: bool = False


DATA_TYPES: dict[str, DataKind] = {
    k.name: k
    for k in (
        DataKind("bars", Capability.GET_BARS, Bar, many=True, stream=StreamKind.BARS, series=True),
        DataKind("quotes", Capability.GET_QUOTES, Quote, many=True),
        DataKind("trades", Capability.GET_TRADES, Trade, many=True),
        DataKind("latest_quote", Capability.GET_LATEST_QUOTES, Quote, batched=True, stream=StreamKind.QUOTES),
        DataKind("latest_trade", Capability.GET_LATEST_TRADES, Trade, batched=True, stream=StreamKind.TRADES),
        DataKind("snapshot", Capability.GET_SNAPSHOTS, Snapshot, batched=True),
        DataKind("fundamentals", Capability.GET_FUNDAMENTALS, Fundamentals),
        DataKind("fx_rate", Capability.GET_FX_RATE, FxRate),
        DataKind("fx_series", Capability.GET_FX_SERIES, Bar, many=True, series=True),
        DataKind("search", Capability.SEARCH_INSTRUMENTS, Instrument, many=True),
        DataKind("corporate_actions", Capability.GET_CORPORATE_ACTIONS, CorporateAction, many=True),
        DataKind("news", Capability.GET_NEWS, NewsItem, many=True),
    )
}
"""Every data type ``get_market_data`` serves."""

_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "daily_prices": ("bars", {"interval": BarInterval.DAY}),
    "intraday_prices": ("bars", {"interval": BarInterval.MIN_5}),
    "prices": ("bars", {}),
    "quote": ("latest_quote", {}),
    "latest_quotes": ("latest_quote", {}),
    "latest_trades": ("latest_trade", {}),
    "snapshots": ("snapshot", {}),
    "fx": ("fx_rate", {}),
    "instruments": ("search", {}),
    "fundamental_data": ("fundamentals", {}),
}
_CONTROL = {"cache", "max_age", "fallback", "quality"}
_KNOWN = {"interval", "start", "end", "limit", "adjusted", "statements", *_CONTROL}


@dataclass(frozen=True)
class Request:
    """A normalised request: the data kind, the connector call's arguments, and the service's controls."""

    kind: DataKind
    params: dict[str, Any]
    use_cache: bool = True
    max_age: float | None = None
    fallback: bool = True
    quality: bool = True

    def cache_params(self) -> dict[str, Any]:
        """The parameters that identify an answer (JSON-safe)."""
        return {k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, BarInterval) else v)
                for k, v in sorted(self.params.items())}  # fmt: skip

    @property
    def historical(self) -> bool:
        """Whether the requested window ended in the past (its answer no longer changes)."""
        return self.params.get("end") is not None


def _when(name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigurationError(
                f"parameter {name!r} must be timezone-aware, got {value.isoformat()}", path=name
            )
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0), UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(
                f"parameter {name!r}: {value!r} is not an ISO date or time", path=name
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ConfigurationError(f"parameter {name!r}: {value!r} is not a date or time", path=name)


def normalize_request(data_type: str, parameters: Mapping[str, Any]) -> Request:
    """Check a data type and its parameters; aliases (``daily_prices``...) resolve to canonical types.

    Raises:
        ConfigurationError: unknown data type, unknown parameter, or a value of the wrong shape.
    """
    name = data_type.strip().lower()
    defaults: dict[str, Any] = {}
    if name in _ALIASES:
        name, defaults = _ALIASES[name]
    if name not in DATA_TYPES:
        known = sorted({*DATA_TYPES, *_ALIASES})
        raise ConfigurationError(
            f"unknown market data type {data_type!r}; use one of {known}", path="data_type"
        )
    kind = DATA_TYPES[name]
    unknown = set(parameters) - _KNOWN
    if unknown:
        raise ConfigurationError(
            f"unknown parameter(s) {sorted(unknown)} for {name}; known: {sorted(_KNOWN)}", path="parameters"
        )
    merged = {**defaults, **{k: v for k, v in parameters.items() if k not in _CONTROL}}
    params: dict[str, Any] = {}
    if kind.capability in (Capability.GET_BARS, Capability.GET_FX_SERIES):
        try:
            params["interval"] = BarInterval(merged.get("interval", BarInterval.DAY))
        except ValueError:
            raise ConfigurationError(
                f"interval {merged.get('interval')!r} is not one of {[i.value for i in BarInterval]}",
                path="interval",
            ) from None
    for key in ("start", "end"):
        if merged.get(key) is not None:
            params[key] = _when(key, merged[key])
    if merged.get("limit") is not None:
        limit = merged["limit"]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigurationError(f"limit must be a positive integer, got {limit!r}", path="limit")
        params["limit"] = limit
    if kind.capability is Capability.GET_BARS and merged.get("adjusted"):
        params["adjusted"] = True
    if kind.capability is Capability.GET_FUNDAMENTALS and merged.get("statements"):
        params["statements"] = True
    max_age = parameters.get("max_age")
    return Request(
        kind=kind,
        params=params,
        use_cache=bool(parameters.get("cache", True)),
        max_age=float(max_age) if max_age is not None else None,
        fallback=bool(parameters.get("fallback", True)),
        quality=bool(parameters.get("quality", True)),
    )
