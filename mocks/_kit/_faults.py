"""Fault injection: rules matched per route, decided by a seeded generator, loaded from a file or set at
run time through ``/__mock__/faults``.

A rule file (YAML or JSON) is a list of rules, or a mapping with a ``faults`` list::

    faults:
      - route: "/v2/orders"        # glob on the path; "*" matches everything
        method: POST               # optional
        kind: drop_after            # see FaultKind
        probability: 0.2
      - route: "/v2/account"
        kind: latency
        delay: 0.25
      - route: "/v2/positions"
        kind: rate_limit
        retry_after: 2
        times: 3                   # only the first three matching requests
"""

from __future__ import annotations

import fnmatch
import json
import random
import threading
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["FaultKind", "FaultPlan", "FaultRule", "load_faults"]


class FaultKind(StrEnum):
    """What a fault does to a matching request."""

    LATENCY = "latency"
    """Wait ``delay`` seconds, then handle the request normally."""
    RATE_LIMIT = "rate_limit"
    """Answer 429 with ``Retry-After: retry_after`` without handling the request."""
    ERROR = "error"
    """Answer ``status`` (5xx by default) without handling the request."""
    DROP_BEFORE = "drop_before"
    """Close the connection before the request is handled: nothing happened at the venue."""
    DROP_AFTER = "drop_after"
    """Handle the request (the order is committed), then close the connection without answering."""
    MALFORMED = "malformed"
    """Handle the request, then answer with a body that is not valid JSON."""
    TRUNCATE = "truncate"
    """Handle the request, then answer with only the first half of the body."""
    WS_DISCONNECT = "ws_disconnect"
    """Close a WebSocket abruptly after ``after_messages`` messages sent by the server."""
    WS_SILENCE = "ws_silence"
    """Keep a WebSocket open but send nothing more (no data, no heartbeats) after ``after_messages``
    messages sent by the server: a stalled server a client must notice by its own receive timeout."""


class FaultRule(BaseModel):
    """One fault: which requests it hits and what it does.

    Attributes:
        route: a glob matched against the request path (``/v2/orders*``; ``*`` for all).
        method: an HTTP method, or None for any (WebSockets match ``WS``).
        kind: what to do.
        probability: the chance a matching request is hit (seeded, so reproducible).
        times: hit at most this many requests, then stop (None: no limit).
        skip: let this many matching requests through before the first hit.
        delay: seconds of added latency (``latency``).
        status: the status of an ``error`` answer.
        retry_after: seconds in the ``Retry-After`` header of a ``rate_limit`` answer.
        after_messages: server messages a WebSocket gets before ``ws_disconnect`` closes it or
            ``ws_silence`` stops it.
        body: a body for ``error`` answers (JSON-encoded when not a string).
    """

    model_config = ConfigDict(extra="forbid")

    route: str = "*"
    method: str | None = None
    kind: FaultKind
    probability: float = Field(default=1.0, ge=0, le=1)
    times: int | None = Field(default=None, ge=0)
    skip: int = Field(default=0, ge=0)
    delay: float = Field(default=0.0, ge=0)
    status: int = Field(default=500, ge=400, le=599)
    retry_after: float = Field(default=1.0, ge=0)
    after_messages: int = Field(default=0, ge=0)
    body: Any = None
    hits: int = 0
    seen: int = 0

    @model_validator(mode="after")
    def _method_upper(self) -> FaultRule:
        if self.method is not None:
            self.method = self.method.upper()
        return self

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to ``method path`` (before probability and counts)."""
        if self.method is not None and self.method != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.route)


class FaultPlan:
    """The active rules of one mock, with the seeded generator that decides hits.

    Thread-safe. Admin and journal paths (``/__mock__/...``) are never faulted.

    Args:
        rules: the initial rules.
        seed: seeds the hit decisions.
    """

    def __init__(self, rules: list[FaultRule] | None = None, *, seed: int = 0) -> None:
        self._rules: list[FaultRule] = list(rules or [])
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def rules(self) -> list[FaultRule]:
        """A copy of the active rules (with their hit counts)."""
        with self._lock:
            return [r.model_copy() for r in self._rules]

    def add(self, rule: FaultRule | dict[str, Any]) -> FaultRule:
        """Add a rule; returns it validated."""
        parsed = rule if isinstance(rule, FaultRule) else FaultRule.model_validate(rule)
        with self._lock:
            self._rules.append(parsed)
        return parsed

    def set(self, rules: list[FaultRule | dict[str, Any]]) -> None:
        """Replace every rule."""
        parsed = [r if isinstance(r, FaultRule) else FaultRule.model_validate(r) for r in rules]
        with self._lock:
            self._rules = parsed

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules = []

    def decide(self, method: str, path: str) -> list[FaultRule]:
        """The rules that hit this request, at most one per kind, in rule order."""
        if path.startswith("/__mock__"):
            return []
        hits: list[FaultRule] = []
        kinds: set[FaultKind] = set()
        with self._lock:
            for rule in self._rules:
                if rule.kind in kinds or not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                if rule.probability < 1 and self._rng.random() >= rule.probability:
                    continue
                rule.hits += 1
                kinds.add(rule.kind)
                hits.append(rule)
        return hits

    def to_json(self) -> list[dict[str, Any]]:
        """The rules as JSON-safe dicts (with ``hits`` and ``seen``)."""
        return [r.model_dump(mode="json") for r in self.rules]


def _parse_rules(data: Any, where: str) -> list[FaultRule]:
    if isinstance(data, dict):
        unknown = sorted(str(k) for k in data if k != "faults")
        if unknown:
            # a misspelt top-level key ('fault:', 'rules:') must not load as "0 fault rules"
            raise ValueError(
                f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                "a fault file is a list of rules, or a mapping with one key, 'faults', holding that list"
            )
        data = data.get("faults", [])
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValueError(f"{where}: expected a list of fault rules (or a mapping with a 'faults' list)")
    rules = []
    for i, item in enumerate(data):
        try:
            rules.append(FaultRule.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(f"faults[{i}].{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{where}: {problems}") from None
    return rules


def load_faults(source: str | Path | list[Any] | dict[str, Any] | FaultPlan | None, *, seed: int = 0) -> FaultPlan:
    """Build a :class:`FaultPlan` from a YAML/JSON file path, a list or mapping of rules, or a plan.

    Raises:
        ValueError: naming the file and the rule's index and field when a rule is invalid.
    """
    if source is None:
        return FaultPlan(seed=seed)
    if isinstance(source, FaultPlan):
        return source
    if isinstance(source, (list, dict)):
        return FaultPlan(_parse_rules(source, "faults"), seed=seed)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read fault file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    return FaultPlan(_parse_rules(data, str(path)), seed=seed)
