from __future__ import annotations

import portico.monitor


def test_the_public_surface_is_pinned() -> None:
    assert sorted(portico.monitor.__all__) == [
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
    for name in portico.monitor.__all__:
        assert getattr(portico.monitor, name).__doc__, f"{name} has no docstring"
