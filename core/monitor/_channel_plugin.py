"""The built-in alert channels, contributed through the same hook a third-party plugin implements."""

from __future__ import annotations

from typing import Any

from portico.hookspecs import hookimpl
from portico.monitor._channels import EmailChannel, SlackChannel, WebhookChannel

__all__ = ["portico_alert_channels"]


@hookimpl
def portico_alert_channels() -> list[type[Any]]:
    """Email (SMTP with STARTTLS), Slack incoming webhook and HMAC-signed generic webhook."""
    return [EmailChannel, SlackChannel, WebhookChannel]
