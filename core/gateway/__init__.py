"""The gateway: portico as a service for non-Python apps (REST + WebSocket API under ``/v1``, OpenAPI).

Served by ``portico run`` when ``gateway.enabled`` is true; see ``sdk-docs/reference/gateway.md``.
"""

from portico.gateway._api import build_app
from portico.gateway._config import (
    GatewayConfig,
    GrantConfig,
    GroupConfig,
    Permission,
    Resource,
    UserConfig,
    WebhookConfig,
)
from portico.gateway._events import TOPICS, EventLog, GatewayEvent
from portico.gateway._idempotency import IdempotencyStore
from portico.gateway._problems import Problem
from portico.gateway._security import LoginLimiter, Principal, SecurityStore, hash_password, verify_password
from portico.gateway._server import Gateway, is_loopback
from portico.gateway._webhooks import WebhookRefused, WebhookVerifier, sign_webhook

__all__ = [
    "TOPICS",
    "EventLog",
    "Gateway",
    "GatewayConfig",
    "GatewayEvent",
    "GrantConfig",
    "GroupConfig",
    "IdempotencyStore",
    "LoginLimiter",
    "Permission",
    "Principal",
    "Problem",
    "Resource",
    "SecurityStore",
    "UserConfig",
    "WebhookConfig",
    "WebhookRefused",
    "WebhookVerifier",
    "build_app",
    "hash_password",
    "is_loopback",
    "sign_webhook",
    "verify_password",
]
