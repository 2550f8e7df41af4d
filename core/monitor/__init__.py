"""IntegrationMonitor: structured logs, metrics, health checks, alerts, and the runtime's HTTP server."""

from __future__ import annotations

from portico.monitor._alerts import Alert, AlertChannel, AlertManager, AlertNotification
from portico.monitor._channels import (
    EmailChannel,
    SlackChannel,
    WebhookChannel,
    sign_payload,
    verify_signature,
)
from portico.monitor._config import (
    AlertRulesConfig,
    HistoryConfig,
    HttpServerConfig,
    MonitoringConfig,
    RuleConfig,
)
from portico.monitor._health import HealthReport
from portico.monitor._logging import configure_logging, get_logger
from portico.monitor._monitor import CallObserver, IntegrationMonitor
from portico.monitor._probe import runtime_probe
from portico.monitor._redact import Redactor, default_redactor
from portico.monitor._server import RuntimeServer

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertManager",
    "AlertNotification",
    "AlertRulesConfig",
    "CallObserver",
    "EmailChannel",
    "HealthReport",
    "HistoryConfig",
    "HttpServerConfig",
    "IntegrationMonitor",
    "MonitoringConfig",
    "Redactor",
    "RuleConfig",
    "RuntimeServer",
    "SlackChannel",
    "WebhookChannel",
    "configure_logging",
    "default_redactor",
    "get_logger",
    "runtime_probe",
    "sign_payload",
    "verify_signature",
]
