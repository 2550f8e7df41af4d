"""Alerts: active conditions, deduplicated, re-notified on an interval, and resolved when they clear."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from portico.clock import Clock
from portico.monitor._config import Severity

__all__ = [
    "SEVERITY_ORDER",
    "Alert",
    "AlertChannel",
    "AlertManager",
    "AlertNotification",
    "NotificationKind",
]

SEVERITY_ORDER: dict[str, int] = {"warning": 1, "critical": 2, "emergency": 3}
NotificationKind = Literal["firing", "renotify", "resolved"]


class Alert(BaseModel):
    """One alert condition (a rule, for a system, about a subject), active or resolved.

    The key ``rule/system/subject`` deduplicates: the same condition seen again updates this alert,
    it never creates a second one.
    """

    model_config = ConfigDict(frozen=False)

    rule: str
    system: str | None = None
    subject: str = ""
    severity: Severity = "warning"
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime
    last_seen_at: datetime
    last_notified_at: datetime | None = None
    notifications: int = 0
    resolved_at: datetime | None = None
    correlation_id: str | None = None
    state_based: bool = False
    """True when the monitor re-checks the condition every tick (it clears by itself when the cause is
    gone); False for alerts raised by an event, which clear by a later event or expire."""

    @property
    def key(self) -> str:
        """``rule/system/subject``: what makes two observations the same alert."""
        return f"{self.rule}/{self.system or '-'}/{self.subject}"

    @property
    def active(self) -> bool:
        """Whether the condition still holds."""
        return self.resolved_at is None


class AlertNotification(BaseModel):
    """What a channel sends: a new alert, a reminder that it is still active, or its resolution."""

    model_config = ConfigDict(frozen=True)

    kind: NotificationKind
    alert: Alert
    sent_at: datetime
    source: str = "portico"
    """The runtime's name (host or configured), so several deployments can share one channel."""

    @property
    def title(self) -> str:
        """One line: ``[portico CRITICAL] alpaca_paper: circuit breaker open`` (``RESOLVED`` when cleared)."""
        label = "RESOLVED" if self.kind == "resolved" else self.alert.severity.upper()
        where = f"{self.alert.system}: " if self.alert.system else ""
        return f"[{self.source} {label}] {where}{self.alert.summary}"

    def text(self) -> str:
        """A plain-text body: the title, when it started, its details."""
        a = self.alert
        lines = [self.title, "", f"rule: {a.rule}", f"severity: {a.severity}"]
        if a.system:
            lines.append(f"system: {a.system}")
        if a.subject:
            lines.append(f"subject: {a.subject}")
        lines.append(f"started: {a.started_at.isoformat()}")
        if self.kind == "resolved" and a.resolved_at is not None:
            lines.append(f"resolved: {a.resolved_at.isoformat()}")
        elif self.kind == "renotify":
            lines.append(f"still active (notification {a.notifications + 1})")
        if a.correlation_id:
            lines.append(f"correlation_id: {a.correlation_id}")
        for key, value in sorted(a.details.items()):
            lines.append(f"{key}: {value}")
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The JSON document webhooks receive."""
        return {
            "kind": self.kind,
            "title": self.title,
            "source": self.source,
            "sent_at": self.sent_at.isoformat(),
            "alert": {
                "key": self.alert.key,
                **self.alert.model_dump(mode="json"),
            },
        }


@runtime_checkable
class AlertChannel(Protocol):
    """A destination for alert notifications, provided by a ``portico_alert_channels`` plugin.

    A channel class has a ``type`` (the ``type:`` in ``monitoring.channels``), is built with
    ``from_config(name, options, redactor=...)`` and sends with ``await send(notification)``, raising
    on failure (the monitor retries on its next tick and counts the failure).
    """

    type: ClassVar[str]
    name: str

    async def send(self, notification: AlertNotification) -> None:
        """Deliver one notification."""
        ...


class AlertManager:
    """Keeps alerts, decides when to notify, and hands notifications to a sender.

    Args:
        clock: the time source.
        renotify_interval: seconds before a still-active alert is sent again.
        send_resolved: whether to send a notice when an alert clears.
        notify: called with each notification to send (the monitor queues it for its channels).
        on_change: called after the set of active alerts changed (metrics, dashboard).
    """

    def __init__(
        self,
        *,
        clock: Clock,
        renotify_interval: float,
        send_resolved: bool = True,
        notify: Callable[[AlertNotification], None],
        on_change: Callable[[], None] | None = None,
        source: str = "portico",
        history: int = 200,
    ) -> None:
        self.clock = clock
        self.renotify_interval = renotify_interval
        self.send_resolved = send_resolved
        self._notify = notify
        self._on_change = on_change or (lambda: None)
        self.source = source
        self._active: dict[str, Alert] = {}
        self._resolved: list[Alert] = []
        self._history = history

    # -- queries ---------------------------------------------------------------------------------

    def active(self, system: str | None = None) -> list[Alert]:
        """Active alerts, most severe and oldest first."""
        alerts = [a for a in self._active.values() if system is None or a.system == system]
        return sorted(alerts, key=lambda a: (-SEVERITY_ORDER[a.severity], a.started_at))

    def recently_resolved(self, limit: int = 20) -> list[Alert]:
        """The latest resolved alerts, newest first."""
        return list(reversed(self._resolved[-limit:]))

    def get(self, rule: str, system: str | None = None, subject: str = "") -> Alert | None:
        """The active alert for a condition, if any."""
        return self._active.get(_key(rule, system, subject))

    # -- changes ---------------------------------------------------------------------------------

    def fire(
        self,
        rule: str,
        *,
        system: str | None,
        severity: Severity,
        summary: str,
        subject: str = "",
        details: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        state_based: bool = False,
    ) -> Alert:
        """Record that a condition holds now; notify when it is new or due for a reminder."""
        now = self.clock.now()
        key = _key(rule, system, subject)
        alert = self._active.get(key)
        if alert is None:
            alert = Alert(
                rule=rule,
                system=system,
                subject=subject,
                severity=severity,
                summary=summary,
                details=details or {},
                started_at=now,
                last_seen_at=now,
                correlation_id=correlation_id,
                state_based=state_based,
            )
            self._active[key] = alert
            self._send("firing", alert, now)
            self._on_change()
            return alert
        escalated = SEVERITY_ORDER[severity] > SEVERITY_ORDER[alert.severity]
        alert.last_seen_at = now
        alert.summary = summary
        alert.severity = severity
        if details:
            alert.details = details
        if correlation_id:
            alert.correlation_id = correlation_id
        due = (
            alert.last_notified_at is None
            or (now - alert.last_notified_at).total_seconds() >= self.renotify_interval
        )
        if escalated:
            self._send("firing", alert, now)
            self._on_change()
        elif due:
            self._send("renotify", alert, now)
        return alert

    def resolve(self, rule: str, *, system: str | None, subject: str = "") -> Alert | None:
        """Record that a condition cleared; send the resolved notice. No-op when it was not active."""
        alert = self._active.pop(_key(rule, system, subject), None)
        if alert is None:
            return None
        now = self.clock.now()
        alert.resolved_at = now
        self._resolved.append(alert)
        del self._resolved[: -self._history]
        if self.send_resolved:
            self._send("resolved", alert, now)
        self._on_change()
        return alert

    def reconcile(self, rules: Iterable[str], holding: set[str]) -> list[Alert]:
        """Resolve every active alert of ``rules`` whose key is not in ``holding`` (level-checked rules)."""
        rules = set(rules)
        cleared = [
            a for a in list(self._active.values()) if a.state_based and a.rule in rules and a.key not in holding
        ]
        for alert in cleared:
            self.resolve(alert.rule, system=alert.system, subject=alert.subject)
        return cleared

    def expire(self, ttl: float) -> list[Alert]:
        """Resolve event-raised alerts not seen again for ``ttl`` seconds (nothing will clear them otherwise)."""
        now = self.clock.now()
        stale = [
            a
            for a in list(self._active.values())
            if not a.state_based and (now - a.last_seen_at).total_seconds() >= ttl
        ]
        for alert in stale:
            self.resolve(alert.rule, system=alert.system, subject=alert.subject)
        return stale

    def _send(self, kind: NotificationKind, alert: Alert, now: datetime) -> None:
        notification = AlertNotification(
            kind=kind, alert=alert.model_copy(deep=True), sent_at=now, source=self.source
        )
        if kind != "resolved":
            alert.last_notified_at = now
            alert.notifications += 1
        self._notify(notification)


def _key(rule: str, system: str | None, subject: str) -> str:
    return f"{rule}/{system or '-'}/{subject}"
