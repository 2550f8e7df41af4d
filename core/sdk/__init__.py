"""The connector SDK: what plugin authors subclass and declare.

The manifest types load with the package; the connector base (``Connector``, ``ConnectorContext``...)
and :class:`ConnectorRef` load on first use, so a plugin's ``plugin`` and ``spec`` modules, imported to
list what is installed, import neither asyncio nor the clock.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    Retirement,
    RetryPolicy,
    StreamKind,
    Support,
    resolve_url_templates,
)

if TYPE_CHECKING:
    from portico.sdk._connector import (
        CheckResult,
        Connector,
        ConnectorContext,
        OrderStatusFilter,
        filter_orders,
    )
    from portico.sdk._ref import ConnectorRef

__all__ = [
    "AuthSchemeSpec",
    "Capability",
    "CapabilitySet",
    "CheckResult",
    "ConnectionSettings",
    "Connector",
    "ConnectorContext",
    "ConnectorKind",
    "ConnectorRef",
    "ConnectorSpec",
    "CredentialField",
    "Environment",
    "HealthCheckSpec",
    "MockSpec",
    "OrderStatusFilter",
    "RateLimitPolicy",
    "RateWindow",
    "Retirement",
    "RetryPolicy",
    "StreamKind",
    "Support",
    "filter_orders",
    "resolve_url_templates",
]

_LAZY = {
    "CheckResult": "portico.sdk._connector",
    "Connector": "portico.sdk._connector",
    "ConnectorContext": "portico.sdk._connector",
    "OrderStatusFilter": "portico.sdk._connector",
    "filter_orders": "portico.sdk._connector",
    "ConnectorRef": "portico.sdk._ref",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
