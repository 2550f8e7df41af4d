"""The secret registry and free-text redaction: masking, and never blocking the logging path."""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from portico.auth import SecretRegistry, redact
from portico.auth._redaction import RedactingLogFilter

T = TypeVar("T")
DEADLINE = 10.0  # seconds; the bodies take milliseconds, a deadlock never ends


def _within(seconds: float, body: Callable[[], T]) -> T:
    """Run ``body`` in a daemon thread: a deadlock fails the test instead of hanging the run."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = body()
        except BaseException as exc:  # re-raised in the test's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="redaction-deadline")
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s: the logging path deadlocked"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


_REGEX_COMPILER = frozenset({"re", "re._compiler", "re._parser", "sre_compile", "sre_parse"})


def _inside_regex_compiler() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") in _REGEX_COMPILER:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


@pytest.fixture
def collector_logs() -> Iterator[tuple[SecretRegistry, list[str]]]:
    """A garbage collection that logs, through a redacting logger, whenever it starts inside ``re.compile``.

    A GC callback runs on the thread whose allocation started the collection, in the middle of whatever
    that thread was doing, exactly like a finalizer (aiohttp's ``ClientSession.__del__`` logs "Unclosed
    client session"). With the threshold at 1 a collection starts on nearly every allocation, so some
    start while the registry compiles its pattern: the moment the old lock was held.
    """
    registry = SecretRegistry()
    logger = logging.getLogger("portico.tests.collector")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logger.addFilter(RedactingLogFilter(registry))
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger.addHandler(Keep())
    busy = threading.local()

    def log_from_the_collector(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and not getattr(busy, "on", False) and _inside_regex_compiler():
            busy.on = True
            try:
                logger.warning("Unclosed client session, key secret-value-0000-xyz")
            finally:
                busy.on = False

    before = gc.get_threshold()
    gc.callbacks.append(log_from_the_collector)
    gc.set_threshold(1, 1, 1)
    try:
        yield registry, records
    finally:
        gc.set_threshold(*before)
        gc.callbacks.remove(log_from_the_collector)
        logger.handlers.clear()
        logger.filters.clear()


def test_logging_from_the_collector_while_the_pattern_is_rebuilt_does_not_deadlock(
    collector_logs: tuple[SecretRegistry, list[str]],
) -> None:
    registry, records = collector_logs

    def body() -> list[str]:
        out = []
        for i in range(20):
            registry.register(f"secret-value-{i:04d}-xyz")  # the next scrub rebuilds the pattern
            out.append(registry.scrub(f"token secret-value-{i:04d}-xyz seen"))
        return out

    assert _within(DEADLINE, body) == ["token *** seen"] * 20
    assert records  # the collector really logged while the registry was working
    assert all(r == "Unclosed client session, key ***" for r in records)


def test_concurrent_writers_lose_no_secret() -> None:
    registry = SecretRegistry()

    def writer(n: int) -> None:
        for i in range(50):
            registry.register(f"writer-{n}-value-{i:03d}")
            registry.scrub("keeps the pattern being rebuilt")

    def body() -> int:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE)
        return len(registry)

    assert _within(DEADLINE, body) == 200
    assert registry.scrub("writer-3-value-049 and writer-0-value-000") == "*** and ***"
    registry.forget("writer-3-value-049")
    assert "writer-3-value-049" not in registry and len(registry) == 199


def test_redact_masks_known_secrets_and_url_keys() -> None:
    registry = SecretRegistry()
    registry.register("known-secret-987654")
    text = redact("GET https://x.test/q?apikey=ABC123&symbol=IBM failed: known-secret-987654", registry=registry)
    assert text == "GET https://x.test/q?apikey=***&symbol=IBM failed: ***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retrying with Bearer eyJhbGciOiJIUzI1NiJ9.abc after 401", "retrying with Bearer *** after 401"),
        ("sent bearer tok_12345678 twice", "sent bearer *** twice"),
        ("header Basic dXNlcjpwYXNzd29yZA== refused", "header Basic *** refused"),
        # prose around the same words stays readable
        ("the token endpoint answered 400", "the token endpoint answered 400"),
        ("Basic authentication is not offered", "Basic authentication is not offered"),
    ],
)
def test_a_bare_bearer_token_in_free_text_is_masked(text: str, expected: str) -> None:
    assert redact(text, registry=SecretRegistry()) == expected
