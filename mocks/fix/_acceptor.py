"""A FIX 4.4 acceptor (QuickFIX) over the simulated venue, behind a small TCP relay that injects wire faults.

QuickFIX runs the acceptor's session layer (logon, heartbeats, test requests, resend requests answered
from its memory store, gap fills, rejects of bad messages, logout) with the FIX 4.4 data dictionary
switched on. The application side turns NewOrderSingle, OrderCancelRequest, OrderCancelReplaceRequest
and OrderStatusRequest into calls on the :class:`~portico.mocks.SimulatedVenue`, and every venue event
of an order into an ExecutionReport on the session that placed it.

Clients connect to the relay (:attr:`FixMockServer.url`), which passes bytes both ways to the acceptor
and can garble the checksum of the next ExecutionReport. Faults (:class:`FixFaults`), each a
probability decided by a seeded generator:

- ``drop_after_order``: the order is committed at the venue, then the connection is dropped before its
  reports go out (they are kept and resent, PossDupFlag=Y, when the client asks after logging on again);
- ``skip_seq``: the relay loses an ExecutionReport on the way (the client sees the next number too high,
  asks for a resend, and gets the report again with PossDupFlag=Y);
- ``duplicate``: an ExecutionReport is sent a second time, PossDupFlag=Y, under a new sequence number;
- ``session_reject``: a NewOrderSingle is refused by a session-level Reject (35=3), not processed;
- ``business_reject``: a NewOrderSingle is refused by an ExecutionReport OrdStatus=8 (not placed);
- ``delay_ack``: the order's handling waits ``ack_delay`` seconds;
- ``garble_checksum``: the relay changes the CheckSum of an ExecutionReport (the client drops it and asks
  for a resend).

Drop copy: the ``drop_copy`` CompIDs (default ``DROPCOPY``) log on to sessions that receive a copy of
every ExecutionReport of every order at the venue, whichever session placed it, and of orders placed at
the venue directly (:meth:`FixMockServer.venue`'s ``place_order``: "elsewhere"). A copy carries the same
ExecID as the report to the placing session. Order messages on a drop-copy session are refused
(BusinessMessageReject).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from portico.mocks._kit import OrderState, SimulatedVenue, VenueError, VenueEvent

__all__ = ["DEFAULT_COMP_ID", "FixFaults", "FixMockServer", "ReceivedMessage"]

DEFAULT_COMP_ID = "VENUE"
SOH = "\x01"
_SIDES = {"1": "buy", "2": "sell", "5": "sell"}
_SIDES_OUT = {"buy": "1", "sell": "2"}
_TYPES = {"1": "market", "2": "limit", "3": "stop", "4": "stop_limit"}
_TYPES_OUT = {v: k for k, v in _TYPES.items()}
_TIFS = {"0": "day", "1": "gtc", "2": "opg", "3": "ioc", "4": "fok", "7": "cls"}
_TIFS_OUT = {v: k for k, v in _TIFS.items()}
_STATUS = {
    "new": "0",
    "accepted": "0",
    "partially_filled": "1",
    "filled": "2",
    "done_for_day": "3",
    "canceled": "4",
    "replaced": "5",
    "pending_cancel": "6",
    "rejected": "8",
    "pending_new": "A",
    "expired": "C",
    "pending_replace": "E",
}
_EXEC_TYPES = {"new": "0", "partial_fill": "F", "fill": "F", "canceled": "4", "expired": "C", "rejected": "8"}


@dataclass
class FixFaults:
    """Fault probabilities of the FIX mock (0 = never, 1 = every time); see the module docstring."""

    drop_after_order: float = 0.0
    skip_seq: float = 0.0
    duplicate: float = 0.0
    session_reject: float = 0.0
    business_reject: float = 0.0
    delay_ack: float = 0.0
    garble_checksum: float = 0.0
    ack_delay: float = 0.2
    """Seconds an order waits when ``delay_ack`` hits."""

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> FixFaults:
        """Faults from a mapping; an unknown name is an error naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = set(data or {}) - known
        if unknown:
            raise ValueError(f"unknown FIX mock faults {sorted(unknown)}; known: {sorted(known)}")
        out = cls(**{k: float(v) for k, v in (data or {}).items()})
        for f in fields(cls):
            value = getattr(out, f.name)
            if f.name != "ack_delay" and not 0 <= value <= 1:
                raise ValueError(f"FIX mock fault {f.name} must be a probability in [0, 1], not {value}")
        return out


@dataclass(frozen=True)
class ReceivedMessage:
    """An application message the acceptor received (after the session layer accepted it)."""

    session: str
    msg_type: str
    seq_num: int
    fields: dict[int, str]
    poss_dup: bool


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _fields(raw: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in raw.split(SOH):
        tag, _, value = part.partition("=")
        if tag.isdigit():
            out.setdefault(int(tag), value)
    return out


def _now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def _num(value: Decimal | None) -> str:
    if value is None:
        return "0"
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


class FixMockServer:
    """The FIX mock: ``await start()``, then log on to :attr:`url` as ``TargetCompID=VENUE``.

    Args:
        venue: the simulated venue (a fresh seeded one by default).
        seed: seeds a default venue and the fault dice.
        faults: fault probabilities (:class:`FixFaults` or a mapping).
        comp_id: the acceptor's CompID.
        clients: the counterparties' CompIDs allowed to log on (one session each).
        drop_copy: the CompIDs of drop-copy sessions (copies of every execution report, see the module).
        position_requests: whether RequestForPositions (AN) is answered (else: BusinessMessageReject,
            as from a counterparty that does not support it).
        credentials: ``{comp_id: (username, password)}`` checked on Logon (no entry: any logon).
        data_dictionary: path of FIX44.xml.
        heartbeat_interval: HeartBtInt the acceptor expects (it takes the client's).
    """

    def __init__(
        self,
        venue: SimulatedVenue | None = None,
        *,
        seed: int = 0,
        faults: FixFaults | dict[str, Any] | None = None,
        comp_id: str = DEFAULT_COMP_ID,
        clients: Sequence[str] = ("PORTICO", "BENCH", "SCRIPT"),
        drop_copy: Sequence[str] = ("DROPCOPY",),
        position_requests: bool = True,
        credentials: dict[str, tuple[str, str]] | None = None,
        data_dictionary: str | None = None,
    ) -> None:
        self.venue = venue or SimulatedVenue(seed)
        self.faults = faults if isinstance(faults, FixFaults) else FixFaults.from_mapping(faults)
        self._dice = random.Random(seed ^ 0xF1C)
        self._dice_lock = threading.Lock()
        self.comp_id = comp_id
        self.clients = tuple(clients)
        self.drop_copy = tuple(drop_copy)
        self.position_requests = position_requests
        self.credentials = dict(credentials or {})
        self.data_dictionary = data_dictionary
        self.host = "127.0.0.1"
        self.port = 0
        self.acceptor_port = 0
        self.fault_hits: Counter[str] = Counter()
        self.received: list[ReceivedMessage] = []
        """Every application message received, in order."""
        self.rejected: dict[str, str] = {}
        self.allocations: dict[str, dict[int, str]] = {}
        """AllocID -> the AllocationInstruction's fields, for every instruction received."""
        """ClOrdID -> reason, for every order the venue refused (business rejects)."""
        self.logons: Counter[str] = Counter()
        self._owners: dict[str, Any] = {}
        """ClOrdID -> the QuickFIX SessionID that placed it."""
        self._cancels: dict[str, tuple[str, str]] = {}
        """venue order id -> (cancel ClOrdID, orig ClOrdID) of a cancel in progress."""
        self._replacing: dict[str, tuple[str, str]] = {}
        """new ClOrdID -> (orig ClOrdID, old venue order id) of a replace in progress."""
        self._acceptor: Any = None
        self._app: Any = None
        self._relay: asyncio.base_events.Server | None = None
        self._links: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._garble_next = 0
        self.refuse_connections = False
        """While True the relay closes every new connection at once (a counterparty that is away)."""
        self.connections_refused = 0
        self._unsubscribe = self.venue.subscribe(self._on_venue)

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``tcp://host:port`` of the relay clients connect to."""
        return f"tcp://{self.host}:{self.port}"

    def settings_text(self) -> str:
        """The acceptor's QuickFIX settings."""
        from portico.connectors.fix.dictionary import data_dictionary

        dictionary = data_dictionary(self.data_dictionary)
        lines = [
            "[DEFAULT]",
            "ConnectionType=acceptor",
            f"SocketAcceptPort={self.acceptor_port}",
            "SocketAcceptHost=127.0.0.1",
            "SocketReuseAddress=Y",
            "StartTime=00:00:00",
            "EndTime=00:00:00",
            "UseDataDictionary=Y",
            f"DataDictionary={dictionary}",
            "ValidateUserDefinedFields=N",
            "SocketNodelay=Y",
            "ResetOnLogout=N",
            "ResetOnDisconnect=N",
            "PersistMessages=Y",
            "",
        ]
        for client in (*self.clients, *self.drop_copy):
            lines += [
                "[SESSION]",
                "BeginString=FIX.4.4",
                f"SenderCompID={self.comp_id}",
                f"TargetCompID={client}",
                "",
            ]
        return "\n".join(lines)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FixMockServer:
        """Start the acceptor and the relay; returns self with :attr:`port` set.

        The acceptor is QuickFIX's threaded one (a thread per connection): stopping the single-threaded
        ``SocketAcceptor`` right after a client dropped its socket crashed the process (quickfix 1.16.0).
        """
        import quickfix as fix

        self.acceptor_port = _free_port("127.0.0.1")
        self._app = _make_application(fix, self)
        fd, path = tempfile.mkstemp(prefix="portico-fixmock-", suffix=".cfg")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.settings_text())
            settings = fix.SessionSettings(path)
        finally:
            os.unlink(path)
        self._acceptor = fix.ThreadedSocketAcceptor(self._app, fix.MemoryStoreFactory(), settings)
        await asyncio.to_thread(self._acceptor.start)
        self._relay = await asyncio.start_server(self._link, host, port)
        sock = self._relay.sockets[0].getsockname()
        self.host, self.port = sock[0], sock[1]
        return self

    async def stop(self) -> None:
        """Stop the relay and the acceptor."""
        if self._relay is not None:
            self._relay.close()
        for writer in list(self._writers):
            writer.close()
        if self._links:
            _done, pending = await asyncio.wait(list(self._links), timeout=2)
            for task in pending:
                task.cancel()
        if self._relay is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._relay.wait_closed(), 2)
            self._relay = None
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            await asyncio.to_thread(acceptor.stop)
        self._unsubscribe()

    async def __aenter__(self) -> FixMockServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def session(self, client: str = "PORTICO") -> Any:
        """The QuickFIX Session of ``client`` (to inspect or drive its sequence numbers)."""
        import quickfix as fix

        return fix.Session.lookupSession(fix.SessionID("FIX.4.4", self.comp_id, client))

    def disconnect(self, client: str = "PORTICO") -> None:
        """Drop ``client``'s connection now (the session stays, its numbers kept)."""
        session = self.session(client)
        if session is not None:
            session.disconnect()

    # -- the relay ---------------------------------------------------------------------------------

    def garble_next(self, count: int = 1) -> None:
        """Garble the checksum of the next ``count`` ExecutionReports the relay passes on."""
        self._garble_next += count

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse_connections:
            self.connections_refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.acceptor_port)
        except OSError:
            writer.close()
            self._links.discard(task)
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, garble: bool) -> None:
            buffer = b""
            try:
                while True:
                    chunk = await src.read(65536)
                    if not chunk:
                        return
                    if not garble:
                        dst.write(chunk)
                        await dst.drain()
                        continue
                    buffer += chunk
                    out, buffer = self._split_and_garble(buffer)
                    if out:
                        dst.write(out)
                        await dst.drain()
            except (ConnectionError, OSError):
                return
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))
        except asyncio.CancelledError:
            # the mock is stopping: the link ends here (the start_server callback must not see it)
            return
        finally:
            self._links.discard(task)
            self._writers.difference_update((writer, up_writer))

    def _split_and_garble(self, buffer: bytes) -> tuple[bytes, bytes]:
        """Pass on every whole message in ``buffer`` (garbling one when asked); keep the rest."""
        out = bytearray()
        while True:
            end = buffer.find(b"\x0110=")
            if end < 0 or len(buffer) < end + 8:
                return bytes(out), buffer
            stop = end + 8  # SOH + "10=" + 3 digits + SOH
            message = buffer[:stop]
            buffer = buffer[stop:]
            # faults hit first sends only: a resend that is lost again would leave the client waiting
            # for the end of a resend it already asked for (QuickFIX sends no second ResendRequest)
            original = b"\x0135=8\x01" in message and b"\x0143=Y\x01" not in message
            if original and self._roll("skip_seq"):
                continue  # lost on the way: the client sees the next number too high and asks again
            if original and (self._garble_next > 0 or self._roll("garble_checksum")):
                if self._garble_next > 0:
                    self._garble_next -= 1
                digits = int(message[-4:-1]) if message[-4:-1].isdigit() else 0
                message = message[:-4] + b"%03d" % ((digits + 1) % 256) + b"\x01"
            out += message

    # -- faults ------------------------------------------------------------------------------------

    def _roll(self, fault: str) -> bool:
        chance = float(getattr(self.faults, fault))
        if chance <= 0:
            return False
        with self._dice_lock:
            hit = self._dice.random() < chance
        if hit:
            self.fault_hits[fault] += 1
        return hit

    # -- the application (QuickFIX's thread) -------------------------------------------------------

    def _check_logon(self, fix: Any, message: Any, session_id: Any) -> None:
        client = session_id.getTargetCompID().getValue()
        expected = self.credentials.get(client)
        if expected is None:
            return
        fields_ = _fields(message.toString())
        if (fields_.get(553), fields_.get(554)) != expected:
            raise fix.RejectLogon("invalid username or password")

    def _send(
        self,
        session_id: Any,
        msg_type: str,
        body: Sequence[tuple[int, Any]],
        *,
        header: Sequence[tuple[int, str]] = (),
    ) -> None:
        import quickfix as fix

        message = fix.Message()
        message.getHeader().setField(fix.BeginString("FIX.4.4"))
        message.getHeader().setField(fix.MsgType(msg_type))
        for tag, value in header:
            message.getHeader().setField(tag, value)
        _set_fields(fix, message, body)
        fix.Session.sendToTarget(message, session_id)

    def _report(self, session_id: Any, body: list[tuple[int, str]]) -> None:
        import quickfix as fix

        session = fix.Session.lookupSession(session_id)
        self._send(session_id, "8", body)
        if session is not None and session.isLoggedOn() and self._roll("duplicate"):
            self._send(session_id, "8", body, header=[(43, "Y"), (122, _now())])

    def _order_fields(self, order: OrderState) -> list[tuple[int, str]]:
        out = [(55, order.symbol), (54, _SIDES_OUT.get(order.side, "1"))]
        if order.qty is not None:
            out.append((38, _num(order.qty)))
        out.append((40, _TYPES_OUT.get(order.order_type, "1")))
        if order.limit_price is not None:
            out.append((44, _num(order.limit_price)))
        if order.stop_price is not None:
            out.append((99, _num(order.stop_price)))
        out.append((59, _TIFS_OUT.get(order.time_in_force, "0")))
        out.append((1, order.account_id))
        return out

    def _status_body(
        self,
        order: OrderState,
        *,
        exec_id: str,
        exec_type: str,
        cl_ord_id: str,
        orig: str | None = None,
        last: tuple[Decimal, Decimal] | None = None,
    ) -> list[tuple[int, str]]:
        body = [(37, order.id), (11, cl_ord_id)]
        if orig:
            body.append((41, orig))
        body += [(17, exec_id), (150, exec_type), (39, _STATUS.get(order.status, "0"))]
        body += self._order_fields(order)
        leaves = Decimal(0) if not order.is_open else (order.remaining or Decimal(0))
        body += [
            (151, _num(leaves)),
            (14, _num(order.filled_qty)),
            (6, _num(order.filled_avg_price or Decimal(0))),
        ]
        if last is not None:
            body += [(32, _num(last[0])), (31, _num(last[1]))]
        body.append((60, _now()))
        return body

    def _on_venue(self, event: VenueEvent) -> None:
        order = event.order
        session_id = self._owners.get(order.client_order_id)
        if event.event == "replaced" or (session_id is None and not self.drop_copy):
            return
        exec_id = f"{order.id[:8]}-{event.seq}"
        if event.event == "new" and order.client_order_id in self._replacing:
            orig, _old = self._replacing.pop(order.client_order_id)
            body = self._status_body(
                order, exec_id=exec_id, exec_type="5", cl_ord_id=order.client_order_id, orig=orig
            )
        elif event.event == "canceled" and order.id in self._cancels:
            cancel_id, orig = self._cancels.pop(order.id)
            body = self._status_body(order, exec_id=exec_id, exec_type="4", cl_ord_id=cancel_id, orig=orig)
        else:
            exec_type = _EXEC_TYPES.get(event.event)
            if exec_type is None:
                return
            last = (event.fill.qty, event.fill.price) if event.fill is not None else None
            body = self._status_body(
                order, exec_id=exec_id, exec_type=exec_type, cl_ord_id=order.client_order_id, last=last
            )
        if session_id is not None:
            self._report(session_id, body)
        self._copy(body)

    def _copy(self, body: list[tuple[int, str]]) -> None:
        """The report to every logged-on drop-copy session."""
        import quickfix as fix

        for client in self.drop_copy:
            copy_id = fix.SessionID("FIX.4.4", self.comp_id, client)
            session = fix.Session.lookupSession(copy_id)
            if session is not None and session.isLoggedOn():
                self._send(copy_id, "8", body)

    def _reject(self, session_id: Any, f: dict[int, str], reason: str, code: str = "99") -> None:
        cl_ord_id = f.get(11, "")
        self.rejected[cl_ord_id] = reason
        body = [
            (37, "NONE"),
            (11, cl_ord_id),
            (17, f"rej-{cl_ord_id}"),
            (150, "8"),
            (39, "8"),
            (103, code),
            (55, f.get(55, "")),
            (54, f.get(54, "1")),
        ]
        if f.get(38):
            body.append((38, f[38]))
        body += [(151, "0"), (14, "0"), (6, "0"), (58, reason), (60, _now())]
        self._send(session_id, "8", body)

    def _new_order(self, fix: Any, session_id: Any, f: dict[int, str]) -> None:
        cl_ord_id = f.get(11, "")
        if self._roll("session_reject"):
            raise fix.IncorrectTagValue(54)
        if self._roll("business_reject"):
            self._reject(session_id, f, "refused by the venue (fault injection)")
            return
        if self._roll("delay_ack"):
            time.sleep(self.faults.ack_delay)
        drop = self._roll("drop_after_order")
        if drop:
            # the order is committed, then the connection goes before any report of it: the reports
            # wait in the session's store until the client logs on again and asks for them
            fix.Session.lookupSession(session_id).disconnect()
        self._owners[cl_ord_id] = session_id
        try:
            self.venue.place_order(
                symbol=f.get(55, ""),
                side=_SIDES.get(f.get(54, ""), "buy"),
                order_type=_TYPES.get(f.get(40, ""), "market"),
                time_in_force=_TIFS.get(f.get(59, "0"), "day"),
                qty=Decimal(f.get(38, "0")),
                limit_price=Decimal(f[44]) if f.get(44) else None,
                stop_price=Decimal(f[99]) if f.get(99) else None,
                client_order_id=cl_ord_id,
                account_id=f.get(1) or None,
            )
        except VenueError as exc:
            if exc.reason == "duplicate_client_order_id":
                body = [
                    (37, "NONE"),
                    (11, cl_ord_id),
                    (17, f"dup-{cl_ord_id}-{time.monotonic_ns()}"),
                    (150, "8"),
                    (39, "8"),
                    (103, "6"),
                ]
                body += [
                    (55, f.get(55, "")),
                    (54, f.get(54, "1")),
                    (151, "0"),
                    (14, "0"),
                    (6, "0"),
                    (58, str(exc)),
                    (60, _now()),
                ]
                self._send(session_id, "8", body)
                return
            if cl_ord_id not in self.rejected:
                self._owners.pop(cl_ord_id, None)
            self._reject(session_id, f, str(exc), "0" if exc.reason == "not_found" else "99")

    def _cancel(self, session_id: Any, f: dict[int, str]) -> None:
        orig, cancel_id = f.get(41, ""), f.get(11, "")
        try:
            order = self.venue.get_order_by_client_id(orig)
            self._cancels[order.id] = (cancel_id, orig)
            self.venue.cancel_order(order.id)
        except VenueError as exc:
            unknown = exc.reason == "not_found"
            self._send(
                session_id,
                "9",
                [
                    (37, f.get(37, "NONE")),
                    (11, cancel_id),
                    (41, orig),
                    (39, "8" if unknown else "4"),
                    (434, "1"),
                    (102, "1" if unknown else "0"),
                    (58, str(exc)),
                ],
            )

    def _replace(self, session_id: Any, f: dict[int, str]) -> None:
        orig, new_id = f.get(41, ""), f.get(11, "")
        try:
            old = self.venue.get_order_by_client_id(orig)
            self._owners[new_id] = session_id
            self._replacing[new_id] = (orig, old.id)
            self.venue.replace_order(
                old.id,
                qty=Decimal(f[38]) if f.get(38) else None,
                limit_price=Decimal(f[44]) if f.get(44) else None,
                stop_price=Decimal(f[99]) if f.get(99) else None,
                time_in_force=_TIFS.get(f.get(59, "")) if f.get(59) else None,
                client_order_id=new_id,
            )
        except VenueError as exc:
            self._replacing.pop(new_id, None)
            unknown = exc.reason == "not_found"
            self._send(
                session_id,
                "9",
                [
                    (37, f.get(37, "NONE")),
                    (11, new_id),
                    (41, orig),
                    (39, "8" if unknown else "0"),
                    (434, "2"),
                    (102, "1" if unknown else "0"),
                    (58, str(exc)),
                ],
            )

    def _status(self, session_id: Any, f: dict[int, str]) -> None:
        cl_ord_id = f.get(11, "")
        request_id = f.get(790)
        try:
            order = self.venue.get_order_by_client_id(cl_ord_id)
        except VenueError:
            reason = self.rejected.get(cl_ord_id)
            body = [(37, "NONE"), (11, cl_ord_id), (17, f"osr-{time.monotonic_ns()}"), (150, "I"), (39, "8")]
            body += [(103, "99" if reason else "5"), (55, f.get(55, "")), (54, f.get(54, "1"))]
            body += [(151, "0"), (14, "0"), (6, "0"), (58, reason or "unknown order")]
        else:
            body = self._status_body(
                order, exec_id=f"osr-{time.monotonic_ns()}", exec_type="I", cl_ord_id=cl_ord_id
            )
        if request_id:
            body.append((790, request_id))
        self._send(session_id, "8", body)

    def _allocation(self, session_id: Any, raw: str, f: dict[int, str]) -> None:
        """AllocationInstruction: checked against the block's orders at the venue, acknowledged (P),
        and when accepted confirmed account by account (AS)."""
        alloc_id = f.get(70, "")
        self.allocations[alloc_id] = f
        pairs = [(int(t), v) for t, _, v in (p.partition("=") for p in raw.split(SOH) if p) if t.isdigit()]
        accounts: list[tuple[str, Decimal]] = []
        orders: list[str] = []
        for tag, value in pairs:
            if tag == 79:
                accounts.append((value, Decimal(0)))
            elif tag == 80 and accounts:
                accounts[-1] = (accounts[-1][0], Decimal(value))
            elif tag == 11:
                orders.append(value)
        quantity = Decimal(f.get(53, "0"))
        problem: tuple[str, str] | None = None
        if sum((q for _, q in accounts), Decimal(0)) != quantity:
            problem = ("1", f"the accounts' quantities do not add up to the block's {_num(quantity)}")
        elif orders:
            filled = Decimal(0)
            for cl_ord_id in orders:
                try:
                    filled += self.venue.get_order_by_client_id(cl_ord_id).filled_qty
                except VenueError:
                    problem = ("5", f"unknown order {cl_ord_id}")
                    break
            if problem is None and filled != quantity:
                problem = ("1", f"the block's orders filled {_num(filled)}, not {_num(quantity)}")
        ack: list[tuple[int, Any]] = [(70, alloc_id), (60, _now())]
        if problem is not None:
            ack += [(87, "1"), (88, problem[0]), (58, problem[1])]
            self._send(session_id, "P", ack)
            return
        self._send(session_id, "P", [*ack, (87, "0")])
        report: list[tuple[int, Any]] = [
            (755, f"ar-{alloc_id}"),
            (70, alloc_id),
            (71, "0"),
            (794, "4"),  # sellside calculated without preliminary
            (87, "0"),
            (857, f.get(857, "0")),
            (54, f.get(54, "1")),
            (55, f.get(55, "")),
            (53, f.get(53, "0")),
            (6, f.get(6, "0")),
            (75, f.get(75, datetime.now(UTC).strftime("%Y%m%d"))),
            (78, [[(79, account), (80, _num(qty))] for account, qty in accounts]),
        ]
        self._send(session_id, "AS", report)

    def _positions(self, session_id: Any, f: dict[int, str]) -> None:
        """RequestForPositions: an ack with the count, then one PositionReport per open position."""
        request_id, account = f.get(710, ""), f.get(1, "")
        report_id = f"pos-{time.monotonic_ns()}"
        ack: list[tuple[int, Any]] = [(721, report_id), (710, request_id)]
        try:
            held = self.venue.list_positions(account)
        except VenueError as exc:
            ack += [(727, "0"), (728, "99"), (729, "2"), (1, account), (581, "1"), (58, str(exc))]
            self._send(session_id, "AO", ack)
            return
        ack += [(727, str(len(held))), (728, "0" if held else "2"), (729, "0"), (1, account), (581, "1")]
        self._send(session_id, "AO", ack)
        today = datetime.now(UTC).strftime("%Y%m%d")
        for i, position in enumerate(held):
            long_qty = position.qty if position.qty > 0 else Decimal(0)
            short_qty = -position.qty if position.qty < 0 else Decimal(0)
            body: list[tuple[int, Any]] = [
                (721, f"{report_id}-{i + 1}"),
                (710, request_id),
                (727, str(len(held))),
                (728, "0"),
                (715, today),
                (1, account),
                (581, "1"),
                (55, position.symbol),
                (730, _num(self.venue.price(position.symbol))),
                (731, "1"),
                (734, _num(position.lastday_price)),
                (702, [[(703, "SOD"), (704, _num(long_qty)), (705, _num(short_qty))]]),
                (753, [[(707, "SMV"), (708, _num(position.qty * self.venue.price(position.symbol)))]]),
            ]
            self._send(session_id, "AP", body)

    def _from_app(self, fix: Any, message: Any, session_id: Any) -> None:
        raw = message.toString()
        f = _fields(raw)
        msg_type = f.get(35, "")
        self.received.append(
            ReceivedMessage(
                session=session_id.toString(),
                msg_type=msg_type,
                seq_num=int(f.get(34, "0")),
                fields=f,
                poss_dup=f.get(43) == "Y",
            )
        )
        if session_id.getTargetCompID().getValue() in self.drop_copy:
            raise fix.UnsupportedMessageType()  # a drop-copy session only listens
        if msg_type == "D":
            self._new_order(fix, session_id, f)
        elif msg_type == "F":
            self._cancel(session_id, f)
        elif msg_type == "G":
            self._replace(session_id, f)
        elif msg_type == "H":
            self._status(session_id, f)
        elif msg_type == "J":
            self._allocation(session_id, raw, f)
        elif msg_type == "AN" and self.position_requests:
            self._positions(session_id, f)
        else:
            raise fix.UnsupportedMessageType()


def _set_fields(fix: Any, target: Any, body: Sequence[tuple[int, Any]]) -> None:
    """Fields into a message; a list value is a repeating group (a list of field lists)."""
    for tag, value in body:
        if isinstance(value, list):
            for entry in value:
                group = fix.Group(tag, entry[0][0])
                _set_fields(fix, group, entry)
                target.addGroup(group)
        else:
            target.setField(tag, value)


def _make_application(fix: Any, owner: FixMockServer) -> Any:
    class _Acceptor(fix.Application):  # type: ignore[misc]
        def onCreate(self, session_id: Any) -> None:
            return None

        def onLogon(self, session_id: Any) -> None:
            owner.logons[session_id.getTargetCompID().getValue()] += 1

        def onLogout(self, session_id: Any) -> None:
            return None

        def toAdmin(self, message: Any, session_id: Any) -> None:
            return None

        def fromAdmin(self, message: Any, session_id: Any) -> None:
            if message.getHeader().getField(35) == "A":
                owner._check_logon(fix, message, session_id)

        def toApp(self, message: Any, session_id: Any) -> None:
            return None

        def fromApp(self, message: Any, session_id: Any) -> None:
            owner._from_app(fix, message, session_id)

    return _Acceptor()
