"""structlog, configured once: JSON lines in production, readable console output in development.

Standard-library logging (httpx, uvicorn, apscheduler, third-party plugins) is routed through the same
processors, so every line, wherever it comes from, carries the correlation id and passes the redaction
processor, which sits just before the renderer. Tracebacks are rendered as plain text without local
variables (locals are where secrets live) and are redacted like any other field.
"""

from __future__ import annotations

import io
import json as _json
import logging
import sys
import threading
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import IO, Any, TextIO, cast

import structlog

from portico.context import current_correlation_id
from portico.monitor._redact import Redactor, default_redactor

__all__ = [
    "CachedLogger",
    "FastJsonLines",
    "add_correlation_id",
    "configure_library_logging",
    "configure_logging",
    "fast_json_lines",
    "get_logger",
    "logging_generation",
]

_HANDLER_NAME = "portico"


def add_correlation_id(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: add the current operation's correlation id, unless the event already carries one."""
    if event_dict.get("correlation_id") is None:
        cid = current_correlation_id()
        if cid is not None:
            event_dict["correlation_id"] = cid
        else:
            event_dict.pop("correlation_id", None)
    return event_dict


def _drop_color_message(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # uvicorn duplicates its message with ANSI colours under this key.
    event_dict.pop("color_message", None)
    return event_dict


class _CurrentStderr(io.TextIOBase):
    """Whatever ``sys.stderr`` is at write time (test runners and daemons swap it after start-up)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class _State:
    generation = 0
    fast: FastJsonLines | None = None


class FastJsonLines:
    """Writes one JSON line exactly as the configured JSON pipeline would, without the processor chain.

    Used for the one event on the hot path, ``external_call`` (one per attempt of every API call): the
    same redactor runs just before the same renderer (``json.dumps``), with the level, logger name,
    correlation id and ISO UTC timestamp the chain adds; only the generic processors that never apply
    to it (stack info, exception formatting, structlog-bound context variables) are skipped.
    """

    __slots__ = ("_lock", "level", "redactor", "stream")

    def __init__(self, stream: IO[str], redactor: Redactor, level: int) -> None:
        self.stream = stream
        self.redactor = redactor
        self.level = level
        self._lock = threading.Lock()

    def write(
        self, level: int, level_name: str, logger: str, event: str, fields: dict[str, Any], *, redacted: bool = False
    ) -> None:
        """Render and write one line (nothing when ``level`` is below the configured level).

        ``redacted=True`` says every value of ``fields`` already went through this writer's redactor
        (the monitor does that value by value, with caches), so the whole-event pass is skipped.
        """
        if level < self.level:
            return
        if not redacted:
            fields = self.redactor.redact(fields)
        fields["event"] = event
        fields["level"] = level_name
        fields["logger"] = logger
        fields["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        line = _json.dumps(fields) + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()


def fast_json_lines() -> FastJsonLines | None:
    """The hot-path writer when JSON logging is configured; None otherwise (use a structlog logger)."""
    return _State.fast


def logging_generation() -> int:
    """Incremented by every :func:`configure_logging`; cached loggers rebind when it changes."""
    return _State.generation


def configure_logging(
    json: bool = True,
    level: str | int = "INFO",
    *,
    stream: IO[str] | None = None,
    redactor: Redactor | None = None,
    quiet_http_clients: bool = True,
) -> Redactor:
    """Configure structlog and route standard-library logging through the same processors.

    portico's own loggers are structlog-native (a level-filtering bound logger writing rendered lines),
    which keeps a log line cheap on the hot path; standard-library records (httpx, uvicorn, apscheduler,
    third-party plugins) go through a handler whose ``ProcessorFormatter`` applies the same chain. Both
    end with the redaction processor just before the renderer.

    Safe to call again (the runtime calls it once at start; tests call it per test): the previous portico
    handler is replaced, never stacked, and loggers obtained from :func:`get_logger` follow the new setup.

    Args:
        json: JSON lines (production) when true, coloured key=value console output when false.
        level: the minimum level, by name or number.
        stream: where lines go; default ``sys.stderr``.
        redactor: the redactor to apply; default the process-wide :func:`default_redactor`.
        quiet_http_clients: raise ``httpx``/``httpcore`` to WARNING: they log every request at INFO
            with its full URL, and the monitor already logs each call once (templated, redacted).

    Returns:
        The redactor in use (register secrets on it with ``add_secret``).
    """
    redactor = redactor or default_redactor()
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    out: IO[str] = stream or cast(IO[str], _CurrentStderr())

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    renderer: Any
    if json:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(stream is None and sys.stderr.isatty()),
            exception_formatter=structlog.dev.plain_traceback,
        )
    # Plain-text tracebacks (never locals), then redaction, then the renderer: in both chains.
    tail: list[Any] = [structlog.processors.format_exc_info, redactor.processor, renderer]

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            add_correlation_id,
            timestamper,
            _drop_color_message,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    if quiet_http_clients:
        logging.getLogger("httpx").setLevel(max(numeric, logging.WARNING))
        logging.getLogger("httpcore").setLevel(max(numeric, logging.WARNING))

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            add_correlation_id,
            timestamper,
            structlog.processors.StackInfoRenderer(),
            *tail,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, out)),
        cache_logger_on_first_use=False,
    )
    _State.fast = FastJsonLines(out, redactor, numeric) if json else None
    _State.generation += 1
    return redactor


def configure_library_logging(redactor: Redactor | None = None) -> Redactor:
    """What portico does when it is used as a library and nobody configured logging: nothing visible.

    portico's structlog loggers are routed, redacted and rendered as one JSON object per message, to the
    standard library's ``portico`` logger, which carries only a ``NullHandler``: no line appears until the
    application configures logging (``logging.basicConfig``, its own handlers, or
    :func:`configure_logging`, which the CLI and ``portico run`` call). Records below the level the
    application enabled are dropped before any processing.

    Args:
        redactor: the redactor to apply; default the process-wide :func:`default_redactor`.

    Returns:
        The redactor in use.
    """
    redactor = redactor or default_redactor()
    library_logger = logging.getLogger("portico")
    if not any(isinstance(h, logging.NullHandler) for h in library_logger.handlers):
        library_logger.addHandler(logging.NullHandler())
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            add_correlation_id,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redactor.processor,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        logger_factory=_LibraryLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    _State.fast = None  # the hot-path writer writes to a stream: none is configured
    _State.generation += 1
    return redactor


class _LibraryLoggerFactory:
    """Standard-library loggers under ``portico`` (``structlog.stdlib.LoggerFactory`` would name them after
    the calling module's frame, which is this logging module for every cached logger)."""

    def __call__(self, *args: Any) -> logging.Logger:
        return logging.getLogger("portico")


def get_logger(name: str = "portico") -> Any:
    """A structlog logger named ``name`` (``portico.monitor``, ``portico.connectors.alpaca``...)."""
    return structlog.get_logger().bind(logger=name)


class CachedLogger:
    """A logger for hot paths: built once per :func:`configure_logging`, not on every call.

    Call :meth:`get` for the current bound logger (one integer comparison when nothing changed).
    """

    __slots__ = ("_generation", "_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._generation = -1
        self._logger: Any = None

    def get(self) -> Any:
        """The bound logger for the current logging configuration."""
        if self._generation != _State.generation:
            self._logger = get_logger(self.name)
            self._generation = _State.generation
        return self._logger
