"""From HTTP answers and httpx exceptions to the portico error tree."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from portico.errors import (
    AuthError,
    ConfigurationError,
    ConnectionFailed,
    ConnectTimeout,
    NotFound,
    PayloadRejected,
    PorticoError,
    RateLimited,
    ReadTimeout,
    ResponseLost,
    ServerError,
    TransportError,
    VenueRejected,
)

__all__ = ["ErrorMapper", "default_error_for", "error_for_exception", "safe_text"]

ErrorMapper = Callable[[httpx.Response], "PorticoError | None"]
"""A connector's own reading of a non-2xx answer; ``None`` falls back to the default map."""

_STATUS_ERRORS: dict[int, type[PorticoError]] = {
    400: VenueRejected,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: VenueRejected,
    410: NotFound,
    413: PayloadRejected,
    415: PayloadRejected,
    422: PayloadRejected,
}

_QUERY = re.compile(r"\?[^\s'\"<>]*")
_MAX_DETAIL = 300


def safe_text(text: str) -> str:
    """``text`` with any URL query string cut out (where API keys travel) and bounded in length."""
    text = _QUERY.sub("?...", text)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "..."


def _body_detail(response: httpx.Response) -> tuple[str, str | int | None, Any]:
    """The venue's message, its error code, and the parsed body, read defensively."""
    body: Any = None
    try:
        body = response.json()
    except Exception:
        text = response.text if response.content else ""
        return safe_text(text.strip()), None, None
    message = ""
    code: str | int | None = None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "detail", "msg", "Note", "Information"):
            value = body.get(key)
            if isinstance(value, str) and value:
                message = value
                break
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                message = value["message"]
                code = value.get("code") if isinstance(value.get("code"), str | int) else None
                break
        raw_code = body.get("code", code)
        code = raw_code if isinstance(raw_code, str | int) and not isinstance(raw_code, bool) else code
    if not message:
        message = str(body)
    return safe_text(message), code, body


def default_error_for(response: httpx.Response, *, retry_after: float | None = None) -> PorticoError:
    """The portico error a non-2xx answer means when the connector gives no mapping of its own.

    401/403 become ``AuthError``, 404/410 ``NotFound``, 422/413/415 ``PayloadRejected``, 429 ``RateLimited``,
    5xx ``ServerError`` and any other 4xx ``VenueRejected``.
    """
    status = response.status_code
    message, code, body = _body_detail(response)
    text = f"HTTP {status}" + (f": {message}" if message else "")
    if status == 429:
        return RateLimited(text, retry_after=retry_after, status_code=status, venue_code=code, detail=body)
    if status >= 500:
        return ServerError(text, status_code=status, venue_code=code, detail=body)
    cls = _STATUS_ERRORS.get(status, VenueRejected)
    return cls(text, status_code=status, venue_code=code, detail=body)


def error_for_exception(exc: BaseException) -> PorticoError:
    """The portico error for an httpx (or timeout) exception raised while sending."""
    name = type(exc).__name__
    detail = safe_text(str(exc))
    text = f"{name}: {detail}" if detail and detail != name else name
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return ConnectTimeout(f"could not connect in time ({text})")
    if isinstance(exc, httpx.ConnectError):
        return ConnectionFailed(f"could not connect ({text})")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ReadTimeout(f"no answer in time ({text})")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError):
        return ConfigurationError(f"request could not be built ({text})")
    if isinstance(exc, httpx.TransportError | OSError):
        return ResponseLost(f"connection lost before the answer ({text})")
    return TransportError(f"transport failure ({text})")
