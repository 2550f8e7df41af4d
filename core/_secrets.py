"""The process-wide secret registry and the redactor every log line, error and stored text passes through.

This module sits at the bottom of portico's layers (beside ``errors`` and ``clock``) so that errors can
redact their message when they are built, stores can redact text before writing it, and the monitor's
log pipeline uses the very same rules: a secret registered once (a vault credential, a ``SecretStr``
from config, a token obtained at run time) is removed everywhere it could surface.

Two mechanisms work together:

- :data:`known_secrets`, the registry of *known secret values* (every credential the
  AuthenticationManager loads and every token it obtains is registered);
- patterns that are secret whatever their value (``apikey=`` in a URL, ``user:pass@`` in a URL,
  ``Bearer ...``, ``"password": "..."``), applied by :class:`Redactor`.

Use :func:`redact_text` for a message about to be raised, stored or shown.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = [
    "MASK",
    "Redactor",
    "SecretRegistry",
    "default_redactor",
    "is_sensitive_key",
    "known_secrets",
    "mask_patterns",
    "redact_text",
    "reveal",
]

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


MASK = "***"

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
    shared by the auth schemes, errors, stores and the monitor so that whatever one learns all hide.

    Args:
        min_length: shorter values are not registered.
    """

    def __init__(self, *, min_length: int = _MIN_SECRET_LENGTH) -> None:
        self.min_length = min_length
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
        plains = {p for p in (reveal(v) for v in values) if p and len(p) >= self.min_length}
        if plains:
            self._replace(lambda current: current | plains)

    def forget(self, *values: SecretStr | str | None) -> None:
        """Stop masking values (after revocation they are still secret: rarely useful)."""
        plains = {reveal(v) or "" for v in values}
        self._replace(lambda current: current - plains)

    @property
    def snapshot(self) -> object:
        """An opaque token that changes whenever the set of values does (to invalidate caches)."""
        return self._snapshot

    def restore(self, snapshot: object) -> None:
        """Go back to the values of an earlier :attr:`snapshot` (test isolation; nothing else needs it)."""
        if not isinstance(snapshot, _Snapshot):
            raise TypeError("restore() takes a value read from SecretRegistry.snapshot")
        with self._write_lock:
            self._snapshot = snapshot

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
"""The process-wide registry used by portico's auth schemes, errors, stores and the monitor's log redaction."""


_UNSEEN: Any = object()

# Whole words of a field name that mark it secret ("api_key", "X-Api-Key", "refreshToken"); matched
# word by word so "tokens_remaining" or "authenticated" stay visible.
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "authorization",
        "credential",
        "credentials",
        "signature",
        "cookie",
        "pwd",
    }
)
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("access", "key"),
        ("private", "key"),
        ("secret", "key"),
        ("session", "id"),
        ("client", "secret"),
        ("auth", "header"),
        ("set", "cookie"),
        ("webhook", "url"),
    }
)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")

# Query parameters and header-like fragments whose value is a secret whatever it is.
_URL_PARAM = re.compile(
    r"(?i)([?&;](?:api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|token|key|secret|"
    r"client[_-]?secret|password|passwd|pwd|signature|sig|auth|session(?:[_-]?id)?)=)[^&#\s\"'<>]+"
)
_KEYWORDS = re.compile(r"(?i)key|token|secret|passw|authoriz")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^@/\s]+@")
# A credential after "Bearer"/"Basic"/"token": a word of only lower-case letters is prose ("token
# endpoint", "Basic authentication"), not a credential, which always has digits, capitals or symbols.
_AUTH_HEADER = re.compile(r"\b((?i:bearer|basic|token))\s+(?![a-z]+(?![A-Za-z0-9\-._~+/=]))[A-Za-z0-9\-._~+/]{8,}=*")
_KEY_VALUE = re.compile(
    r"(?i)([\"']?(?:api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|client[_-]?secret|password|passwd|"
    r"secret|token|authorization)[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)(?!\*\*\*)[^\s\"',;&}]+"
)


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    """Whether a field called ``key`` holds a secret by its name alone."""
    words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def mask_patterns(text: str) -> str:
    """``text`` with every fragment that is secret by its shape masked, whatever its value."""
    if "=" in text:
        text = _URL_PARAM.sub(r"\1" + MASK, text)
    if ("=" in text or ":" in text) and _KEYWORDS.search(text):
        text = _KEY_VALUE.sub(r"\1" + MASK, text)
    if "@" in text:
        text = _URL_USERINFO.sub(r"\1" + MASK + "@", text)
    if " " in text:
        text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return text


class Redactor:
    """Removes secrets from log events, text, metric labels, alert messages, errors and stored text.

    Secrets come from three places: values registered with :meth:`add_secret` (the credential vault and
    every ``SecretStr`` in config register theirs), the process-wide :data:`known_secrets` (tokens the
    auth schemes obtain at run time), and patterns that are secret whatever their value (``apikey=`` in
    a URL, ``user:pass@`` in a URL, ``Bearer ...``, ``"password": "..."``).
    Thread-safe, and never blocks on a lock: it runs on the logging path (see :class:`SecretRegistry`).

    Args:
        secrets: initial secret values.
        min_length: shorter values are not registered (masking "1" everywhere would destroy logs).
        registry: the shared registry whose values are masked too; default :data:`known_secrets`.
    """

    def __init__(
        self, secrets: Iterable[str] = (), *, min_length: int = 4, registry: SecretRegistry | None = None
    ) -> None:
        self.min_length = min_length
        self._own = SecretRegistry(min_length=min_length)
        self._linked = registry if registry is not None else known_secrets
        self._cache: dict[str, str] = {}
        self._keys: dict[str, str | None] = {}
        self._seen: tuple[object, object] = (None, None)
        for secret in secrets:
            self.add_secret(secret)

    def __repr__(self) -> str:
        return f"Redactor({len(self._own)} secrets)"

    def add_secret(self, value: str | SecretStr | SecretBytes | bytes | None) -> None:
        """Register a secret value: it is masked wherever it appears, also URL-encoded."""
        if value is None:
            return
        if isinstance(value, SecretStr | SecretBytes):
            value = value.get_secret_value()
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        value = str(value)
        if len(value) < self.min_length:
            return
        self._own.register(value, quote(value, safe=""), quote_plus(value, safe=""))

    def add_secrets_from(self, obj: Any) -> None:
        """Register every ``SecretStr`` found in a pydantic model, mapping or list (config sections)."""
        for secret in _walk_secrets(obj, depth=0):
            self.add_secret(secret)

    def is_secret(self, value: str) -> bool:
        """Whether ``value`` is exactly a registered secret (here or in the shared registry)."""
        return value in self._own or value in self._linked

    @property
    def secrets(self) -> SecretRegistry:
        """This redactor's own registered values (the shared registry's are not among them)."""
        return self._own

    @property
    def secret_count(self) -> int:
        """How many secret values (with their encoded variants) are registered."""
        return len(self._own)

    def redact_text(self, text: str) -> str:
        """``text`` with every known secret and every secret-shaped fragment masked."""
        self._sync_linked()
        return self._text(text)

    def _sync_linked(self) -> None:
        # The answers cached below are only true for the secrets known when they were computed.
        seen = (self._own.snapshot, self._linked.snapshot)
        if seen[0] is not self._seen[0] or seen[1] is not self._seen[1]:
            self._seen = seen
            self._cache = {}
            self._keys = {}

    def _text(self, text: str) -> str:
        # Short strings (endpoints, system ids, levels, timestamps) repeat on every log line: remember
        # their answer. The cache is cleared whenever a secret is added.
        short = len(text) <= 96
        if short:
            hit = self._cache.get(text)
            if hit is not None:
                return hit
        out = self._redact_uncached(text)
        if short:
            if len(self._cache) >= 8192:
                self._cache = {}  # unique values (timestamps, ids) filled it: start over, hot ones return
            self._cache[text] = out
        return out

    def _redact_uncached(self, text: str) -> str:
        text = self._linked.scrub(self._own.scrub(text))
        return mask_patterns(text)

    def redact(self, value: Any, *, _depth: int = 0) -> Any:
        """A copy of ``value`` (str, mapping, sequence, exception, anything) with secrets masked.

        Mapping entries whose key names a secret are masked whole; objects that are not plain data are
        turned into their (redacted) ``str`` so no repr can carry a secret past this point.
        """
        if value is None or isinstance(value, bool | int | float):
            return value
        if _depth == 0:
            self._sync_linked()
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, SecretStr | SecretBytes):
            return MASK
        if _depth > 8:
            return MASK
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            keys = self._keys
            cache = self._cache
            for key, item in value.items():
                if isinstance(key, str):
                    # One lookup answers both "is this field secret by name" (None) and its redacted form.
                    safe = keys.get(key, _UNSEEN)
                    if safe is _UNSEEN:
                        safe = None if is_sensitive_key(key) else self._text(key)
                        if len(keys) < 4096:
                            keys[key] = safe
                    if safe is None:
                        out[key] = MASK if item not in (None, "") else item
                        continue
                    key = safe
                if item is None or isinstance(item, bool | int | float):
                    out[key] = item
                elif isinstance(item, str):
                    hit = cache.get(item)
                    out[key] = hit if hit is not None else self._text(item)
                else:
                    out[key] = self.redact(item, _depth=_depth + 1)
            return out
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(item, _depth=_depth + 1) for item in value]
        if isinstance(value, BaseException):
            return self._text(f"{type(value).__name__}: {value}")
        return self._text(str(value))

    def processor(self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """The structlog processor: placed just before the renderer."""
        return self.redact(event_dict)  # type: ignore[no-any-return]


def _walk_secrets(obj: Any, depth: int) -> Iterable[str]:
    if depth > 10 or obj is None:
        return
    if isinstance(obj, SecretStr | SecretBytes):
        raw = obj.get_secret_value()
        yield raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        return
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _walk_secrets(getattr(obj, name, None), depth + 1)
        return
    if isinstance(obj, Mapping):
        for key, item in obj.items():
            if isinstance(key, str) and is_sensitive_key(key) and isinstance(item, str) and item:
                yield item
            else:
                yield from _walk_secrets(item, depth + 1)
        return
    if isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            yield from _walk_secrets(item, depth + 1)


_default = Redactor()


def default_redactor() -> Redactor:
    """The process-wide redactor the log pipeline uses unless given another one."""
    return _default


def redact_text(text: str) -> str:
    """``text`` as the log pipeline would show it: for messages about to be raised, stored or shown."""
    return _default.redact_text(text) if text else text
