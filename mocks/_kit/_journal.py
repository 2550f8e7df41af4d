"""The request journal: every request a mock received, so tests assert on what was sent."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["REDACTED_FIELDS", "REDACTED_HEADERS", "Journal", "JournalEntry", "redact", "redact_body", "redact_query"]

REDACTED_HEADERS = frozenset(
    {"authorization", "apca-api-secret-key", "x-api-key", "cookie", "proxy-authorization", "x-rapidapi-key"}
)
"""Headers whose values the journal never keeps."""

_HEADER_NAMES: dict[bytes, str] = {}
"""Header names as they arrive, decoded and lower-cased once."""

REDACTED_FIELDS = frozenset(
    {"secret", "secret_key", "api_secret", "api_secret_key", "password", "token", "oauth_token", "access_token",
     "refresh_token", "client_secret", "apikey", "api_key"}
)
"""Names of body fields, query parameters and WebSocket message fields whose values the journal never
keeps (credentials travel in them)."""


def redact(value: Any) -> Any:
    """``value`` with every field named in :data:`REDACTED_FIELDS` masked, at any depth."""
    if isinstance(value, dict):
        return {k: "***" if str(k).lower() in REDACTED_FIELDS else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_query(query: str) -> str:
    """A query string with the values of credential parameters masked."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(k.lower() in REDACTED_FIELDS for k, _ in pairs):
        return query
    return urlencode([(k, "***" if k.lower() in REDACTED_FIELDS else v) for k, v in pairs])


def redact_body(body: bytes, content_type: str) -> str:
    """A request body as text, with credential fields of JSON and form bodies masked."""
    text = body.decode("utf-8", errors="replace")
    lowered = text.lower()
    if not any(name in lowered for name in REDACTED_FIELDS):
        return text  # nothing to mask: skip parsing every order body
    if "json" in content_type:
        try:
            return json.dumps(redact(json.loads(text)))
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type:
        return redact_query(text)
    return text


@dataclass
class JournalEntry:
    """One request (or WebSocket session) the mock received.

    Attributes:
        seq: position in the journal, from 1.
        time: simulated time at arrival.
        method: HTTP method, or ``WS`` for a WebSocket.
        path: the request path.
        query: the raw query string.
        headers: request headers, secrets redacted.
        body: the request body as text (JSON stays text; parse with :meth:`json`); credential fields
            of JSON and form bodies, and of the query string, are masked.
        status: the status answered (None when the connection was dropped).
        faults: the fault kinds applied.
        messages: for WebSockets, the messages the client sent (decoded).
    """

    seq: int
    time: datetime
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    status: int | None = None
    faults: list[str] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict."""
        data = asdict(self)
        data["time"] = self.time.isoformat()
        data["messages"] = [m if isinstance(m, (dict, list, str, int, float)) else repr(m) for m in self.messages]
        return data


class Journal:
    """A bounded, thread-safe list of :class:`JournalEntry`.

    Args:
        capacity: the oldest entries are dropped beyond this many.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._entries: list[JournalEntry] = []
        self._seq = 0
        self._lock = threading.Lock()

    def record(
        self, time: datetime, method: str, path: str, query: str, headers: list[tuple[bytes, bytes]]
    ) -> JournalEntry:
        """Start an entry for an arriving request."""
        clean = {}
        names = _HEADER_NAMES
        for raw_name, raw_value in headers:
            name = names.get(raw_name)
            if name is None:
                name = raw_name.decode("latin-1").lower()
                if len(names) < 1024:  # the same few names arrive on every request
                    names[raw_name] = name
            clean[name] = "***" if name in REDACTED_HEADERS else raw_value.decode("latin-1")
        with self._lock:
            self._seq += 1
            entry = JournalEntry(self._seq, time, method, path, redact_query(query), clean)
            self._entries.append(entry)
            if len(self._entries) > self.capacity:
                del self._entries[: len(self._entries) - self.capacity]
        return entry

    def entries(self, method: str | None = None, path: str | None = None) -> list[JournalEntry]:
        """Entries, optionally only those with ``method`` and exact ``path``."""
        with self._lock:
            return [
                e
                for e in self._entries
                if (method is None or e.method == method.upper()) and (path is None or e.path == path)
            ]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many entries match."""
        return len(self.entries(method, path))

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
