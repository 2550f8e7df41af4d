"""Alert rules contributed by plugins (``portico_alert_rules``), run inside one monitor.

The monitor's own rules watch what every system has (calls, breakers, health, streams, dead letters).
What a service's events mean (a job failed, a file is late, a symbol's market data is stale) is that
service's to say: it contributes an :class:`~portico.contributions.AlertRules`, and
:class:`ContributedRules` routes the events it names to its handler and asks it to hold its level
conditions on every evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from portico.contributions import (
    AlertContext,
    AlertEvent,
    AlertRuleHandler,
    AlertRules,
    RuleSettings,
    resolve_ref,
)
from portico.monitor._config import RuleConfig
from portico.monitor._logging import get_logger

if TYPE_CHECKING:
    from portico.monitor._monitor import IntegrationMonitor

__all__ = ["ContributedRules"]


class _Context(AlertContext):
    """The monitor as one contribution's handler sees it."""

    def __init__(self, monitor: IntegrationMonitor, defaults: Mapping[str, Mapping[str, Any]]) -> None:
        self._monitor = monitor
        self._defaults = {name: dict(options) for name, options in defaults.items()}
        self._settings: dict[str, tuple[Any, RuleConfig]] = {}
        self.holding: set[str] | None = None

    def rule(self, name: str) -> RuleSettings:
        configured = getattr(self._monitor.config.alerts, name, None)
        cached = self._settings.get(name)
        if cached is not None and cached[0] is configured:
            return cached[1]
        # what the configuration says of the rule, over the contribution's defaults
        given = (
            configured.model_dump(include=configured.model_fields_set)
            if isinstance(configured, RuleConfig)
            else {}
        )
        settings = RuleConfig(**{**self._defaults.get(name, {}), **given})
        self._settings[name] = (configured, settings)
        return settings

    def now(self) -> datetime:
        return self._monitor.clock.now()

    def monotonic(self) -> float:
        return self._monitor.clock.monotonic()

    def fire(
        self,
        rule: str,
        *,
        system: str | None,
        severity: str,
        summary: str,
        subject: str = "",
        details: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self._monitor.alerts.fire(
            rule,
            system=system,
            subject=subject,
            severity=severity,  # type: ignore[arg-type]  # a RuleConfig's severity, checked by its model
            summary=summary,
            details=details,
            correlation_id=correlation_id,
        )

    def resolve(self, rule: str, *, system: str | None, subject: str = "") -> None:
        self._monitor.alerts.resolve(rule, system=system, subject=subject)

    def is_active(self, rule: str, system: str | None, subject: str = "") -> bool:
        return self._monitor.alerts.get(rule, system, subject) is not None

    def hold(self, rule: str, system: str | None, summary: str, subject: str = "", **details: Any) -> None:
        if self.holding is None:
            raise RuntimeError("hold() is only meaningful inside evaluate()")
        settings = self.rule(rule)
        if not settings.enabled:
            return
        alert = self._monitor.alerts.fire(
            rule,
            system=system,
            subject=subject,
            severity=settings.severity,  # type: ignore[arg-type]
            summary=summary,
            details=details,
            state_based=True,
        )
        self.holding.add(alert.key)

    def record_run(
        self,
        *,
        job: str,
        system: str | None,
        ok: bool,
        duration: float | None = None,
        records_imported: int = 0,
        records_rejected: int = 0,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self._monitor.record_run(
            job=job,
            system=system,
            ok=ok,
            duration=duration,
            records_imported=records_imported,
            records_rejected=records_rejected,
            details=details,
        )


class ContributedRules:
    """Every contributed rule set of one monitor: event routing and level evaluation.

    Args:
        monitor: the monitor the handlers report to.
        contributions: the :class:`~portico.contributions.AlertRules` of every plugin.
    """

    def __init__(self, monitor: IntegrationMonitor, contributions: Iterable[AlertRules]) -> None:
        self._handlers: list[tuple[AlertRules, _Context, AlertRuleHandler]] = []
        self._by_event: dict[str, list[tuple[AlertRules, AlertRuleHandler]]] = {}
        level: list[str] = []
        names: list[str] = []
        for rules in contributions:
            if not isinstance(rules, AlertRules):
                get_logger("portico.monitor").warning(
                    "alert_rules.invalid",
                    contribution=repr(rules),
                    reason="expected portico.contributions.AlertRules",
                )
                continue
            context = _Context(monitor, rules.defaults)
            handler = resolve_ref(rules.build)(context)
            self._handlers.append((rules, context, handler))
            for event in rules.events:
                self._by_event.setdefault(event, []).append((rules, handler))
            level.extend(rules.level_rules)
            names.extend(rules.rule_names)
        self.level_rules: tuple[str, ...] = tuple(dict.fromkeys(level))
        self.rule_names: tuple[str, ...] = tuple(dict.fromkeys(names))
        """Every rule name the contributions declare (configurable under ``monitoring.alerts``)."""
        self._monitor = monitor

    def dispatch(
        self, event: str, system: str | None, data: Mapping[str, Any], correlation_id: str | None
    ) -> None:
        """Give ``event`` to every handler that reads it; one that raises is logged and skipped."""
        handlers = self._by_event.get(event)
        if not handlers:
            return
        seen = AlertEvent(name=event, system=system, data=data, correlation_id=correlation_id)
        for rules, handler in handlers:
            try:
                handler.on_event(seen)
            except Exception as exc:
                self._failed(rules, "on_event", exc)

    def evaluate(self, holding: set[str]) -> None:
        """Let every handler hold its level conditions; the keys held are added to ``holding``."""
        for rules, context, handler in self._handlers:
            context.holding = holding
            try:
                handler.evaluate()
            except Exception as exc:
                self._failed(rules, "evaluate", exc)
            finally:
                context.holding = None

    def _failed(self, rules: AlertRules, step: str, exc: Exception) -> None:
        self._monitor._log.warning(
            "alert_rules.failed",
            contribution=rules.name,
            step=step,
            error=self._monitor.redactor.redact_text(f"{type(exc).__name__}: {exc}"),
        )
