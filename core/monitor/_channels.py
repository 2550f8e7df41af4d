"""The built-in alert channels: email over SMTP (STARTTLS), Slack incoming webhook, signed generic webhook.

Each is a plugin-provided class (see :mod:`portico.monitor._channel_plugin`); third parties add their
own through the ``portico_alert_channels`` hook with the same shape.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from portico.errors import ConfigurationError
from portico.monitor._alerts import AlertNotification
from portico.monitor._redact import Redactor

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "EmailChannel",
    "SlackChannel",
    "WebhookChannel",
    "sign_payload",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Portico-Signature"
TIMESTAMP_HEADER = "X-Portico-Timestamp"
_SEVERITY_COLOURS = {
    "warning": "#d39e00",
    "critical": "#d9534f",
    "emergency": "#7b1fa2",
    "resolved": "#2e7d32",
}


def sign_payload(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``: ``sha256=<hex HMAC of "ts.body">``."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str | bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = 300.0,
) -> bool:
    """Check a received webhook: the HMAC matches and the timestamp is within ``tolerance`` seconds.

    Receivers should use this (or the same computation) so a captured request cannot be replayed later.
    """
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign_payload(secret, timestamp, body), signature)


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str


def _parse(model: type[BaseModel], name: str, options: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        path = f"monitoring.channels.{name}.{where}"
        raise ConfigurationError(f"{path}: {first['msg']} (alert channel {name!r})", path=path) from None


class EmailOptions(_Options):
    """``type: email``: the original plan's SMTP settings (host, port 587, TLS) plus who sends and receives."""

    host: str
    port: int = 587
    use_tls: bool = True
    """STARTTLS after connecting (``EMAIL_USE_TLS``); the server must offer it."""
    use_ssl: bool = False
    """Implicit TLS from the first byte (port 465) instead of STARTTLS."""
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "portico@localhost"
    recipients: list[str] = Field(min_length=1)
    ca_file: str | None = None
    """A CA bundle to verify the server with (a private CA); the system store otherwise."""
    verify: bool = True
    timeout: float = 15.0


class EmailChannel:
    """Sends alerts as plain-text email over SMTP with STARTTLS (``smtplib`` in a worker thread)."""

    type: ClassVar[str] = "email"

    def __init__(self, name: str, options: EmailOptions, *, redactor: Redactor) -> None:
        self.name = name
        self.options = options
        self.redactor = redactor
        redactor.add_secret(options.password)

    @classmethod
    def from_config(cls, name: str, options: Mapping[str, Any], *, redactor: Redactor) -> EmailChannel:
        """Build from a ``monitoring.channels`` entry."""
        return cls(name, _parse(EmailOptions, name, options), redactor=redactor)

    def __repr__(self) -> str:
        return f"EmailChannel({self.name!r}, {self.options.host}:{self.options.port})"

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.options.ca_file)
        if not self.options.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def build_message(self, notification: AlertNotification) -> EmailMessage:
        """The email for a notification (subject = title, body = text, both redacted)."""
        message = EmailMessage()
        message["Subject"] = self.redactor.redact_text(notification.title)
        message["From"] = self.options.sender
        message["To"] = ", ".join(self.options.recipients)
        message["X-Portico-Alert"] = notification.alert.key
        message["X-Portico-Kind"] = notification.kind
        message.set_content(self.redactor.redact_text(notification.text()))
        return message

    def _deliver(self, message: EmailMessage) -> None:
        o = self.options
        smtp: smtplib.SMTP
        if o.use_ssl:
            smtp = smtplib.SMTP_SSL(o.host, o.port, timeout=o.timeout, context=self._tls_context())
        else:
            smtp = smtplib.SMTP(o.host, o.port, timeout=o.timeout)
        with smtp:
            smtp.ehlo()
            if o.use_tls and not o.use_ssl:
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if o.username:
                smtp.login(o.username, o.password.get_secret_value() if o.password else "")
            smtp.send_message(message)

    async def send(self, notification: AlertNotification) -> None:
        """Send one notification; raises ``smtplib``/``OSError`` errors on failure."""
        await asyncio.to_thread(self._deliver, self.build_message(notification))


class SlackOptions(_Options):
    """``type: slack``: an incoming-webhook URL (itself a secret)."""

    webhook_url: SecretStr
    timeout: float = 10.0


class SlackChannel:
    """Posts alerts to a Slack incoming webhook (``{"text": ..., "attachments": [...]}``)."""

    type: ClassVar[str] = "slack"

    def __init__(
        self,
        name: str,
        options: SlackOptions,
        *,
        redactor: Redactor,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.options = options
        self.redactor = redactor
        self.transport = transport
        redactor.add_secret(options.webhook_url)

    @classmethod
    def from_config(cls, name: str, options: Mapping[str, Any], *, redactor: Redactor) -> SlackChannel:
        """Build from a ``monitoring.channels`` entry."""
        return cls(name, _parse(SlackOptions, name, options), redactor=redactor)

    def __repr__(self) -> str:
        return f"SlackChannel({self.name!r})"

    def body(self, notification: AlertNotification) -> dict[str, Any]:
        """The Slack message for a notification."""
        colour = _SEVERITY_COLOURS[
            "resolved" if notification.kind == "resolved" else notification.alert.severity
        ]
        return {
            "text": self.redactor.redact_text(notification.title),
            "attachments": [{"color": colour, "text": self.redactor.redact_text(notification.text())}],
        }

    async def send(self, notification: AlertNotification) -> None:
        """Post one notification; raises on a non-2xx answer (Slack answers ``ok`` with 200)."""
        async with httpx.AsyncClient(timeout=self.options.timeout, transport=self.transport) as client:
            response = await client.post(
                self.options.webhook_url.get_secret_value(), json=self.body(notification)
            )
        if response.status_code >= 300:
            raise RuntimeError(f"slack webhook answered {response.status_code}")


class WebhookOptions(_Options):
    """``type: webhook``: a URL receiving the JSON payload, signed with HMAC-SHA256 when ``secret`` is set."""

    url: str
    secret: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = 10.0


class WebhookChannel:
    """Posts the notification's JSON payload, signed: ``X-Portico-Signature: sha256=HMAC(secret, "ts.body")``.

    The receiver checks the signature with :func:`verify_signature` and rejects old timestamps.
    """

    type: ClassVar[str] = "webhook"

    def __init__(
        self,
        name: str,
        options: WebhookOptions,
        *,
        redactor: Redactor,
        transport: httpx.AsyncBaseTransport | None = None,
        wall_time: Any = time.time,
    ) -> None:
        self.name = name
        self.options = options
        self.redactor = redactor
        self.transport = transport
        self._wall_time = wall_time
        redactor.add_secret(options.secret)

    @classmethod
    def from_config(cls, name: str, options: Mapping[str, Any], *, redactor: Redactor) -> WebhookChannel:
        """Build from a ``monitoring.channels`` entry."""
        return cls(name, _parse(WebhookOptions, name, options), redactor=redactor)

    def __repr__(self) -> str:
        return f"WebhookChannel({self.name!r})"

    def request(self, notification: AlertNotification) -> tuple[bytes, dict[str, str]]:
        """The body and headers to send (redacted payload, timestamp and signature)."""
        payload = self.redactor.redact(notification.payload())
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", **self.options.headers}
        if self.options.secret is not None:
            timestamp = str(int(self._wall_time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign_payload(self.options.secret.get_secret_value(), timestamp, body)
        return body, headers

    async def send(self, notification: AlertNotification) -> None:
        """Post one notification; raises on a non-2xx answer."""
        body, headers = self.request(notification)
        async with httpx.AsyncClient(timeout=self.options.timeout, transport=self.transport) as client:
            response = await client.post(self.options.url, content=body, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"webhook answered {response.status_code}")
