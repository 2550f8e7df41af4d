"""Configuration: the original plan's ``external_integration_config`` format, loaded and validated."""

from __future__ import annotations

from portico.config._loader import SECTION_MODELS, check_against_plugins, load_config, resolve_references
from portico.config._models import (
    AuthenticationConfig,
    IntegrationConfig,
    ScaleOutConfig,
    SystemConfig,
    ThrottlingConfig,
)
from portico.config._transport import insecure_transport_problems, require_secure_transport

__all__ = [
    "SECTION_MODELS",
    "AuthenticationConfig",
    "IntegrationConfig",
    "ScaleOutConfig",
    "SystemConfig",
    "ThrottlingConfig",
    "check_against_plugins",
    "insecure_transport_problems",
    "load_config",
    "require_secure_transport",
    "resolve_references",
]
