"""Alerting: the level rules checked on every evaluation, the channels, and notification delivery.

:class:`Alerting` is that part of :class:`~portico.monitor.IntegrationMonitor`. Rules that read a
service's events are contributed by plugins (:mod:`portico.monitor._rules`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portico.errors import ConfigurationError
from portico.monitor._alerts import SEVERITY_ORDER, Alert, AlertChannel, AlertNotification
from portico.monitor._channel_plugin import portico_alert_channels as _builtin_channels
from portico.monitor._config import RuleConfig
from portico.monitor._logging import get_logger
from portico.monitor._parts import MonitorParts

if TYPE_CHECKING:
    from portico.plugins import PluginManager

__all__ = ["LOG_LEVELS", "Alerting"]

LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
LOG_LEVELS.update({"critical": logging.CRITICAL, "emergency": logging.CRITICAL})
# Rules checked on every tick from current state; an alert of these clears when its condition is gone.
_LEVEL_RULES = (
    "error_rate",
    "circuit_open",
    "system_down",
    "system_degraded",
    "stream_stale",
    "dead_letter_depth",
)


class Alerting(MonitorParts):
    """The monitor's alert evaluation, channels and deliveries (a part of :class:`~portico.monitor.IntegrationMonitor`)."""

    _flush_lock: asyncio.Lock | None

    # -- channels ----------------------------------------------------------------------------------

    @staticmethod
    def _collect_channel_types(plugins: PluginManager | None) -> dict[str, type[Any]]:
        types: dict[str, type[Any]] = {cls.type: cls for cls in _builtin_channels()}
        if plugins is not None:
            for contributed in plugins.hooks.hook.portico_alert_channels():
                for cls in contributed or []:
                    kind = getattr(cls, "type", None)
                    if not isinstance(kind, str) or not callable(getattr(cls, "from_config", None)):
                        # One bad plugin must not take the monitor (and the runtime) down.
                        get_logger("portico.monitor").warning(
                            "alert_channel.invalid",
                            channel=repr(cls),
                            reason="needs a str `type` and `from_config`",
                        )
                        continue
                    types[kind] = cls
        return types

    def _build_channel(self, name: str, options: Mapping[str, Any]) -> AlertChannel:

        kind = options["type"]
        cls = self.channel_types.get(kind)
        if cls is None:
            raise ConfigurationError(
                f"alert channel {name!r} has unknown type {kind!r}; available: {', '.join(sorted(self.channel_types))}",
                path=f"monitoring.channels.{name}.type",
            )
        channel: AlertChannel = cls.from_config(name, options, redactor=self.redactor)
        return channel

    def add_channel(self, channel: AlertChannel) -> None:
        """Add an alert channel built in code (tests, embedding apps)."""
        self.channels[channel.name] = channel

    def _destinations(self) -> list[str]:
        wanted = self.config.alert_destinations
        if not wanted:
            return sorted(self.channels)
        names: list[str] = []
        for item in wanted:
            if item in self.channels:
                names.append(item)
            else:
                typed = [n for n, c in sorted(self.channels.items()) if getattr(c, "type", None) == item]
                # a destination naming no channel stays listed: its deliveries show as dropped, not vanish
                names.extend(typed or [item])
        return list(dict.fromkeys(names))

    # -- alerts ------------------------------------------------------------------------------------

    def evaluate_alerts(self) -> list[Alert]:
        """Check the level rules against current state; fire new alerts, clear the ones whose cause is gone."""
        self.process_pending_calls()
        rules = self.config.alerts
        holding: set[str] = set()
        now = self.clock.monotonic()

        def hold(
            name: str, rule: RuleConfig, system: str | None, summary: str, subject: str = "", **details: Any
        ) -> None:
            if not rule.enabled:
                return
            alert = self.alerts.fire(
                name,
                system=system,
                subject=subject,
                severity=rule.severity,
                summary=summary,
                details=details,
                state_based=True,
            )
            holding.add(alert.key)

        for system in self.systems():
            stats = self._system(system)
            er = rules.error_rate
            calls, errors = stats.window.totals(now, er.window or 300.0)
            threshold = er.threshold if er.threshold is not None else 0.05
            if calls >= er.min_calls and errors / calls > threshold:
                hold(
                    "error_rate",
                    er,
                    system,
                    f"error rate {errors / calls:.0%} over {er.window or 300:g}s ({errors} of {calls} calls)",
                    calls=calls,
                    errors=errors,
                    errors_by_class=dict(stats.errors_by_class),
                )
            if stats.breaker == "open":
                hold("circuit_open", rules.circuit_open, system, "circuit breaker open")
            health = self._health.get(system)
            if health is not None and health.status == "down":
                hold("system_down", rules.system_down, system, f"system down: {health.reason}")
            elif health is not None and health.status == "degraded":
                hold("system_degraded", rules.system_degraded, system, f"system degraded: {health.reason}")
            for stream in self._stale_streams(system):
                hold(
                    "stream_stale",
                    rules.stream_stale,
                    system,
                    f"stream {stream} stale (no message for over {rules.stream_stale.window or 60:g}s)",
                    subject=stream,
                )
            dl = rules.dead_letter_depth
            if dl.threshold is not None and stats.dead_letter_depth > dl.threshold:
                hold(
                    "dead_letter_depth",
                    dl,
                    system,
                    f"dead-letter depth {stats.dead_letter_depth:g} above {dl.threshold:g}",
                    depth=stats.dead_letter_depth,
                )
        self._rules.evaluate(holding)
        self.alerts.reconcile((*_LEVEL_RULES, *self._rules.level_rules), holding)
        self.alerts.expire(rules.event_ttl)
        return self.alerts.active()

    def _evaluate_soon(self) -> None:
        # State changed outside a tick (breaker opened): evaluate now so the alert does not wait a tick.
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self.evaluate_alerts()

    def _alerts_changed(self) -> None:
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for alert in self.alerts.active():
            counts[alert.severity] += 1
        for severity, count in counts.items():
            self.prometheus.alerts_active.labels(severity).set(count)

    def _queue_notification(self, notification: AlertNotification) -> None:
        alert = notification.alert
        self._log.log(
            LOG_LEVELS["warning" if notification.kind != "resolved" else "info"],
            f"alert.{notification.kind}",
            rule=alert.rule,
            system=alert.system,
            subject=alert.subject,
            severity=alert.severity,
            summary=alert.summary,
            correlation_id=alert.correlation_id,
        )
        if not self.config.alert_on_failure:
            return
        destinations = self._destinations()
        if not destinations:
            self._notifications.append(
                {
                    "at": self.clock.now().isoformat(),
                    "channel": None,
                    "kind": notification.kind,
                    "alert": alert.key,
                    "result": "dropped",
                    "error": "no alert channel is configured (monitoring.channels)",
                }
            )
            return
        self._outbox.append((notification, destinations, 0))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.flush_notifications())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush_notifications(self) -> int:
        """Send queued notifications to their channels; failed sends are kept for the next tick (5 tries).

        Returns:
            How many deliveries succeeded.
        """
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        delivered = 0
        async with self._flush_lock:
            retry: list[tuple[AlertNotification, list[str], int]] = []
            while self._outbox:
                notification, destinations, tries = self._outbox.popleft()
                failed: list[str] = []
                for name in destinations:
                    channel = self.channels.get(name)
                    if channel is None:
                        # not sent anywhere: say so where the deliveries are shown, never drop it silently
                        self._notifications.append(
                            {
                                "at": self.clock.now().isoformat(),
                                "channel": name,
                                "kind": notification.kind,
                                "alert": notification.alert.key,
                                "result": "dropped",
                                "error": f"no alert channel named {name!r} is configured",
                            }
                        )
                        continue
                    try:
                        await channel.send(notification)
                    except Exception as exc:
                        failed.append(name)
                        message = self.redactor.redact_text(f"{type(exc).__name__}: {exc}")
                        self.prometheus.alerts_sent.labels(self._label(name), "failed").inc()
                        self._log.warning(
                            "alert.delivery_failed",
                            channel=name,
                            alert=notification.alert.key,
                            error=message,
                            attempt=tries + 1,
                        )
                        self._notifications.append(
                            {
                                "at": self.clock.now().isoformat(),
                                "channel": name,
                                "kind": notification.kind,
                                "alert": notification.alert.key,
                                "result": "failed",
                                "error": message,
                            }
                        )
                    else:
                        delivered += 1
                        self.prometheus.alerts_sent.labels(self._label(name), "sent").inc()
                        self._notifications.append(
                            {
                                "at": self.clock.now().isoformat(),
                                "channel": name,
                                "kind": notification.kind,
                                "alert": notification.alert.key,
                                "result": "sent",
                            }
                        )
                if failed and tries + 1 < 5:
                    retry.append((notification, failed, tries + 1))
            self._outbox.extend(retry)
        return delivered
