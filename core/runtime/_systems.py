"""The runtime's state for each configured system, and the live views of it handed to services."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from portico.config import SystemConfig
from portico.errors import ConfigurationError
from portico.sdk import Capability, Connector, ConnectorSpec, RateLimitPolicy

if TYPE_CHECKING:
    from portico.runtime._composition import Composition

__all__ = [
    "ConnectorView",
    "LiveTradingOptIns",
    "SystemRuntime",
    "SystemState",
    "SystemStatus",
    "symbol_list",
]

SystemState = Literal["registered", "connecting", "connected", "disconnected", "error"]


class SystemStatus(BaseModel):
    """What ``get_external_system_status`` answers."""

    model_config = ConfigDict(frozen=True)

    system_id: str
    connector: str
    kinds: list[str]
    enabled: bool
    state: SystemState
    environment: str
    mock: bool
    urls: dict[str, str]
    capabilities: list[str]
    disabled_features: list[str]
    breaker_state: str | None = None
    connected_at: datetime | None = None
    last_error: str | None = None


@dataclass
class SystemRuntime:
    """The runtime's state for one configured system."""

    system_id: str
    config: SystemConfig
    spec: ConnectorSpec
    connector_cls: type[Connector]
    policy: RateLimitPolicy
    state: SystemState = "registered"
    connector: Connector | None = None
    limiter: Any = None
    breaker: Any = None
    mock: Any = None
    urls: dict[str, str] = field(default_factory=dict)
    connected_at: datetime | None = None
    last_error: str | None = None
    clients: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def disabled(self) -> set[Capability]:
        """Capabilities switched off by the system's ``features`` flags."""
        off: set[Capability] = set()
        for flag, enabled in self.config.features.items():
            if not enabled:
                off.update(self.spec.feature_flags.get(flag, ()))
        return off


class ConnectorView(Mapping[str, Connector]):
    """Live view of the connected connectors by system id, handed to services."""

    def __init__(self, runtime: Composition) -> None:
        self._runtime = runtime

    def __getitem__(self, system_id: str) -> Connector:
        system = self._runtime._system(system_id)
        if system.connector is None:
            raise ConfigurationError(f"system {system_id!r} is not connected", system=system_id)
        return system.connector

    def __iter__(self) -> Iterator[str]:
        return iter([sid for sid, s in self._runtime.systems.items() if s.connector is not None])

    def __len__(self) -> int:
        return sum(1 for s in self._runtime.systems.values() if s.connector is not None)


class LiveTradingOptIns(Collection[str]):
    """Live view of the systems whose config says ``allow_live_trading: true``, handed to the trading
    service (systems registered at run time count as soon as they are added)."""

    def __init__(self, runtime: Composition) -> None:
        self._runtime = runtime

    def _ids(self) -> list[str]:
        return [sid for sid, s in self._runtime.systems.items() if s.config.allow_live_trading]

    def __contains__(self, system_id: object) -> bool:
        system = self._runtime.systems.get(system_id) if isinstance(system_id, str) else None
        return system is not None and system.config.allow_live_trading

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids())

    def __len__(self) -> int:
        return len(self._ids())


def symbol_list(symbols: Any) -> list[str]:
    """``symbols`` as a list of non-empty strings; anything else is a clear error naming the argument."""
    items = [symbols] if isinstance(symbols, str) else symbols
    if not isinstance(items, list | tuple) or not items:
        raise ConfigurationError(
            f"symbols must be a symbol or a non-empty list of symbols, got {symbols!r}", path="symbols"
        )
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise ConfigurationError(
                f"symbols[{i}] must be a non-empty string, got {item!r}", path=f"symbols[{i}]"
            )
    return list(items)
