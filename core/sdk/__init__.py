"""The connector SDK: what plugin authors subclass and declare."""

from __future__ import annotations

from portico.sdk._connector import CheckResult, Connector, ConnectorContext, OrderStatusFilter, filter_orders
from portico.sdk._spec import (
    AuthSchemeSpec,
    Capability,
    CapabilitySet,
    ConnectionSettings,
    ConnectorKind,
    ConnectorSpec,
    CredentialField,
    Environment,
    HealthCheckSpec,
    MockSpec,
    RateLimitPolicy,
    RateWindow,
    RetryPolicy,
    StreamKind,
    Support,
    resolve_url_templates,
)

__all__ = [
    "AuthSchemeSpec",
    "Capability",
    "CapabilitySet",
    "CheckResult",
    "ConnectionSettings",
    "Connector",
    "ConnectorContext",
    "ConnectorKind",
    "ConnectorSpec",
    "CredentialField",
    "Environment",
    "HealthCheckSpec",
    "MockSpec",
    "OrderStatusFilter",
    "RateLimitPolicy",
    "RateWindow",
    "RetryPolicy",
    "StreamKind",
    "Support",
    "filter_orders",
    "resolve_url_templates",
]
