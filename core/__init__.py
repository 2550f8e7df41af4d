"""portico: a plugin-based connector framework linking portfolio systems to brokers and data vendors.

The public surface is re-exported here; submodules load lazily so ``import portico`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from portico._version import __version__

_EXPORTS: dict[str, str] = {
    # runtime facade
    "Integration": "portico.runtime",
    "AsyncIntegration": "portico.runtime",
    # configuration
    "IntegrationConfig": "portico.config",
    "load_config": "portico.config",
    # plugins and SDK
    "PluginManager": "portico.plugins",
    "hookimpl": "portico.hookspecs",
    "Connector": "portico.sdk",
    "ConnectorContext": "portico.sdk",
    "ConnectorSpec": "portico.sdk",
    "Capability": "portico.sdk",
    # errors
    "PorticoError": "portico.errors",
    "ConfigurationError": "portico.errors",
    "PayloadRejected": "portico.errors",
    "NotSupported": "portico.errors",
    "AuthError": "portico.errors",
    "TransportError": "portico.errors",
    "RateLimited": "portico.errors",
    "CircuitOpen": "portico.errors",
    "OutcomeUnknown": "portico.errors",
    "VenueRejected": "portico.errors",
    "NotFound": "portico.errors",
}

__all__ = [
    "AsyncIntegration",
    "AuthError",
    "Capability",
    "CircuitOpen",
    "ConfigurationError",
    "Connector",
    "ConnectorContext",
    "ConnectorSpec",
    "Integration",
    "IntegrationConfig",
    "NotFound",
    "NotSupported",
    "OutcomeUnknown",
    "PayloadRejected",
    "PluginManager",
    "PorticoError",
    "RateLimited",
    "TransportError",
    "VenueRejected",
    "__version__",
    "hookimpl",
    "load_config",
]

if TYPE_CHECKING:
    from portico.config import IntegrationConfig, load_config
    from portico.errors import (
        AuthError,
        CircuitOpen,
        ConfigurationError,
        NotFound,
        NotSupported,
        OutcomeUnknown,
        PayloadRejected,
        PorticoError,
        RateLimited,
        TransportError,
        VenueRejected,
    )
    from portico.hookspecs import hookimpl
    from portico.plugins import PluginManager
    from portico.runtime import AsyncIntegration, Integration
    from portico.sdk import Capability, Connector, ConnectorContext, ConnectorSpec


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'portico' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
