"""An in-process fake of the ``blpapi`` module's request/response surface, for tests where the real
binding cannot be installed.

It has what portico's :class:`~portico.connectors.bloomberg.blpapi_session.BlpapiSession` calls
(``SessionOptions``, ``Session.start/openService/getService/sendRequest/nextEvent/stop``, a service's
``createRequest``, a request's ``append``/``set``, ``Event`` types, messages with ``messageType()`` and
``toPy()``) and answers ``//blp/refdata`` ``ReferenceDataRequest`` and ``HistoricalDataRequest`` with
blpapi's message shapes: ``securityData`` with ``fieldData``, ``securityError`` (``BAD_SEC``) and
``fieldExceptions`` (``BAD_FLD``), values as floats and dates. Its numbers come from the same seeded data
as the Data License mock, so both APIs agree. A session first delivers the ``SessionStarted`` and
``ServiceOpened`` status events, as the real one does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from portico.mocks._kit import MarketDataGenerator, MockClock
from portico.mocks.bloomberg._data import (
    DATA_FIELDS,
    EQUITIES,
    HISTORY_FIELDS,
    history_rows,
    reference_rows,
    resolve,
)

__all__ = ["FakeBlpapi"]


class _Event:
    ADMIN = 1
    SESSION_STATUS = 2
    SUBSCRIPTION_STATUS = 3
    REQUEST_STATUS = 4
    RESPONSE = 5
    PARTIAL_RESPONSE = 6
    SUBSCRIPTION_DATA = 8
    SERVICE_STATUS = 9
    TIMEOUT = 10

    def __init__(self, kind: int, messages: list[_Message]) -> None:
        self._kind = kind
        self._messages = messages

    def eventType(self) -> int:
        return self._kind

    def __iter__(self) -> Any:
        return iter(self._messages)


class _CorrelationId:
    def __init__(self, value: Any = None) -> None:
        self._value = value

    def value(self) -> Any:
        return self._value


class _SubscriptionList:
    def __init__(self) -> None:
        self.items: list[tuple[str, list[str], _CorrelationId]] = []

    def add(
        self, topic: str, fields: str = "", options: str = "", correlationId: _CorrelationId | None = None
    ) -> None:
        wanted = [f.strip().upper() for f in fields.split(",") if f.strip()]
        self.items.append((topic, wanted, correlationId or _CorrelationId(topic)))


@dataclass
class _Message:
    name: str
    body: dict[str, Any]
    correlation: _CorrelationId = field(default_factory=_CorrelationId)

    def correlationId(self) -> _CorrelationId:
        return self.correlation

    def messageType(self) -> str:
        return self.name

    def toPy(self) -> dict[str, Any]:
        return self.body


class _SessionOptions:
    def __init__(self) -> None:
        self.host = "localhost"
        self.port = 8194

    def setServerHost(self, host: str) -> None:
        self.host = host

    def setServerPort(self, port: int) -> None:
        self.port = port


@dataclass
class _Request:
    kind: str
    values: dict[str, Any] = field(default_factory=dict)

    def append(self, name: str, value: Any) -> None:
        self.values.setdefault(name, []).append(value)

    def set(self, name: str, value: Any) -> None:
        self.values[name] = value


class _Service:
    def __init__(self, name: str) -> None:
        self.name = name

    def createRequest(self, kind: str) -> _Request:
        if kind not in ("ReferenceDataRequest", "HistoricalDataRequest"):
            raise ValueError(f"{self.name} has no operation {kind!r}")  # blpapi raises NotFoundException
        return _Request(kind)


def _to_wire(value: Any, mnemonic: str) -> Any:
    if value is None:
        return None
    if mnemonic.endswith("_DT"):
        return date.fromisoformat(str(value))
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


_PREFIXES = {"/isin/": "ISIN", "/bbgid/": "BB_GLOBAL", "/cusip/": "CUSIP", "/sedol/": "SEDOL"}


class FakeBlpapi:
    """Stands in for the ``blpapi`` module. ``sessions`` and ``requests`` record what was done.

    Args:
        seed: the data seed (the Data License mock's seed gives the same numbers).
        clock: the simulated time the answers are priced at.
        start_fails: ``Session.start()`` returns False (no Terminal listening).
        silent: ``nextEvent`` only ever times out (a session that stopped answering).
    """

    Event = _Event
    SessionOptions = _SessionOptions
    SubscriptionList = _SubscriptionList
    CorrelationId = _CorrelationId

    def __init__(
        self,
        seed: int = 0,
        *,
        clock: MockClock | None = None,
        start_fails: bool = False,
        silent: bool = False,
    ) -> None:
        self.data = MarketDataGenerator(seed)
        self.clock = clock or MockClock()
        self.start_fails = start_fails
        self.silent = silent
        self.sessions: list[Any] = []
        self.requests: list[_Request] = []
        fake = self

        class Session:
            def __init__(self, options: _SessionOptions) -> None:
                self.options = options
                self.started = False
                self.stopped = False
                self._queue: deque[_Event] = deque()
                self.subscribed: list[tuple[str, list[str], _CorrelationId]] = []
                self.unsubscribed = False
                fake.sessions.append(self)

            def start(self) -> bool:
                if fake.start_fails:
                    return False
                self.started = True
                self._queue.append(_Event(_Event.SESSION_STATUS, [_Message("SessionStarted", {})]))
                return True

            def openService(self, name: str) -> bool:
                ok = name in ("//blp/refdata", "//blp/mktdata")
                kind = "ServiceOpened" if ok else "ServiceOpenFailure"
                self._queue.append(_Event(_Event.SERVICE_STATUS, [_Message(kind, {"serviceName": name})]))
                return ok

            def getService(self, name: str) -> _Service:
                return _Service(name)

            def sendRequest(self, request: _Request) -> None:
                fake.requests.append(request)
                if not fake.silent:
                    self._queue.extend(fake.answer(request))

            def subscribe(self, subscriptions: _SubscriptionList) -> None:
                for topic, fields, correlation in subscriptions.items:
                    if fake._members([topic])[0][1] is None:
                        reason = {
                            "source": "fake",
                            "errorCode": 2,
                            "category": "BAD_SEC",
                            "description": "Invalid security",
                        }
                        failure = _Message("SubscriptionFailure", {"reason": reason}, correlation)
                        self._queue.append(_Event(_Event.SUBSCRIPTION_STATUS, [failure]))
                        continue
                    self.subscribed.append((topic, fields, correlation))
                    started = _Message("SubscriptionStarted", {}, correlation)
                    self._queue.append(_Event(_Event.SUBSCRIPTION_STATUS, [started]))

            def unsubscribe(self, subscriptions: _SubscriptionList) -> None:
                self.unsubscribed = True
                self.subscribed = []

            def nextEvent(self, timeout: int = 0) -> _Event:
                if self._queue:
                    return self._queue.popleft()
                if self.subscribed and not fake.silent:
                    fake.clock.advance(1.0)  # one tick a simulated second
                    return fake.tick(self.subscribed)
                return _Event(_Event.TIMEOUT, [])

            def stop(self) -> bool:
                self.stopped = True
                return True

        self.Session = Session

    def _members(self, securities: list[str]) -> list[tuple[str, Any]]:
        members = []
        for security in securities:
            kind, value = "TICKER", security
            for prefix, name in _PREFIXES.items():
                if security.lower().startswith(prefix):
                    kind, value = name, security[len(prefix) :]
            members.append((security, resolve(kind, value, set(self.data.currencies()), set(EQUITIES))))
        return members

    def tick(self, subscribed: list[tuple[str, list[str], _CorrelationId]]) -> _Event:
        """One ``MarketDataEvents`` message per subscription at the clock's time."""
        names = {"BID": "PX_BID", "ASK": "PX_ASK", "LAST_PRICE": "PX_LAST", "MID": "PX_MID"}
        messages = []
        for topic, fields, correlation in subscribed:
            members = self._members([topic])
            wanted = [names[f] for f in fields if f in names]
            (row,) = reference_rows(self.data, members, wanted, self.clock.now())
            body: dict[str, Any] = {"MKTDATA_EVENT_TYPE": "QUOTE", "MKTDATA_EVENT_SUBTYPE": "BID"}
            body.update(
                {
                    f: _to_wire(row[names[f]], names[f])
                    for f in fields
                    if f in names and row[names[f]] is not None
                }
            )
            messages.append(_Message("MarketDataEvents", body, correlation))
        return _Event(_Event.SUBSCRIPTION_DATA, messages)

    def answer(self, request: _Request) -> list[_Event]:
        """The events answering ``request``: partial responses, then the final one."""
        securities = list(request.values.get("securities", []))
        fields = [str(f).upper() for f in request.values.get("fields", [])]
        members = self._members(securities)
        allowed = HISTORY_FIELDS if request.kind == "HistoricalDataRequest" else tuple(DATA_FIELDS)
        unknown = [f for f in fields if f not in allowed]
        known = [f for f in fields if f in allowed]
        exceptions = [
            {"fieldId": f, "errorInfo": {"source": "fake", "code": 9, "category": "BAD_FLD", "message": "Field not valid", "subcategory": "INVALID_FIELD"}}
            for f in unknown
        ]  # fmt: skip
        now = self.clock.now()
        if request.kind == "ReferenceDataRequest":
            rows = reference_rows(self.data, members, known, now)
            data = []
            for i, ((security, resolved), row) in enumerate(zip(members, rows, strict=True)):
                item: dict[str, Any] = {
                    "security": security,
                    "eidData": [],
                    "fieldExceptions": exceptions,
                    "sequenceNumber": i,
                }
                if resolved is None:
                    item["securityError"] = {"source": "fake", "code": 15, "category": "BAD_SEC",
                                             "message": "Unknown/Invalid security [nid:999]", "subcategory": "INVALID_SECURITY"}  # fmt: skip
                    item["fieldData"] = {}
                else:
                    item["fieldData"] = {f: _to_wire(row[f], f) for f in known if row[f] is not None}
                data.append(item)
            # one partial response per security but the last, as large answers arrive in pieces
            events = [
                _Event(_Event.PARTIAL_RESPONSE, [_Message("ReferenceDataResponse", {"securityData": [d]})])
                for d in data[:-1]
            ]
            events.append(
                _Event(_Event.RESPONSE, [_Message("ReferenceDataResponse", {"securityData": data[-1:]})])
            )
            return events
        start = date(
            int(request.values["startDate"][:4]),
            int(request.values["startDate"][4:6]),
            int(request.values["startDate"][6:]),
        )
        end = date(
            int(request.values["endDate"][:4]),
            int(request.values["endDate"][4:6]),
            int(request.values["endDate"][6:]),
        )
        period = {"DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly"}[
            request.values.get("periodicitySelection", "DAILY")
        ]
        security, resolved = members[0]
        item = {"security": security, "eidData": [], "fieldExceptions": exceptions, "sequenceNumber": 0}
        if resolved is None:
            item["securityError"] = {"source": "fake", "code": 15, "category": "BAD_SEC",
                                     "message": "Unknown/Invalid security [nid:999]", "subcategory": "INVALID_SECURITY"}  # fmt: skip
            item["fieldData"] = []
        else:
            points = history_rows(self.data, [members[0]], known, start, end, period, now)
            item["fieldData"] = [
                {
                    "date": date.fromisoformat(str(p["DATE"])),
                    **{f: _to_wire(p[f], f) for f in known if p[f] is not None},
                }
                for p in points
            ]
        return [_Event(_Event.RESPONSE, [_Message("HistoricalDataResponse", {"securityData": item})])]
