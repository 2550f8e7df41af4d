"""The state the parts of :class:`~portico.monitor.IntegrationMonitor` share, declared once.

The monitor is assembled from parts, each in the module its job names (:mod:`._calls`,
:mod:`._health_checks`, :mod:`._alerting`, and :mod:`._monitor` for events, metrics, history and the
loop). :class:`MonitorParts` declares the attributes they all read (set in
``IntegrationMonitor.__init__``) and the methods one part calls on another, so each part type-checks
on its own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from portico.clock import Clock
from portico.monitor._alerts import Alert, AlertChannel, AlertManager, AlertNotification
from portico.monitor._config import MonitoringConfig
from portico.monitor._health import HealthCheck, HealthReport
from portico.monitor._logging import CachedLogger
from portico.monitor._metrics import MetricsRegistry, SystemStats
from portico.monitor._redact import Redactor

if TYPE_CHECKING:
    from portico.monitor._monitor import IntegrationMonitor
    from portico.monitor._rules import ContributedRules

__all__ = ["MonitorParts"]


class MonitorParts:
    """Declarations only: the monitor's shared state and the methods its parts call across."""

    config: MonitoringConfig
    clock: Clock
    redactor: Redactor
    enabled: bool
    prometheus: MetricsRegistry
    alerts: AlertManager
    channels: dict[str, AlertChannel]
    channel_types: dict[str, type[Any]]
    _label: Callable[[str], str]
    _calls_log: CachedLogger
    _stats: dict[str, SystemStats]
    _children: dict[tuple[str, str, str, str], tuple[Any, ...]]
    _pending_calls: deque[tuple[Any, str | None]]
    _health: dict[str, HealthReport]
    _declared: set[str]
    _checks: dict[str, HealthCheck]
    _next_check: dict[str, float]
    _outbox: deque[tuple[AlertNotification, list[str], int]]
    _notifications: deque[dict[str, Any]]
    _tasks: set[asyncio.Task[Any]]
    _running_checks: dict[str, tuple[asyncio.Task[HealthReport], float]]
    _probes: list[Callable[[IntegrationMonitor], None]]
    _rules: ContributedRules

    @property
    def _log(self) -> Any:
        raise NotImplementedError

    def _system(self, system: str) -> SystemStats:
        raise NotImplementedError

    def systems(self) -> list[str]:
        raise NotImplementedError

    def add_system(self, system_id: str) -> None:
        raise NotImplementedError

    def emit(self, event: str, *, system: str | None = None, severity: str = "info", **data: Any) -> None:
        raise NotImplementedError

    def process_pending_calls(self) -> int:
        raise NotImplementedError

    def evaluate_alerts(self) -> list[Alert]:
        raise NotImplementedError

    def _stale_streams(self, system_id: str) -> list[str]:
        raise NotImplementedError

    def _evaluate_soon(self) -> None:
        raise NotImplementedError

    def set_breaker_state(self, system: str, state: str) -> None:
        raise NotImplementedError
