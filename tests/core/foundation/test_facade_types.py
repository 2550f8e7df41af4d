"""mypy sees the facade's services as their real classes, not ``Any`` (issue 27).

The check runs ``.ci/mypy`` (the symlinked ``portico`` tree CI type-checks, with its cache) on a snippet
that calls ``reveal_type`` on every service property of :class:`~portico.runtime.AsyncIntegration` and
:class:`~portico.runtime.Integration`, and compares each revealed type with the public class it must be.
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
from pathlib import Path

import pytest

from portico.runtime import AsyncIntegration, Integration

ROOT = Path(__file__).resolve().parents[3]

# warm (CI runs .ci/mypy first) the check takes seconds; from a cold cache about 25 s of CPU, which a
# loaded machine can stretch past the default per-test limit
pytestmark = pytest.mark.timeout(600)

# property -> the types mypy must reveal for it, by their public names (None: the property may be None)
EXPECTED: dict[str, tuple[str, ...]] = {
    "analytics": ("portico.analytics.AnalyticsService",),
    "audit": ("portico.auth.AuditLog",),
    "auth": ("portico.auth.AuthenticationManager",),
    "db": ("portico.store.Database",),
    "events": ("portico.events.EventPublisher", "portico.events.OutboxPublisher", "None"),
    "fx_feed": ("portico.marketdata.FxRateFeed", "None"),
    "fx_rates": ("portico.marketdata.StoredFxRateBook",),
    "instance": ("str",),
    "jobs": ("portico.jobs.JobService",),
    "limiters": ("portico.http.RateLimiterRegistry",),
    "market_data": ("portico.marketdata.MarketDataService",),
    "monitor": ("portico.monitor.IntegrationMonitor",),
    "trading": ("portico.trading.TradingService",),
    "unavailable_systems": ("dict[str, str]",),
}

_REVEALED = re.compile(r'^<string>:(\d+): note: Revealed type is "(.*)"$')


def _public_properties(cls: type) -> set[str]:
    return {n for n, v in inspect.getmembers(cls) if isinstance(v, property) and not n.startswith("_")}


def _reveal(expressions: list[str]) -> list[str]:
    """The types mypy reveals for ``expressions`` (``a`` is an AsyncIntegration, ``s`` an Integration)."""
    lines = [
        "from portico.runtime import AsyncIntegration, Integration",
        "def probe(a: AsyncIntegration, s: Integration) -> None:",
        *(f"    reveal_type({e})" for e in expressions),
    ]
    run = subprocess.run(
        [str(ROOT / ".ci" / "mypy"), "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=ROOT,
    )
    revealed: dict[int, str] = {}
    for line in run.stdout.splitlines():
        found = _REVEALED.match(line)
        if found:
            revealed[int(found.group(1))] = found.group(2)
    assert run.returncode == 0, f"mypy failed:\n{run.stdout}{run.stderr}"
    # the snippet's reveal_type calls are on lines 3, 4, ...
    assert sorted(revealed) == list(range(3, 3 + len(expressions))), run.stdout
    return [revealed[n] for n in sorted(revealed)]


def _same_class(revealed: str, public: str) -> bool:
    """Whether mypy's fully qualified ``revealed`` name is the class importable as ``public``."""
    if revealed == public or "." not in revealed or "." not in public:
        return revealed == public
    module, _, name = revealed.rpartition(".")
    public_module, _, public_name = public.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return found is getattr(importlib.import_module(public_module), public_name)


def _matches(revealed: str, expected: tuple[str, ...]) -> bool:
    parts = [p.strip() for p in revealed.split(" | ")]
    return len(parts) == len(expected) and all(
        _same_class(p, e) for p, e in zip(parts, expected, strict=True)
    )


@pytest.fixture(scope="module")
def revealed() -> dict[str, str]:
    names = sorted(EXPECTED)
    types = _reveal([f"a.{n}" for n in names] + [f"s.{n}" for n in names] + ["s.plugins"])
    out = {f"AsyncIntegration.{n}": t for n, t in zip(names, types[: len(names)], strict=True)}
    out |= {f"Integration.{n}": t for n, t in zip(names, types[len(names) : 2 * len(names)], strict=True)}
    out["Integration.plugins"] = types[-1]
    return out


def test_every_service_property_is_listed() -> None:
    # a new service property must be added to EXPECTED (and typed), on both facades
    assert _public_properties(AsyncIntegration) == set(EXPECTED)
    assert _public_properties(Integration) == set(EXPECTED)


@pytest.mark.parametrize("facade", ["AsyncIntegration", "Integration"])
def test_service_properties_are_their_real_classes(revealed: dict[str, str], facade: str) -> None:
    wrong = {
        name: revealed[f"{facade}.{name}"]
        for name, expected in EXPECTED.items()
        if not _matches(revealed[f"{facade}.{name}"], expected)
    }
    assert wrong == {}
    assert not any("Any" in revealed[f"{facade}.{name}"] for name in EXPECTED)


def test_the_probe_sees_any(revealed: dict[str, str]) -> None:
    # what the check would catch: an attribute reached through Integration.__getattr__ is Any to mypy
    assert revealed["Integration.plugins"] == "Any"
    assert not _matches("Any", EXPECTED["trading"])
    assert not _matches("portico.trading._records.OrderRecord", EXPECTED["trading"])
    assert _matches("portico.trading._service.TradingService", EXPECTED["trading"])
