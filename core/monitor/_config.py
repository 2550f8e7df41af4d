"""The ``monitoring`` section of the configuration: the original plan's keys, extended.

The plan's keys stay as they were (``log_level``, ``performance_tracking``, ``health_check_interval``,
``alert_on_failure``, ``alert_destinations``); everything else is optional with working defaults::

    monitoring:
      log_level: INFO
      log_format: json                # json (production) | console (development)
      performance_tracking: true      # false: calls are neither logged nor measured
      health_check_interval: 300      # seconds
      alert_on_failure: true          # false: rules are evaluated and shown, nothing is sent
      alert_destinations: [ops_mail, slack]   # names under `channels` (or a channel type)
      http: {host: 127.0.0.1, port: 8787, token: "${PORTICO_DASHBOARD_TOKEN}", protect_metrics: false,
             allowed_hosts: [portico.internal]}   # Host names answered besides localhost/127.0.0.1
      history: {sample_interval: 60, raw_retention: 86400, rollup_interval: 3600, rollup_retention: 2592000}
      alerts:
        renotify_interval: 3600
        error_rate: {threshold: 0.05, window: 300, min_calls: 10, severity: critical}
        circuit_open: {severity: critical}
        ...
      channels:
        ops_mail: {type: email, host: smtp.company.com, port: 587, use_tls: true, username: ..., password: ...,
                   sender: portico@company.com, recipients: [ops@company.com]}
        slack: {type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}
        pager: {type: webhook, url: https://hooks.company.com/portico, secret: "${WEBHOOK_SECRET}"}
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = [
    "BUILTIN_RULES",
    "AlertRulesConfig",
    "HistoryConfig",
    "HttpServerConfig",
    "MonitoringConfig",
    "RuleConfig",
    "Severity",
    "coerce_monitoring_config",
    "unknown_rule_problems",
]

Severity = Literal["warning", "critical", "emergency"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleConfig(_Strict):
    """One alert rule: whether it runs, how severe it is and its threshold (meaning depends on the rule)."""

    enabled: bool = True
    severity: Severity = "warning"
    threshold: float | None = None
    window: float | None = Field(default=None, gt=0)
    """Seconds of history the rule looks at (error rate) or the staleness limit (streams, market data)."""
    min_calls: int = Field(default=10, ge=1)
    """Error-rate rule: fewer calls than this in the window never fire (one failure of two is noise)."""
    min_history: int = Field(default=3, ge=1)
    """Row-count rule: how many earlier runs make a "usual" count."""


_RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "error_rate": {"severity": "critical", "threshold": 0.05, "window": 300},
    "circuit_open": {"severity": "critical"},
    "system_down": {"severity": "emergency"},
    "system_degraded": {"severity": "warning"},
    "stream_stale": {"severity": "warning", "window": 60},
    "dead_letter_depth": {"severity": "warning", "threshold": 100},
}
"""The monitor's own rules, about what every system has (calls, breakers, health, streams, dead letters)."""

BUILTIN_RULES: tuple[str, ...] = tuple(_RULE_DEFAULTS)
"""The names of the monitor's own rules; a service's rules come with its ``portico_alert_rules``."""


def _rule(name: str) -> Any:
    return Field(default_factory=lambda: RuleConfig(**_RULE_DEFAULTS[name]))


class AlertRulesConfig(BaseModel):
    """``monitoring.alerts``: every rule's threshold and severity, and notification timing.

    The monitor's own rules are fields; a rule contributed by a plugin (``portico_alert_rules``: the
    jobs service's ``file_late``, a third party's ``acme_limit_breached``) is configured the same way,
    under its name, and kept as a :class:`RuleConfig` among the extra keys (``config.alerts.file_late``
    reads it). Whether such a name belongs to a contributed rule is checked where the plugins are
    known: :func:`unknown_rule_problems` (``load_config``, and the monitor when it is built).

    A rule given partly (``error_rate: {threshold: 0.2}``) keeps the defaults of what it does not say:
    the monitor's own defaults here, a contribution's ``defaults`` when its handler reads the rule.
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, RuleConfig] = Field(init=False)  # type: ignore[assignment]

    renotify_interval: float = Field(default=3600.0, gt=0)
    """Seconds before a still-active alert is sent again."""
    send_resolved: bool = True
    event_ttl: float = Field(default=86400.0, gt=0)
    """Seconds after which an alert raised by an event (empty file, failed job...) that nothing cleared
    is resolved (a daily feed's alert lasts until the next day's run)."""
    error_rate: RuleConfig = _rule("error_rate")
    """Share of failed calls (0..1) over ``window`` seconds; default 5% over 300 s, critical."""
    circuit_open: RuleConfig = _rule("circuit_open")
    system_down: RuleConfig = _rule("system_down")
    """The health check says ``down``; emergency."""
    system_degraded: RuleConfig = _rule("system_degraded")
    stream_stale: RuleConfig = _rule("stream_stale")
    """A connected stream with no message for ``window`` seconds (60)."""
    dead_letter_depth: RuleConfig = _rule("dead_letter_depth")
    """More than ``threshold`` items (100) in a system's dead-letter store."""

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        merged = dict(data)
        for name, defaults in _RULE_DEFAULTS.items():
            given = merged.get(name)
            if isinstance(given, Mapping):
                merged[name] = {**defaults, **given}
        return merged

    def configured_rules(self) -> dict[str, RuleConfig]:
        """The rules given beyond the monitor's own (a contributed rule's section), by name."""
        return dict(self.__pydantic_extra__ or {})


def unknown_rule_problems(
    alerts: Any, contributed: Iterable[str], path: str = "monitoring.alerts"
) -> list[tuple[str, str]]:
    """``(key path, message)`` for each key of ``alerts`` that is no setting and names no known rule.

    Args:
        alerts: the ``monitoring.alerts`` section as written (a mapping) or an :class:`AlertRulesConfig`.
        contributed: the rule names the loaded plugins contribute (:attr:`AlertRules.rule_names`).
        path: where the section is, for the messages.
    """
    if isinstance(alerts, AlertRulesConfig):
        given: Iterable[Any] = alerts.configured_rules()
    elif isinstance(alerts, Mapping):
        given = alerts
    else:
        return []
    contributed = set(contributed)
    rules = sorted({*BUILTIN_RULES, *contributed})
    settings = [n for n, f in AlertRulesConfig.model_fields.items() if f.annotation is not RuleConfig]
    problems = []
    for name in given:
        if name in AlertRulesConfig.model_fields or name in contributed:
            continue
        problems.append(
            (
                f"{path}.{name}",
                f"unknown alert rule {name!r}{_did_you_mean(str(name), [*rules, *settings])}; known rules: "
                f"{', '.join(rules)} (a plugin's rule is known when the plugin is installed); "
                f"settings: {', '.join(settings)}",
            )
        )
    return problems


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class HttpServerConfig(_Strict):
    """``monitoring.http``: the runtime's HTTP server (``/metrics``, ``/health``, ``/dashboard``)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    token: SecretStr | None = None
    """Dashboard token; generated at start (and printed once) when not set."""
    protect_metrics: bool = False
    """Require the token on ``/metrics`` too (Prometheus sends it as a bearer token)."""
    refresh_seconds: float = Field(default=2.0, gt=0)
    allowed_hosts: list[str] = Field(default_factory=list)
    """Names the server answers to (``Host`` header) besides localhost, 127.0.0.1, ::1 and ``host``
    itself; any other is refused, against DNS rebinding. List the names a proxy or users reach it by."""


class HistoryConfig(_Strict):
    """``monitoring.history``: metric samples kept in the embedded store for trend charts."""

    enabled: bool = True
    sample_interval: float = Field(default=60.0, gt=0)
    raw_retention: float = Field(default=86400.0, gt=0)
    rollup_interval: float = Field(default=3600.0, gt=0)
    rollup_retention: float = Field(default=30 * 86400.0, gt=0)


class MonitoringConfig(_Strict):
    """The ``monitoring`` section (see the module docstring for a full example)."""

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    """JSON lines or console lines. ``portico run`` without ``--log-format`` follows this when it is set,
    and otherwise writes console lines to a terminal and JSON lines anywhere else."""
    performance_tracking: bool = True
    health_check_interval: float = Field(default=300.0, gt=0)
    health_check_timeout: float = Field(default=30.0, gt=0)
    alert_on_failure: bool = True
    alert_destinations: list[str] = Field(default_factory=list)
    http: HttpServerConfig = Field(default_factory=HttpServerConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    alerts: AlertRulesConfig = Field(default_factory=AlertRulesConfig)
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Alert channels by name; each has a ``type`` provided by a ``portico_alert_channels`` plugin."""

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("channels")
    @classmethod
    def _channel_types(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, channel in value.items():
            if not isinstance(channel, Mapping) or not channel.get("type"):
                raise ValueError(f"channel {name!r} needs a 'type' (email, slack, webhook, or a plugin's)")
        return value


def coerce_monitoring_config(config: MonitoringConfig | Mapping[str, Any] | None) -> MonitoringConfig:
    """A :class:`MonitoringConfig` from a model, a mapping (the raw config section) or None (defaults)."""
    if config is None:
        return MonitoringConfig()
    if isinstance(config, MonitoringConfig):
        return config
    return MonitoringConfig.model_validate(dict(config))
