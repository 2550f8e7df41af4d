"""The ``gateway`` section: who may use the REST/WebSocket API, with which permissions, and how it is served.

```yaml
gateway:
  enabled: true                 # portico run serves /v1 next to /health, /metrics and /dashboard
  tls_certfile: /etc/portico/tls.crt   # needed (with users) to bind beyond loopback
  tls_keyfile: /etc/portico/tls.key
  cors_origins: []              # closed by default; list exact origins to open it
  users:
    alice:
      password_hash: "scrypt$16384$8$1$..."   # from: portico gateway hash-password
      groups: [traders]
  groups:
    traders:
      grants:
        - {resource: systems, match: "alpaca_*", permission: READ_WRITE}
        - {resource: accounts, match: "alpaca_paper/*", permission: READ_WRITE}
        - {resource: jobs, permission: READ}
  webhooks:
    alpaca_paper: {secret: "${ALPACA_WEBHOOK_SECRET}", tolerance_seconds: 300}
```
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "GatewayConfig",
    "GrantConfig",
    "GroupConfig",
    "Permission",
    "Resource",
    "UserConfig",
    "WebhookConfig",
]

Resource = Literal["systems", "accounts", "jobs", "credentials"]
"""What a grant is about. Object ids: a system id; ``system/account``; a job id (``import:TYPE``,
``export:TYPE``, ``quarantine``, ``reconciliation`` for the API's job-like actions); a credential name."""


class Permission(enum.StrEnum):
    """What a grant allows on the objects it matches."""

    READ = "READ"
    WRITE = "WRITE"
    READ_WRITE = "READ_WRITE"

    def allows(self, verb: Literal["read", "write"]) -> bool:
        """Whether this permission covers ``verb``."""
        if self is Permission.READ_WRITE:
            return True
        return (self is Permission.READ) == (verb == "read")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrantConfig(_Strict):
    """One permission on the objects of a resource whose id matches ``match`` (a shell-style pattern)."""

    resource: Resource
    match: str = Field(default="*", min_length=1, max_length=200)
    permission: Permission


class GroupConfig(_Strict):
    """A group: its members get every grant listed here."""

    grants: list[GrantConfig] = Field(default_factory=list)


class UserConfig(_Strict):
    """A user who can log in (password) and create API tokens."""

    password_hash: SecretStr
    """``scrypt$N$r$p$salt$hash`` as printed by ``portico gateway hash-password``; never the password."""
    groups: list[str] = Field(default_factory=list)
    disabled: bool = False


class WebhookConfig(_Strict):
    """Inbound webhooks of one system: the shared HMAC secret and how old a delivery may be."""

    secret: SecretStr
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)


class GatewayConfig(_Strict):
    """The ``gateway`` section (see the module docstring for an example)."""

    enabled: bool = False
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    """Exact origins allowed to call the API from a browser; empty (the default) allows none."""
    session_hours: float = Field(default=8.0, gt=0, le=8.0)
    """Lifetime of an interactive session (absolute, from login)."""
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    """Failed logins allowed per user name and per client address within ``login_window_seconds``."""
    login_window_seconds: float = Field(default=900.0, gt=0)
    requests_per_minute: int = Field(default=1200, ge=1)
    """API requests allowed per user per minute (sliding window); beyond it 429 with Retry-After."""
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    users: dict[str, UserConfig] = Field(default_factory=dict)
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    webhooks: dict[str, WebhookConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_groups(self) -> GatewayConfig:
        for name, user in self.users.items():
            for i, group in enumerate(user.groups):
                if group not in self.groups:
                    known = ", ".join(sorted(self.groups)) or "none"
                    raise ValueError(f"users.{name}.groups.{i}: unknown group {group!r} (groups: {known})")
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            raise ValueError("tls_certfile and tls_keyfile go together: give both or neither")
        return self
