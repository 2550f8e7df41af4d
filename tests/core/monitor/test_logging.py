from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from pydantic import SecretStr

from portico.context import correlation_scope
from portico.errors import ServerError
from portico.monitor import IntegrationMonitor, Redactor, configure_logging, get_logger

from .conftest import CANARY, LogCapture, call


def test_every_external_call_is_logged_once_with_its_fields(logs: LogCapture, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(redactor=redactor)
    observer = monitor.call_observer()
    with correlation_scope("op-123"):
        observer(call(endpoint="GET /v2/orders/{id}", status=200, latency=0.0123, attempt=2, rate_limit_wait=0.5))
    [line] = logs.events("external_call")
    assert line["system"] == "alpaca_paper"
    assert line["endpoint"] == "GET /v2/orders/{id}"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["outcome"] == "ok"
    assert line["latency_ms"] == pytest.approx(12.3)
    assert line["attempt"] == 2
    assert line["rate_limit_wait_ms"] == pytest.approx(500.0)
    assert line["correlation_id"] == "op-123"
    assert line["level"] == "info" and line["timestamp"].endswith("Z")


def test_record_correlation_id_wins_and_failed_calls_log_as_warning(logs: LogCapture, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(redactor=redactor)
    err = ServerError("boom", status_code=503)
    monitor.call_observer()(call(status=503, outcome="retry", error=err, correlation_id="rec-1"))
    [line] = logs.events("external_call")
    assert line["level"] == "warning"
    assert line["correlation_id"] == "rec-1"
    assert line["error_class"] == "ServerError"


def test_stdlib_logging_is_routed_through_the_same_pipeline(logs: LogCapture) -> None:
    with correlation_scope("std-1"):
        logging.getLogger("thirdparty.lib").warning("hello %s with token=%s", "world", "abcdef123456")
    [line] = [entry for entry in logs.lines if entry.get("logger") == "thirdparty.lib"]
    assert line["event"].startswith("hello world")
    assert "abcdef123456" not in logs.text
    assert line["correlation_id"] == "std-1"


def test_canary_never_reaches_a_log_line(logs: LogCapture, redactor: Redactor) -> None:
    log = get_logger("portico.test")
    monitor = IntegrationMonitor(redactor=redactor)
    log.info("field", api_key=CANARY, other=f"x{CANARY}x", secret_model=SecretStr(CANARY))
    log.info("url", url=f"https://www.alphavantage.co/query?function=X&apikey={CANARY}")
    try:
        local_secret = CANARY  # a local variable: tracebacks must not render it
        raise RuntimeError(f"request failed: https://h.test/?token={local_secret}")
    except RuntimeError:
        log.exception("failure")
    monitor.emit("stream.reconnected", system="alpaca_paper", detail=f"key {CANARY}")
    monitor.call_observer()(call(status=None, outcome="failed", error=RuntimeError(f"conn reset {CANARY}")))
    logging.getLogger("other").error("stdlib %s", CANARY)
    text = logs.text
    assert CANARY not in text
    assert text.count("***") >= 6
    failure = logs.events("failure")[0]
    assert "Traceback" in failure["exception"] and "RuntimeError: request failed" in failure["exception"]
    assert "locals" not in failure["exception"].lower()


def test_console_renderer_for_development() -> None:
    stream = io.StringIO()
    r = Redactor([CANARY])
    configure_logging(json=False, level="INFO", stream=stream, redactor=r, quiet_http_clients=False)
    try:
        get_logger("portico.dev").info("readable", system="alpaca", password=CANARY)
        get_logger("portico.dev").debug("hidden")
    finally:
        logging.getLogger().handlers = [h for h in logging.getLogger().handlers if h.get_name() != "portico"]
        structlog.reset_defaults()
    out = stream.getvalue()
    assert "readable" in out and "system=alpaca" in out
    assert CANARY not in out and "hidden" not in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.splitlines()[0])


def test_configure_twice_replaces_the_handler(logs: LogCapture, redactor: Redactor) -> None:
    configure_logging(json=True, level="INFO", stream=logs.stream, redactor=redactor)
    get_logger().info("once")
    assert len(logs.events("once")) == 1
    assert sum(1 for h in logging.getLogger().handlers if h.get_name() == "portico") == 1


def test_disabled_tracking_logs_and_measures_nothing(logs: LogCapture, redactor: Redactor) -> None:
    monitor = IntegrationMonitor(config={"performance_tracking": False}, redactor=redactor)
    monitor.call_observer()(call())
    assert logs.events("external_call") == []
    assert monitor.metrics("alpaca_paper")["requests"] == 0
