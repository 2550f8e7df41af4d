"""The portico error tree.

Every error portico raises on purpose derives from :class:`PorticoError`. The branches say what the
caller should do next::

    PorticoError
    ├── ConfigurationError          the configuration or a manifest is wrong: fix it, do not retry
    │   └── PluginLoadError         a plugin failed to import or declared an invalid spec
    ├── PayloadRejected             input or a response body failed validation (bad data, not the network)
    ├── NotSupported                the connector does not offer this capability
    ├── AuthError                   credentials missing, expired, revoked or refused (refresh failed)
    ├── TransportError              the request did not complete; retryable
    │   ├── ConnectTimeout / ConnectionFailed    nothing reached the venue: safe to retry
    │   ├── ReadTimeout / ResponseLost           the venue may have acted: see OutcomeUnknown
    │   ├── ServerError             5xx from the venue
    │   └── RateLimited             429 or a vendor throttle; carries ``retry_after``
    ├── CircuitOpen                 the system's breaker is open; carries ``retry_after``
    ├── OutcomeUnknown              a state-changing request was sent and its result is not known:
    │                               reconcile by lookup, never treat as rejected
    └── VenueRejected               a definitive answer from the venue refusing the request
        └── NotFound                the venue says the object does not exist

Context (system, request, correlation id, venue code) is attached once by :func:`error_context`,
not threaded through every ``raise``.

Every error's message, request and detail pass through the log pipeline's redactor when the error is
built (:func:`portico._secrets.redact_text`): a credential a vendor echoes in an error body is masked
in the message, ``str``, ``repr`` and ``to_dict`` of the error, and so in whatever stores them.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

from portico._secrets import default_redactor, redact_text

__all__ = [
    "AuthError",
    "CircuitOpen",
    "ConfigurationError",
    "ConnectTimeout",
    "ConnectionFailed",
    "NotFound",
    "NotSupported",
    "OutcomeUnknown",
    "PayloadRejected",
    "PluginLoadError",
    "PorticoError",
    "RateLimited",
    "ReadTimeout",
    "ResponseLost",
    "ServerError",
    "TransportError",
    "VenueRejected",
    "error_context",
]

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "portico_error_context", default=None
)


class PorticoError(Exception):
    """Base of every error portico raises on purpose.

    Attributes:
        system: the configured system id (``alpaca_paper``) or connector name, when known.
        request: a short description of the request (``"POST /v2/orders"``), never with secrets.
        correlation_id: the id of the business operation this error belongs to.
        venue_code: the vendor's own error code, when the venue gave one.
        status_code: the HTTP status, when there was one.
        retryable: whether repeating the same call may succeed.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        system: str | None = None,
        request: str | None = None,
        correlation_id: str | None = None,
        venue_code: str | int | None = None,
        status_code: int | None = None,
        detail: Any = None,
    ) -> None:
        message = redact_text(message) if isinstance(message, str) else message
        super().__init__(message)
        ctx = _context.get() or {}
        self.message = message
        self.system = system if system is not None else ctx.get("system")
        request = request if request is not None else ctx.get("request")
        self.request = redact_text(request) if isinstance(request, str) else request
        self.correlation_id = correlation_id if correlation_id is not None else ctx.get("correlation_id")
        self.venue_code = venue_code
        self.status_code = status_code
        self.detail = _redacted_detail(detail)

    def __str__(self) -> str:
        parts = [self.message]
        where = ", ".join(
            f"{name}={value}"
            for name, value in (
                ("system", self.system),
                ("request", self.request),
                ("status", self.status_code),
                ("venue_code", self.venue_code),
                ("correlation_id", self.correlation_id),
            )
            if value is not None
        )
        if where:
            parts.append(f"[{where}]")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary for logs, events and API answers."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "system": self.system,
            "request": self.request,
            "correlation_id": self.correlation_id,
            "venue_code": self.venue_code,
            "status_code": self.status_code,
            "retryable": self.retryable,
        }


def _redacted_detail(detail: Any) -> Any:
    # A vendor's error body, kept for callers that inspect it: the same data with secrets masked.
    if detail is None or isinstance(detail, bool | int | float):
        return detail
    if isinstance(detail, str):
        return redact_text(detail)
    if isinstance(detail, Mapping | list | tuple):
        return default_redactor().redact(detail)
    return detail


class ConfigurationError(PorticoError):
    """The configuration, a manifest or a call's arguments are wrong. Fix them; do not retry.

    Attributes:
        path: the key path of the offending value (``systems.alpaca.throttling.max_requests_per_second``).
        file: the file the value came from, when it came from one.
        problems: every problem found, as ``(path, message)`` pairs, when validation found several.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        file: str | None = None,
        problems: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.path = path
        self.file = file
        self.problems = problems or ([(path, message)] if path else [])


class PluginLoadError(ConfigurationError):
    """A plugin failed to import, or declared an invalid manifest."""

    def __init__(self, plugin: str, reason: str) -> None:
        super().__init__(f"plugin {plugin!r} could not be loaded: {reason}")
        self.plugin = plugin
        self.reason = reason


class PayloadRejected(PorticoError):
    """Input data or a venue's response failed validation.

    Attributes:
        field: the field or key path at fault, when known.
        line: the line or record number, for file input.
    """

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field
        self.line = line


class NotSupported(PorticoError):
    """The connector does not offer the requested capability (or option of it)."""

    def __init__(self, message: str | None = None, *, capability: str | None = None, **kwargs: Any) -> None:
        system = kwargs.get("system")
        super().__init__(message or f"{system or 'this connector'} does not support {capability}", **kwargs)
        self.capability = capability


class AuthError(PorticoError):
    """Credentials are missing, expired, revoked, or were refused, and refreshing did not help."""


class TransportError(PorticoError):
    """The request did not complete. Retryable by default."""

    retryable = True


class ConnectTimeout(TransportError):
    """No connection could be made in time: the venue never saw the request."""


class ConnectionFailed(TransportError):
    """The connection was refused or reset before the request was sent."""


class ReadTimeout(TransportError):
    """The request was sent but no response came in time: the venue may have acted on it."""


class ResponseLost(TransportError):
    """The connection broke after the request was sent: the venue may have acted on it."""


class ServerError(TransportError):
    """The venue answered 5xx."""


class RateLimited(TransportError):
    """The venue, or portico's own budget, refuses more requests for now.

    Attributes:
        retry_after: seconds until a retry may succeed, when known.
    """

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CircuitOpen(PorticoError):
    """The system's circuit breaker is open: calls fail fast until the cool-down ends."""

    retryable = True

    def __init__(self, message: str = "circuit open", *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class OutcomeUnknown(PorticoError):
    """A state-changing request was sent and its result is not known.

    Never treat this as a rejection: resolve it by looking the object up (by client order id or
    idempotency key), from a stream, or by reconciliation.

    Attributes:
        idempotency_key: the key the request was sent with, to look it up by.
    """

    def __init__(self, message: str, *, idempotency_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.idempotency_key = idempotency_key


class VenueRejected(PorticoError):
    """The venue definitively refused the request (insufficient buying power, invalid order...)."""


class NotFound(VenueRejected):
    """The venue says the object does not exist."""


@contextlib.contextmanager
def error_context(**values: Any) -> Iterator[None]:
    """Attach ``system``, ``request`` and ``correlation_id`` to every PorticoError raised inside.

    Errors created inside the block pick the values up; errors that pass through the block
    without them get them filled in on the way out. Inner contexts override outer ones.
    """
    outer = _context.get() or {}
    token = _context.set({**outer, **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    except PorticoError as exc:
        for name, value in values.items():
            if value is not None and getattr(exc, name, None) is None:
                setattr(exc, name, redact_text(value) if name == "request" and isinstance(value, str) else value)
        raise
    finally:
        _context.reset(token)
