"""Keeping secrets out of URLs, log lines and messages.

Two mechanisms work together:

- the registry of *known secret values* (:data:`portico._secrets.known_secrets`: every credential the
  AuthenticationManager loads and every token it obtains is registered), so any text can be scrubbed
  of them wherever they appear;
- a list of *sensitive parameter names* (``apikey``, ``access_token``, ``oauth_signature``...), so a
  query-string key is masked in a URL even before its value is known.

The monitor's log processor calls :func:`redact`; :class:`RedactingLogFilter` is installed on the
``httpx`` logger, which would otherwise log full request URLs, query-string keys included.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from portico._secrets import MASK, SecretRegistry, known_secrets, mask_patterns, reveal

__all__ = [
    "MASK",
    "SENSITIVE_PARAMS",
    "RedactingLogFilter",
    "SecretRegistry",
    "install_log_redaction",
    "known_secrets",
    "redact",
    "redact_url",
    "reveal",
]

SENSITIVE_PARAMS: frozenset[str] = frozenset(
    {
        "apikey",
        "api_key",
        "api-key",
        "key",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "secret",
        "password",
        "passwd",
        "signature",
        "sig",
        "code",
        "code_verifier",
        "assertion",
        "client_assertion",
        "oauth_signature",
        "oauth_token",
        "oauth_verifier",
        "oauth_token_secret",
        "session",
    }
)
"""Query/form parameter names whose values are always masked, lower-case."""

def redact_url(url: Any, *, extra_params: Iterable[str] = (), registry: SecretRegistry | None = None) -> str:
    """A URL safe to log: sensitive query parameters and userinfo passwords masked, known secrets scrubbed.

    Args:
        url: a string or ``httpx.URL``.
        extra_params: more parameter names to mask (a vendor's own key parameter).
        registry: the known-secret registry; default :data:`known_secrets`.

    Example:
        >>> redact_url("https://www.alphavantage.co/query?function=TIME_SERIES_DAILY&apikey=DEMO123")
        'https://www.alphavantage.co/query?function=TIME_SERIES_DAILY&apikey=***'
    """
    registry = registry if registry is not None else known_secrets
    text = str(url)
    sensitive = SENSITIVE_PARAMS | {p.lower() for p in extra_params}
    try:
        parts = urlsplit(text)
    except ValueError:
        return registry.scrub(text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = [(k, MASK if k.lower() in sensitive else v) for k, v in pairs]
        query = urlencode(masked, safe="*/:")
    return registry.scrub(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


_URL_IN_TEXT = re.compile(r"https?://[^\s'\"<>]+")


def redact(text: str, *, registry: SecretRegistry | None = None) -> str:
    """Scrub free text: URLs inside it are passed through :func:`redact_url`, known secrets masked, and
    fragments secret by their shape (``Bearer ...``, ``password=...``) masked as the log pipeline does."""
    registry = registry if registry is not None else known_secrets
    if not text:
        return text
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0), registry=registry), text)
    return mask_patterns(registry.scrub(text))


class RedactingLogFilter(logging.Filter):
    """A logging filter that rewrites each record's message with :func:`redact`.

    The record's message is rendered once, scrubbed, and its args cleared, so handlers further down
    never see the raw values.
    """

    def __init__(self, registry: SecretRegistry | None = None) -> None:
        super().__init__()
        self.registry = registry if registry is not None else known_secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        record.msg = redact(message, registry=self.registry)
        record.args = None
        return True


_installed_lock = threading.Lock()


_NOISY_LOGGERS = (
    "httpx",
    # httpcore logs on its submodules' loggers, and a logger's filters do not apply to its children;
    # its DEBUG trace includes response headers (Location redirects carry codes and tokens).
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "authlib",
    "portico",
    "portico.auth",
)


def install_log_redaction(loggers: Iterable[str] = _NOISY_LOGGERS) -> None:
    """Attach :class:`RedactingLogFilter` to loggers that may print URLs or tokens (idempotent)."""
    with _installed_lock:
        for name in loggers:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactingLogFilter) for f in logger.filters):
                logger.addFilter(RedactingLogFilter())
