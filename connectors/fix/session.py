"""One FIX 4.4 initiator session over QuickFIX, bridged to asyncio.

QuickFIX runs the session layer (logon, heartbeats, test requests, resend requests, gap fills, sequence
resets, logout, the session schedule and reconnects) on its own thread. QuickFIX's initiator retries at a
fixed ``ReconnectInterval``; the backoff is portico's: the engine polls every second, but only an
*enabled* session is connected, and :class:`FixSession` enables it for one attempt at a time, waiting
``reconnect_interval`` after the first failed attempt, doubling up to ``reconnect_max_interval``
(:func:`backoff_delays`). :class:`FixSession` is the
``quickfix.Application`` of that session: it adds the vault's credentials to the Logon, keeps the
sequence numbers in portico's store (:mod:`portico.connectors.fix.sequences`), refuses to resend an
order after a reconnect (``DoNotSend``: the engine gap-fills it instead, so an order that did not get
through the first time never arrives late), and hands every incoming application message to the event
loop as a :class:`FixMessage`.

``quickfix`` is imported when the session starts, never at module import (it is the ``fix`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from portico.connectors.fix.sequences import SequenceStore
from portico.errors import AuthError, ConfigurationError, ConnectionFailed

__all__ = ["FixMessage", "FixSession", "SessionConfig", "backoff_delays", "parse_raw"]

SOH = "\x01"
_ATTEMPT_WINDOW = 1.5
"""Seconds an enabled session has for one connection attempt (the engine polls once a second)."""
_ORDER_TYPES = {"D", "F", "G", "H"}
"""Application messages that are never resent after a reconnect (they are gap-filled)."""


def backoff_delays(first: float, cap: float) -> Iterator[float]:
    """Pauses between failed connection attempts: ``first``, doubling, at most ``cap``."""
    delay = first
    while True:
        yield min(delay, cap)
        delay = min(delay * 2, cap)


def parse_raw(raw: str) -> list[tuple[int, str]]:
    """The (tag, value) pairs of a raw FIX message, in order."""
    out: list[tuple[int, str]] = []
    for part in raw.split(SOH):
        if not part:
            continue
        tag, _, value = part.partition("=")
        with contextlib.suppress(ValueError):
            out.append((int(tag), value))
    return out


@dataclass(frozen=True)
class FixMessage:
    """An incoming application message, copied out of QuickFIX (safe on any thread).

    ``fields`` holds the first value of each tag (repeating groups are not needed by the connector).
    """

    msg_type: str
    seq_num: int
    fields: dict[int, str]
    poss_dup: bool = False
    poss_resend: bool = False
    pairs: tuple[tuple[int, str], ...] = field(default=(), repr=False, compare=False)
    """Every (tag, value) in order, repeating groups included."""

    def get(self, tag: int, default: str | None = None) -> str | None:
        """The value of ``tag``, or ``default``."""
        return self.fields.get(tag, default)

    @classmethod
    def from_raw(cls, raw: str) -> FixMessage:
        """Parse one raw message."""
        fields: dict[int, str] = {}
        pairs = parse_raw(raw)
        for tag, value in pairs:
            fields.setdefault(tag, value)
        return cls(
            pairs=tuple(pairs),
            msg_type=fields.get(35, ""),
            seq_num=int(fields.get(34, "0") or 0),
            fields=fields,
            poss_dup=fields.get(43) == "Y",
            poss_resend=fields.get(97) == "Y",
        )


@dataclass(frozen=True)
class SessionConfig:
    """What a :class:`FixSession` needs to run (built by the connector from its settings)."""

    host: str
    port: int
    sender_comp_id: str
    target_comp_id: str
    data_dictionary: str
    heartbeat_interval: int = 30
    reconnect_interval: int = 5
    reconnect_max_interval: int = 60
    logon_timeout: float = 10.0
    start_time: str = "00:00:00"
    end_time: str = "00:00:00"
    time_zone: str = "UTC"
    reset_on_logon: bool = False
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def session_id(self) -> str:
        """QuickFIX's name for the session."""
        return f"FIX.4.4:{self.sender_comp_id}->{self.target_comp_id}"

    def settings_text(self) -> str:
        """The QuickFIX settings file of the session (no secrets: credentials go in through toAdmin)."""
        lines = [
            "[DEFAULT]",
            "ConnectionType=initiator",
            # the engine's poll; the backoff between attempts is FixSession's (it enables the session)
            "ReconnectInterval=1",
            f"HeartBtInt={self.heartbeat_interval}",
            f"StartTime={self.start_time}",
            f"EndTime={self.end_time}",
            f"TimeZone={self.time_zone}",
            "UseDataDictionary=Y",
            f"DataDictionary={self.data_dictionary}",
            "ValidateUserDefinedFields=N",
            "SocketNodelay=Y",
            "PersistMessages=Y",
            # a gap noticed while a resend is under way is asked for again, not waited out
            "SendRedundantResendRequests=Y",
            f"ResetOnLogon={'Y' if self.reset_on_logon else 'N'}",
            "ResetOnLogout=N",
            "ResetOnDisconnect=N",
            f"LogonTimeout={max(1, round(self.logon_timeout))}",
            "",
            "[SESSION]",
            "BeginString=FIX.4.4",
            f"SenderCompID={self.sender_comp_id}",
            f"TargetCompID={self.target_comp_id}",
            f"SocketConnectHost={self.host}",
            f"SocketConnectPort={self.port}",
            "",
        ]
        return "\n".join(lines)


def _refused_logon(reason: str | None) -> bool:
    """Whether a Logout's text says the credentials were refused."""
    return bool(reason) and any(w in str(reason).lower() for w in ("password", "user", "credential", "auth"))


Listener = Callable[[FixMessage], None]
EventSink = Callable[..., None]


class FixSession:
    """A QuickFIX initiator session whose application messages arrive on an asyncio loop.

    Args:
        config: the session's identity, address, timers and credentials.
        sequences: where the sequence numbers persist.
        on_message: called on the loop for every incoming application message (and session Rejects,
            ``msg_type == "3"``).
        emit: the monitor's event sink (``fix.session.logon`` / ``logout`` / ``reject`` ...).
        on_sent: called on QuickFIX's thread with (msg_type, seq_num, ClOrdID) of each sent order message.
    """

    def __init__(
        self,
        config: SessionConfig,
        sequences: SequenceStore,
        *,
        on_message: Listener,
        emit: EventSink,
        on_sent: Callable[[str, int, str | None], None] | None = None,
    ) -> None:
        self.config = config
        self.sequences = sequences
        self.on_message = on_message
        self.emit = emit
        self.on_sent = on_sent
        self._loop: asyncio.AbstractEventLoop | None = None
        self._initiator: Any = None
        self._app: Any = None
        self._session_id: Any = None
        self._logged_on = threading.Event()
        self._logon_waiters: list[asyncio.Future[None]] = []
        self.logout_reason: str | None = None
        self.logons = 0
        """How many times the session has logged on (reconnects count)."""
        self.generation = 0
        """Bumped on every logout or disconnect: a message sent in an older generation may be lost."""
        self._went_down: asyncio.Event | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.reconnect_delays: list[float] = []
        """Every pause taken between failed connection attempts, in order (reset by nothing)."""

    def __repr__(self) -> str:
        return f"<FixSession {self.config.session_id} {'logged on' if self.logged_on else 'logged off'}>"

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def logged_on(self) -> bool:
        """Whether the session is logged on now."""
        return self._logged_on.is_set()

    async def start(self) -> None:
        """Start the initiator and wait for the first logon.

        Raises:
            ConfigurationError: quickfix is not installed or the settings are invalid.
            AuthError: the counterparty logged us out during logon (bad credentials...).
            ConnectionFailed: no logon within ``logon_timeout`` (nothing was sent).
        """
        if self._initiator is None:
            try:
                import quickfix as fix
            except ImportError:
                raise ConfigurationError(
                    "the FIX connector needs the quickfix engine: pip install 'portico[fix]'"
                ) from None
            self._loop = asyncio.get_running_loop()
            self._app = _make_application(fix, self)
            fd, path = tempfile.mkstemp(prefix="portico-fix-", suffix=".cfg")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(self.config.settings_text())
                try:
                    settings = fix.SessionSettings(path)
                except fix.ConfigError as exc:
                    raise ConfigurationError(f"FIX session settings are invalid: {exc}") from None
            finally:
                os.unlink(path)
            self._session_id = fix.SessionID(
                "FIX.4.4", self.config.sender_comp_id, self.config.target_comp_id
            )
            try:
                self._initiator = fix.ThreadedSocketInitiator(self._app, fix.MemoryStoreFactory(), settings)
                await asyncio.to_thread(self._initiator.start)
            except (fix.ConfigError, fix.RuntimeError) as exc:
                self._initiator = None
                raise ConfigurationError(f"the FIX session could not start: {exc}") from None
            self._went_down = asyncio.Event()
            self._supervisor = asyncio.create_task(
                self._supervise(), name=f"fix-reconnect-{self.config.session_id}"
            )
        await self.wait_logged_on(self.config.logon_timeout)

    async def wait_logged_on(self, timeout: float) -> None:
        """Return once the session is logged on.

        Raises:
            AuthError: the counterparty refused the logon.
            ConnectionFailed: not logged on within ``timeout``.
        """
        if self.logged_on:
            return
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._logon_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            reason = self.logout_reason
            if _refused_logon(reason):
                raise self._auth_error(reason) from None
            raise ConnectionFailed(
                f"{self.config.session_id} is not logged on to {self.config.host}:{self.config.port} "
                f"after {timeout:g}s" + (f" (last logout: {reason})" if reason else "")
            ) from None
        finally:
            if waiter in self._logon_waiters:
                self._logon_waiters.remove(waiter)

    def _enable(self, enabled: bool) -> None:
        import quickfix as fix

        session = fix.Session.lookupSession(self._session_id) if self._session_id is not None else None
        if session is None:
            return
        if enabled:
            session.logon()
        elif session.isEnabled():
            session.logout(self.logout_reason or "")  # not connected: nothing is sent, it only waits

    def _logon_pending(self) -> bool:
        import quickfix as fix

        session = fix.Session.lookupSession(self._session_id) if self._session_id is not None else None
        return bool(session is not None and session.sentLogon() and not session.isLoggedOn())

    async def _attempt(self) -> bool:
        """Whether the session logs on within one attempt (longer while a Logon awaits its answer)."""
        with contextlib.suppress(ConnectionFailed, AuthError):
            await self.wait_logged_on(_ATTEMPT_WINDOW)
            return True
        if self._logon_pending():
            # connected, the Logon is on its way: its answer decides
            with contextlib.suppress(ConnectionFailed, AuthError):
                await self.wait_logged_on(self.config.logon_timeout)
                return True
        return self.logged_on

    async def _supervise(self) -> None:
        """Connection attempts with backoff: one attempt, a pause (growing), the next attempt..."""
        assert self._went_down is not None
        while True:
            if self.logged_on:
                await self._went_down.wait()
                self._went_down.clear()
                continue
            delays = backoff_delays(self.config.reconnect_interval, self.config.reconnect_max_interval)
            while not await self._attempt():
                if self._supervisor is None:
                    return  # stopping
                delay = next(delays)
                self._enable(False)
                self.reconnect_delays.append(delay)
                self.emit(
                    "fix.session.reconnecting",
                    severity="warning",
                    session=self.config.session_id,
                    delay=delay,
                    reason=self.logout_reason or "not connected",
                )
                await asyncio.sleep(delay)
                self._enable(True)

    async def stop(self) -> None:
        """Log out and stop the initiator (waits for the Logout exchange, a few seconds at most)."""
        supervisor, self._supervisor = self._supervisor, None
        while supervisor is not None and not supervisor.done():
            # again until it ends: asyncio.wait_for may swallow a cancel that meets its own result
            supervisor.cancel()
            await asyncio.wait({supervisor}, timeout=0.5)
        initiator, self._initiator = self._initiator, None
        if initiator is None:
            return
        import quickfix as fix

        session = fix.Session.lookupSession(self._session_id) if self._session_id is not None else None
        if session is not None and self.logged_on:
            # our own Logout, answered within a round trip: QuickFIX's stop() would poll once a second
            session.logout("portico closing the session")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 2.0
            while self.logged_on and loop.time() < deadline:
                await asyncio.sleep(0.01)
        await asyncio.to_thread(initiator.stop, True)
        self._logged_on.clear()
        self.sequences.flush()
        self.sequences.close()

    def send(self, message: Any) -> bool:
        """Hand one message to QuickFIX (it stamps the header and sequence number).

        Returns False when the session is not logged on (nothing went to the counterparty). A message
        the engine accepted while the socket was dying is gap-filled on the next logon (see the module
        docstring), so it never arrives late.
        """
        if not self.logged_on or self._session_id is None:
            return False
        import quickfix as fix

        return bool(fix.Session.sendToTarget(message, self._session_id))

    def numbers(self) -> tuple[int, int]:
        """QuickFIX's (next sender, next target) sequence numbers of the live session."""
        import quickfix as fix

        session = fix.Session.lookupSession(self._session_id) if self._session_id is not None else None
        if session is None:
            current = self.sequences.current
            return current.next_sender, current.next_target
        return int(session.getExpectedSenderNum()), int(session.getExpectedTargetNum())

    # -- QuickFIX callbacks (QuickFIX's thread) ----------------------------------------------------

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(fn, *args)

    def _created(self, session_id: Any) -> None:
        import quickfix as fix

        stored = self.sequences.load()
        session = fix.Session.lookupSession(session_id)
        if session is not None:
            session.setNextSenderMsgSeqNum(stored.next_sender)
            session.setNextTargetMsgSeqNum(stored.next_target)

    def _logon(self) -> None:
        self._logged_on.set()
        self.logons += 1
        self.logout_reason = None
        sender, target = self.numbers()
        self._call(self._on_logon_loop, sender, target)

    def _on_logon_loop(self, sender: int, target: int) -> None:
        self.emit("fix.session.logon", session=self.config.session_id, next_sender=sender, next_target=target)
        for waiter in self._logon_waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _logout(self) -> None:
        self._call(self.sequences.flush)
        was = self._logged_on.is_set()
        self._logged_on.clear()
        self.generation += 1
        self._call(self._on_logout_loop, was, self.logout_reason)

    def _auth_error(self, reason: str | None) -> AuthError:
        return AuthError(f"{self.config.session_id}: the counterparty refused the logon: {reason}")

    def _on_logout_loop(self, was_logged_on: bool, reason: str | None) -> None:
        if self._went_down is not None:
            self._went_down.set()
        if not was_logged_on and _refused_logon(reason):
            for waiter in self._logon_waiters:
                if not waiter.done():
                    waiter.set_exception(self._auth_error(reason))
        self.emit(
            "fix.session.logout",
            severity="warning",
            session=self.config.session_id,
            was_logged_on=was_logged_on,
            reason=reason or "",
        )

    def _to_admin(self, msg_type: str, seq: int, poss_dup: bool) -> None:
        if msg_type == "A" and seq == 1:
            # a logon at 1 starts the session again (reset flag, a new session period): both sides restart
            self.sequences.save(next_sender=2, next_target=1)
        elif not poss_dup and seq:
            self.sequences.save(next_sender=seq + 1)

    def _to_app(self, msg_type: str, seq: int, poss_dup: bool, cl_ord_id: str | None) -> bool:
        """False: do not send (an order message being resent after a reconnect)."""
        if poss_dup:
            return msg_type not in _ORDER_TYPES
        self.sequences.save(next_sender=seq + 1)
        if self.on_sent is not None and msg_type in _ORDER_TYPES:
            self.on_sent(msg_type, seq, cl_ord_id)
        return True

    def _from_admin(self, message: FixMessage) -> None:
        if message.msg_type == "5":
            self.logout_reason = message.get(58) or "logout"
        elif message.msg_type == "3":
            self.emit(
                "fix.session.reject",
                severity="warning",
                session=self.config.session_id,
                ref_seq_num=message.get(45),
                ref_msg_type=message.get(372),
                reason=message.get(373),
                text=message.get(58),
            )
            self._call(self.on_message, message)
        # on the loop, in order with the application messages handed over before it
        self._call(self._advance_target, message)

    def _from_app(self, raw: str) -> None:
        # QuickFIX holds the session's lock during this callback: hand the raw text over and return
        self._call(self._deliver, raw)

    def _deliver(self, raw: str) -> None:
        message = FixMessage.from_raw(raw)
        self._advance_target(message)
        self.on_message(message)

    def _advance_target(self, message: FixMessage) -> None:
        # QuickFIX hands a message over before it moves its own counter; a message above the expected
        # number (a logon ahead of us) is followed by a resend request, so only the expected one counts
        stored = self.sequences.next_target
        if message.msg_type == "4" and message.get(36):
            self.sequences.note_target(max(stored, int(message.get(36) or 0)))
        elif message.msg_type == "A" and message.get(141) == "Y":
            self.sequences.note_target(message.seq_num + 1)
        elif message.seq_num == stored:
            self.sequences.note_target(stored + 1)

    def _add_credentials(self, message: Any) -> None:
        import quickfix as fix

        if self.config.username:
            message.setField(fix.Username(self.config.username))
        if self.config.password:
            message.setField(fix.Password(self.config.password))
        if self.config.reset_on_logon:
            message.setField(fix.ResetSeqNumFlag(True))


def _make_application(fix: Any, owner: FixSession) -> Any:
    """A ``quickfix.Application`` forwarding its callbacks to ``owner`` (defined here: quickfix is
    imported only when a session starts)."""

    def header(message: Any) -> tuple[str, int, bool]:
        h = message.getHeader()
        msg_type = h.getField(35) if h.isSetField(35) else ""
        seq = int(h.getField(34)) if h.isSetField(34) else 0
        poss_dup = h.isSetField(43) and h.getField(43) == "Y"
        return msg_type, seq, poss_dup

    class _Application(fix.Application):  # type: ignore[misc]
        def onCreate(self, session_id: Any) -> None:
            owner._created(session_id)

        def onLogon(self, session_id: Any) -> None:
            owner._logon()

        def onLogout(self, session_id: Any) -> None:
            owner._logout()

        def toAdmin(self, message: Any, session_id: Any) -> None:
            msg_type, seq, poss_dup = header(message)
            if msg_type == "A":
                owner._add_credentials(message)
            owner._to_admin(msg_type, seq, poss_dup)

        def fromAdmin(self, message: Any, session_id: Any) -> None:
            owner._from_admin(FixMessage.from_raw(message.toString()))

        def toApp(self, message: Any, session_id: Any) -> None:
            msg_type, seq, poss_dup = header(message)
            cl_ord_id = message.getField(11) if message.isSetField(11) else None
            if not owner._to_app(msg_type, seq, poss_dup, cl_ord_id):
                raise fix.DoNotSend()

        def fromApp(self, message: Any, session_id: Any) -> None:
            owner._from_app(message.toString())

    return _Application()
