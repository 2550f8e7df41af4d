"""BLPAPI (Desktop API / Server API) behind a small session interface of portico's own.

``blpapi`` is Bloomberg's binding over its C++ SDK; it is published on Bloomberg's own package index,
not the public registry, so portico never depends on it. When ``connection.api`` is ``blpapi`` the
connector imports it (or uses the module given in the context's ``options["blpapi_module"]``) and sends
``//blp/refdata`` ``ReferenceDataRequest`` and ``HistoricalDataRequest`` through it, and subscribes to
``//blp/mktdata`` for live quotes. Answers are read from ``Message.toPy()`` dictionaries and turned into
the same rows a Data License output has (``IDENTIFIER``, ``RC``, ``DATE``, one key per field), so one
mapping serves both APIs.

What is tested against what: this module runs in portico's tests against
:mod:`portico.mocks.bloomberg.blpapi_fake`, an in-process fake with blpapi's call surface and message
shapes; it has never been run against a Terminal or B-PIPE here.

The binding is blocking; every request runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

from portico.errors import (
    ConfigurationError,
    ConnectionFailed,
    NotFound,
    PayloadRejected,
    ReadTimeout,
    VenueRejected,
)

__all__ = ["BlpSession", "BlpapiSession", "blpapi_identifier", "load_blpapi"]

REFDATA = "//blp/refdata"
MKTDATA = "//blp/mktdata"
RC_BAD_SECURITY = 10
"""The row return code a security error gets (the code Data License uses for an unknown security)."""

Row = dict[str, Any]


class BlpSession(Protocol):
    """What the connector needs from a Bloomberg session: reference and historical rows."""

    async def reference_rows(self, securities: Sequence[str], fields: Sequence[str]) -> list[Row]:
        """One row per security with its fields (``RC`` not 0 for a security error)."""
        ...

    async def history_rows(
        self, securities: Sequence[str], fields: Sequence[str], start: date, end: date, period: str
    ) -> list[Row]:
        """One row per security and date, with ``DATE``."""
        ...

    async def ping(self) -> str:
        """Start the session and open ``//blp/refdata``; returns where it is connected."""
        ...

    def subscribe(
        self, securities: Sequence[str], fields: Sequence[str]
    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """``//blp/mktdata`` updates as ``(security, values)`` until the iterator is closed."""
        ...

    async def aclose(self) -> None:
        """Stop the session."""
        ...


def load_blpapi(given: Any = None) -> Any:
    """The blpapi module: ``given`` when a test injects one, else the installed binding.

    Raises:
        ConfigurationError: blpapi is not installed (with where it comes from).
    """
    if given is not None:
        return given
    try:
        return importlib.import_module("blpapi")
    except ImportError:
        raise ConfigurationError(
            "connection.api is 'blpapi' but the blpapi package is not installed; it is published on Bloomberg's "
            "own package index (with the C++ SDK), not the public registry. Use api: dl_rest, or install blpapi.",
            path="connection.api",
        ) from None


def blpapi_identifier(identifier_type: str, value: str) -> str:
    """A security string as BLPAPI takes it: tickers as they are, ``/isin/...``, ``/bbgid/...``, ``/cusip/...``."""
    prefix = {"ISIN": "/isin/", "BB_GLOBAL": "/bbgid/", "CUSIP": "/cusip/", "SEDOL": "/sedol/"}.get(
        identifier_type
    )
    return value if prefix is None else prefix + value


_PERIODICITY = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY"}


class BlpapiSession:
    """A ``//blp/refdata`` session over the blpapi binding (or a module with its surface).

    Args:
        module: the blpapi module.
        host: the Desktop API / Server API host (``localhost`` for a Terminal).
        port: its port (8194 by default).
        timeout: seconds to wait for each event before the request is given up.
        clock_now: the time stamped on reference rows (the answer's arrival).
    """

    def __init__(self, module: Any, host: str, port: int, *, timeout: float, clock_now: Any) -> None:
        self._blp = module
        self._host = host
        self._port = port
        self._timeout_ms = int(timeout * 1000)
        self._now = clock_now
        self._session: Any = None
        self._lock = asyncio.Lock()

    def _start(self) -> Any:
        if self._session is None:
            self._session = self._open(REFDATA)
        return self._session

    def _request(
        self, kind: str, securities: Sequence[str], fields: Sequence[str], **values: str
    ) -> list[dict[str, Any]]:
        session = self._start()
        request = session.getService(REFDATA).createRequest(kind)
        for security in securities:
            request.append("securities", security)
        for field in fields:
            request.append("fields", field)
        for name, value in values.items():
            request.set(name, value)
        session.sendRequest(request)
        answers: list[dict[str, Any]] = []
        event_type = self._blp.Event
        while True:
            event = session.nextEvent(self._timeout_ms)
            kind_of = event.eventType()
            if kind_of == event_type.TIMEOUT:
                raise ReadTimeout(f"Bloomberg sent no {kind} answer within {self._timeout_ms / 1000:g}s")
            for message in event:
                body = message.toPy()
                if "responseError" in body:
                    error = body["responseError"]
                    raise VenueRejected(
                        f"Bloomberg refused the {kind}: {error.get('message', error)}",
                        venue_code=error.get("subcategory") or error.get("category"),
                    )
                if kind_of in (event_type.PARTIAL_RESPONSE, event_type.RESPONSE):
                    answers.append(body)
            if kind_of == event_type.RESPONSE:
                return answers

    async def reference_rows(self, securities: Sequence[str], fields: Sequence[str]) -> list[Row]:
        async with self._lock:  # one request at a time on the session's event queue
            answers = await asyncio.to_thread(self._request, "ReferenceDataRequest", securities, fields)
        stamp = self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        rows: list[Row] = []
        for answer in answers:
            for data in answer.get("securityData", []):
                row = _base_row(data, fields)
                row.update({"DL_SNAPSHOT_START_TIME": stamp, "DL_SNAPSHOT_TZ": "UTC"})
                if row["RC"] == 0:
                    values = data.get("fieldData") or {}
                    row.update({f: _value(values.get(f)) for f in fields})
                rows.append(row)
        return rows

    async def history_rows(
        self, securities: Sequence[str], fields: Sequence[str], start: date, end: date, period: str
    ) -> list[Row]:
        rows: list[Row] = []
        for security in securities:  # HistoricalDataResponse carries one security per message
            async with self._lock:
                answers = await asyncio.to_thread(
                    self._request, "HistoricalDataRequest", [security], fields,
                    startDate=start.strftime("%Y%m%d"), endDate=end.strftime("%Y%m%d"),
                    periodicitySelection=_PERIODICITY[period],
                )  # fmt: skip
            for answer in answers:
                data = answer.get("securityData")
                if not isinstance(data, dict):
                    raise PayloadRejected("a HistoricalDataResponse without securityData")
                base = _base_row(data, fields)
                if base["RC"] != 0:
                    rows.append(base)
                    continue
                for point in data.get("fieldData") or []:
                    when = point.get("date")
                    day = when if isinstance(when, date) else date.fromisoformat(str(when)[:10])
                    rows.append(
                        {**base, "DATE": day.isoformat(), **{f: _value(point.get(f)) for f in fields}}
                    )
        return rows

    async def ping(self) -> str:
        async with self._lock:
            await asyncio.to_thread(self._start)
        return f"{self._host}:{self._port}"

    def _open(self, service: str) -> Any:
        options = self._blp.SessionOptions()
        options.setServerHost(self._host)
        options.setServerPort(self._port)
        session = self._blp.Session(options)
        if not session.start():
            raise ConnectionFailed(f"could not start a Bloomberg session at {self._host}:{self._port}")
        if not session.openService(service):
            session.stop()
            raise ConnectionFailed(f"could not open {service} at {self._host}:{self._port}")
        return session

    async def subscribe(
        self, securities: Sequence[str], fields: Sequence[str]
    ) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        """Subscribe on a session of its own (a request's answer never waits behind market data).

        Raises:
            NotFound: Bloomberg refused a subscription (``SubscriptionFailure``), naming the security.
        """
        session = await asyncio.to_thread(self._open, MKTDATA)
        subscriptions = self._blp.SubscriptionList()
        for security in securities:
            subscriptions.add(security, ",".join(fields), "", self._blp.CorrelationId(security))
        event_type = self._blp.Event
        try:
            await asyncio.to_thread(session.subscribe, subscriptions)
            while True:
                event = await asyncio.to_thread(session.nextEvent, self._timeout_ms)
                kind = event.eventType()
                if kind == event_type.TIMEOUT:
                    raise ReadTimeout(
                        f"no market data within {self._timeout_ms / 1000:g}s for {', '.join(securities)}"
                    )
                for message in event:
                    topic = str(message.correlationId().value())
                    if (
                        kind == event_type.SUBSCRIPTION_STATUS
                        and str(message.messageType()) == "SubscriptionFailure"
                    ):
                        reason = message.toPy().get("reason", {})
                        raise NotFound(
                            f"Bloomberg refused the subscription to {topic!r}: {reason.get('description', reason)}",
                            venue_code=reason.get("category"),
                        )
                    if kind == event_type.SUBSCRIPTION_DATA:
                        yield topic, message.toPy()
        finally:
            await asyncio.to_thread(_unsubscribe, session, subscriptions)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await asyncio.to_thread(session.stop)


def _unsubscribe(session: Any, subscriptions: Any) -> None:
    try:
        session.unsubscribe(subscriptions)
    finally:
        session.stop()


def _base_row(data: dict[str, Any], fields: Sequence[str]) -> Row:
    security = data.get("security")
    if not isinstance(security, str):
        raise PayloadRejected("Bloomberg's securityData has no security")
    error = data.get("securityError")
    row: Row = {"IDENTIFIER": security, "RC": RC_BAD_SECURITY if error else 0}
    if error:
        row["ERROR"] = f"{error.get('category', '')}: {error.get('message', '')}".strip(": ")
        row.update(dict.fromkeys(fields))
    bad = [e.get("fieldId") for e in data.get("fieldExceptions") or []]
    if bad:
        raise VenueRejected(
            f"Bloomberg does not know the field(s) {', '.join(map(str, bad))}", venue_code="BAD_FLD"
        )
    return row


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
