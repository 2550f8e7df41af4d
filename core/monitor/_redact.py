"""Secret redaction: by field name, by known value, inside URLs and free text.

One :class:`Redactor` is shared by the log pipeline, metric labels, alert messages and the dashboard, so
a secret registered once (a vault credential, a ``SecretStr`` from config, the dashboard token) is
removed everywhere it could surface.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import SecretBytes, SecretStr

__all__ = ["MASK", "Redactor", "default_redactor", "is_sensitive_key"]

MASK = "***"
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
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9\-._~+/]{8,}=*")
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


class Redactor:
    """Removes secrets from log events, text, metric labels and alert messages.

    Secrets come from two places: values registered with :meth:`add_secret` (the credential vault and
    every ``SecretStr`` in config register theirs), and patterns that are secret whatever their value
    (``apikey=`` in a URL, ``user:pass@`` in a URL, ``Bearer ...``, ``"password": "..."``).
    Thread-safe: secrets may be added while other threads log.

    Args:
        secrets: initial secret values.
        min_length: shorter values are not registered (masking "1" everywhere would destroy logs).
    """

    def __init__(self, secrets: Iterable[str] = (), *, min_length: int = 4) -> None:
        self.min_length = min_length
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self._keys: dict[str, str | None] = {}
        self._linked: Any = None
        self._linked_size = 0
        for secret in secrets:
            self.add_secret(secret)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"

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
        variants = {value, quote(value, safe=""), quote_plus(value, safe="")}
        with self._lock:
            if variants <= self._secrets:
                return
            self._secrets |= variants
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            self._cache = {}
            self._keys = {}

    def add_secrets_from(self, obj: Any) -> None:
        """Register every ``SecretStr`` found in a pydantic model, mapping or list (config sections)."""
        for secret in _walk_secrets(obj, depth=0):
            self.add_secret(secret)

    def is_secret(self, value: str) -> bool:
        """Whether ``value`` is exactly a registered secret (here or in the auth package's registry)."""
        if value in self._secrets:
            return True
        module = sys.modules.get("portico.auth._redaction")
        registry = getattr(module, "known_secrets", None) if module is not None else None
        return registry is not None and value in registry

    @property
    def secret_count(self) -> int:
        """How many secret values (with their encoded variants) are registered."""
        return len(self._secrets)

    def redact_text(self, text: str) -> str:
        """``text`` with every known secret and every secret-shaped fragment masked."""
        self._sync_linked()
        return self._text(text)

    def _sync_linked(self) -> None:
        # The auth package keeps its own process-wide registry (tokens it obtains at run time): its
        # values are masked here too. Looked up in sys.modules so the monitor never imports auth.
        module = sys.modules.get("portico.auth._redaction")
        registry = getattr(module, "known_secrets", None) if module is not None else None
        size = len(registry) if registry is not None else 0
        if registry is not self._linked or size != self._linked_size:
            self._linked = registry
            self._linked_size = size
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
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        if self._linked is not None and self._linked_size:
            text = self._linked.scrub(text)
        if "=" in text:
            text = _URL_PARAM.sub(r"\1" + MASK, text)
        if ("=" in text or ":" in text) and _KEYWORDS.search(text):
            text = _KEY_VALUE.sub(r"\1" + MASK, text)
        if "@" in text:
            text = _URL_USERINFO.sub(r"\1" + MASK + "@", text)
        if " " in text:
            text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)} {MASK}", text)
        return text

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
    from pydantic import BaseModel

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
