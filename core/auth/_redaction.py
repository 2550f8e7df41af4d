"""Keeping secrets out of URLs, log lines and messages.

Two mechanisms work together:

- a registry of *known secret values* (every credential the AuthenticationManager loads and every
  token it obtains is registered), so any text can be scrubbed of them wherever they appear;
- a list of *sensitive parameter names* (``apikey``, ``access_token``, ``oauth_signature``...), so a
  query-string key is masked in a URL even before its value is known.

The monitor's log processor calls :func:`redact`; :class:`RedactingLogFilter` is installed on the
``httpx`` logger, which would otherwise log full request URLs, query-string keys included.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr

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

MASK = "***"

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

# Secrets shorter than this are not scrubbed by value: masking every "1" or "abc" in a log would
# destroy the log and leak nothing worth hiding. Credentials are far longer in practice.
_MIN_SECRET_LENGTH = 6


def reveal(value: SecretStr | str | None) -> str | None:
    """The plain string of a credential value, whether it is a ``SecretStr`` or a ``str``."""
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)


class _Snapshot:
    """One immutable set of secret values and, once a reader needed it, the pattern matching them."""

    __slots__ = ("pattern", "values")

    def __init__(self, values: frozenset[str]) -> None:
        self.values = values
        self.pattern: re.Pattern[str] | None = None


def _pattern_of(values: frozenset[str]) -> re.Pattern[str]:
    # Longest first so a secret containing another is masked whole.
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered))


class SecretRegistry:
    """A set of secret values that must never be shown, with scrubbing helpers.

    Thread-safe and safe to re-enter: readers (every log line) never take a lock. The values live in an
    immutable snapshot that writers replace whole; a reader works on whichever snapshot it picked up.
    This matters because building the pattern allocates, an allocation can start a garbage collection,
    and a finalizer run by that collection may log (aiohttp's ``ClientSession.__del__`` does): the log
    line comes back into :meth:`scrub` on the same thread, which must not wait for anything that
    thread holds. Values are kept only in memory. One process-wide instance, :data:`known_secrets`, is
    shared by the auth schemes and the monitor so that whatever one learns the other hides.
    """

    def __init__(self) -> None:
        self._snapshot = _Snapshot(frozenset())
        # Writers only: re-entrant so a finalizer that registers a secret while another write is under
        # way on the same thread cannot deadlock either. Held for the swap alone, never while compiling.
        self._write_lock = threading.RLock()

    def _replace(self, change: Callable[[frozenset[str]], frozenset[str]]) -> None:
        """Swap in a snapshot with ``change`` applied, retrying if another writer swapped first."""
        while True:
            current = self._snapshot
            values = change(current.values)
            if values == current.values:
                return
            fresh = _Snapshot(values)
            with self._write_lock:
                if self._snapshot is current:
                    self._snapshot = fresh
                    return

    def register(self, *values: SecretStr | str | None) -> None:
        """Remember secret values (``None`` and very short values are ignored)."""
        plains = {p for p in (reveal(v) for v in values) if p and len(p) >= _MIN_SECRET_LENGTH}
        if plains:
            self._replace(lambda current: current | plains)

    def forget(self, *values: SecretStr | str | None) -> None:
        """Stop masking values (after revocation they are still secret: rarely useful)."""
        plains = {reveal(v) or "" for v in values}
        self._replace(lambda current: current - plains)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value in self._snapshot.values

    def __len__(self) -> int:
        return len(self._snapshot.values)

    def __repr__(self) -> str:
        return f"SecretRegistry({len(self)} secrets)"

    def _compiled(self) -> re.Pattern[str] | None:
        snapshot = self._snapshot
        if not snapshot.values:
            return None
        pattern = snapshot.pattern
        if pattern is None:
            # Two threads (or a re-entrant finalizer) may both build it: the results are equal, and
            # building twice is cheaper than any lock on the logging path.
            pattern = snapshot.pattern = _pattern_of(snapshot.values)
        return pattern

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``***``."""
        if not text:
            return text
        pattern = self._compiled()
        if pattern is None:
            return text
        return pattern.sub(MASK, text)


known_secrets = SecretRegistry()
"""The process-wide registry used by portico's auth schemes and the monitor's log redaction."""


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
    """Scrub free text: URLs inside it are passed through :func:`redact_url`, known secrets masked."""
    registry = registry if registry is not None else known_secrets
    if not text:
        return text
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0), registry=registry), text)
    return registry.scrub(text)


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
