"""Alpha Vantage-specific fault injection: the failures this vendor really shows, mostly inside HTTP 200.

A rule matches a function (or ``*``) and fires ``times`` times (or always), optionally only every
``every``-th matching call. Kinds:

* ``note``: the per-minute throttle body (``{"Note": ...}``)
* ``information``: the daily quota body (``{"Information": ...}``)
* ``premium``: the premium-endpoint body
* ``error``: an ``Error Message`` body (invalid call)
* ``empty``: ``{}``
* ``non_json``: an HTML page with status 200 (what a proxy or maintenance page gives)
* ``http_500`` / ``http_503``: a server error status
* ``stale``: correct data, but as of ``seconds`` ago (a provider that stopped updating)
* ``latency``: answer normally after ``seconds`` of delay
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["FAULT_KINDS", "AlphaVantageFault", "FaultBook"]

FaultKind = Literal[
    "note", "information", "premium", "error", "empty", "non_json", "http_500", "http_503", "stale", "latency"
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]


@dataclass
class AlphaVantageFault:
    """One fault rule."""

    kind: FaultKind
    function: str = "*"
    times: int | None = None
    every: int = 1
    seconds: float = 0.0
    fired: int = field(default=0, compare=False)
    seen: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {FAULT_KINDS}")
        if self.every < 1:
            raise ValueError("every must be at least 1")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AlphaVantageFault:
        """A rule from a dict (a faults file or the admin endpoint)."""
        unknown = set(data) - {"kind", "function", "times", "every", "seconds"}
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}")
        return cls(**dict(data))

    def as_dict(self) -> dict[str, Any]:
        """The rule and its counters."""
        return {
            "kind": self.kind,
            "function": self.function,
            "times": self.times,
            "every": self.every,
            "seconds": self.seconds,
            "fired": self.fired,
        }


class FaultBook:
    """The active rules; :meth:`pick` returns the rule firing for a call, if any."""

    def __init__(self, rules: Iterable[AlphaVantageFault | Mapping[str, Any]] = ()) -> None:
        self.rules: list[AlphaVantageFault] = []
        self.extend(rules)

    def extend(self, rules: Iterable[AlphaVantageFault | Mapping[str, Any]]) -> None:
        """Add rules."""
        for rule in rules:
            self.rules.append(
                rule if isinstance(rule, AlphaVantageFault) else AlphaVantageFault.from_mapping(rule)
            )

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def pick(self, function: str) -> AlphaVantageFault | None:
        """The first rule that fires for a call to ``function`` (counting the call for every matching rule)."""
        chosen: AlphaVantageFault | None = None
        for rule in self.rules:
            if rule.function not in ("*", function):
                continue
            if rule.times is not None and rule.fired >= rule.times:
                continue
            rule.seen += 1
            if chosen is None and (rule.seen - 1) % rule.every == 0:
                rule.fired += 1
                chosen = rule
        return chosen
