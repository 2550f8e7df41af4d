"""The FIX 4.4 connector: orders over a QuickFIX initiator session, execution reports into portico's orders."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from portico.auth import known_secrets
from portico.connectors.fix.allocations import (
    AllocationResult,
    allocation_instruction,
    read_allocations,
    status_of,
)
from portico.connectors.fix.dictionary import data_dictionary
from portico.connectors.fix.keys import OrderKey, OrderKeyStore
from portico.connectors.fix.mapping import (
    DUPLICATE_ORDER,
    EXEC_TYPES,
    ExecutionReport,
    cancel_request,
    new_order_single,
    order_from_report,
    position_from_report,
    positions_request,
    replace_request,
    status_request,
    to_quickfix,
)
from portico.connectors.fix.sequences import SequenceStore
from portico.connectors.fix.session import FixMessage, FixSession, SessionConfig
from portico.connectors.fix.spec import SPEC, FixConnection
from portico.errors import (
    ConfigurationError,
    ConnectionFailed,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    PayloadRejected,
    ReadTimeout,
    VenueRejected,
)
from portico.models import (
    Execution,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    Position,
    TimeInForce,
)
from portico.sdk import CheckResult, Connector, ConnectorContext, ConnectorSpec
from portico.store import Database

if TYPE_CHECKING:
    from portico.trading import BlockAllocation

__all__ = ["FixConnector"]

_STATUS_TIMEOUT = 5.0
"""Seconds to wait for the answer to an OrderStatusRequest."""


class FixConnector(Connector):
    """Any FIX 4.4 counterparty, through a QuickFIX initiator session (extra ``portico[fix]``).

    The session logs on when the connector opens, with the ``username``/``password`` credentials in the
    Logon; its sequence numbers live in portico's store, so a restarted process resumes the session.

    Orders: NewOrderSingle with ClOrdID = the client order id (the trading service's idempotency key),
    answered by the first ExecutionReport for it. When no report arrives within ``ack_timeout`` the
    placement raises :class:`~portico.errors.OutcomeUnknown`; the trading service then looks the order up
    (:meth:`get_order_by_client_id`: an OrderStatusRequest on the same session, so the counterparty has
    read every earlier message before it answers). Orders are never resent by the engine after a
    reconnect (they are gap-filled), so "unknown order" is a definitive answer. Execution reports are
    de-duplicated by ExecID (PossDupFlag and PossResend copies are applied once).

    Drop copy (``drop_copy_comp_id``): a second, listen-only session whose execution reports cover every
    order of the account. A copy of a report the order session already delivered is dropped (same
    ExecID); the others are published with ``source="drop_copy"``, so the trading service applies them to
    its own orders and adopts the orders placed outside portico (``origin="external"``).
    """

    spec: ClassVar[ConnectorSpec] = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(FixConnection)
        self._session: FixSession | None = None
        self._drop_copy: FixSession | None = None
        self._db: Database | None = None
        self._keys: OrderKeyStore | None = None
        self._orders: dict[str, Order] = {}
        """Latest known state per placement ClOrdID."""
        self._roots: dict[str, str] = {}
        """Cancel/replace request ClOrdIDs -> the placement ClOrdID they act on."""
        self._by_order_id: dict[str, str] = {}
        self._exec_ids: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[Any]]] = {}
        self._status_waiters: dict[str, asyncio.Future[ExecutionReport]] = {}
        self._position_requests: dict[str, _PositionRequest] = {}
        self._allocations: dict[str, _PendingAllocation] = {}
        self._sent: dict[int, str] = {}
        """MsgSeqNum -> ClOrdID of order messages, to pin a session Reject on its order."""
        self._subscribers: list[asyncio.Queue[OrderEvent]] = []
        self._ids = itertools.count(1)
        self._run = uuid.uuid4().hex[:8]
        self.duplicates_ignored = 0
        """Execution reports dropped as copies of one already applied (PossDupFlag / PossResend / ExecID)."""

    # -- lifecycle -------------------------------------------------------------------------------

    def _address(self) -> tuple[str, int]:
        endpoints = self.settings.endpoints(dict(self.context.environment.urls))
        url = endpoints.get("fix") or ""
        parts = urlsplit(url)
        if not parts.hostname or not parts.port:
            raise ConfigurationError(
                f"{self.system}: the fix URL {url!r} must be tcp://host:port", system=self.system
            )
        return parts.hostname, parts.port

    def _credential(self, name: str) -> str | None:
        if name not in self.context.credentials:
            return None
        value = self.context.secret(name)
        # the Logon carries them in clear: redacted wherever an error or a log line might echo them
        known_secrets.register(value)
        return value

    def _config(self, sender_comp_id: str | None = None) -> SessionConfig:
        host, port = self._address()
        s = self.settings
        return SessionConfig(
            host=host,
            port=port,
            sender_comp_id=sender_comp_id or s.sender_comp_id,
            target_comp_id=s.target_comp_id,
            data_dictionary=data_dictionary(s.data_dictionary),
            heartbeat_interval=s.heartbeat_interval,
            reconnect_interval=s.reconnect_interval,
            reconnect_max_interval=max(s.reconnect_max_interval, s.reconnect_interval),
            logon_timeout=s.logon_timeout,
            start_time=s.start_time,
            end_time=s.end_time,
            time_zone=s.time_zone,
            reset_on_logon=s.reset_on_logon,
            username=self._credential("username"),
            password=self._credential("password"),
        )

    @property
    def session(self) -> FixSession:
        """The FIX session (created by :meth:`open`)."""
        if self._session is None:
            raise ConnectionFailed(f"{self.system}: the FIX session is not open", system=self.system)
        return self._session

    async def open(self) -> None:
        """Start the session and wait for the logon.

        Raises:
            ConfigurationError: quickfix or the data dictionary is missing, or the settings are wrong.
            AuthError: the counterparty refused the logon.
            ConnectionFailed: no logon within ``logon_timeout`` (the session keeps trying in the background).
        """
        if self._session is None:
            config = self._config()
            self._db = self.context.store or Database()
            sequences = await asyncio.to_thread(SequenceStore, self._db, config.session_id)
            self._keys = OrderKeyStore(self._db, config.session_id)
            self._session = FixSession(
                config, sequences, on_message=self._on_message, emit=self.context.emit, on_sent=self._on_sent
            )
            if self.settings.drop_copy_comp_id and self._drop_copy is None:
                copy_config = self._config(self.settings.drop_copy_comp_id)
                copy_sequences = await asyncio.to_thread(SequenceStore, self._db, copy_config.session_id)
                self._drop_copy = FixSession(
                    copy_config, copy_sequences, on_message=self._on_drop_copy, emit=self.context.emit
                )
        await self._session.start()
        if self._drop_copy is not None:
            await self._drop_copy.start()

    async def close(self) -> None:
        """Log out and stop the session."""
        session, self._session = self._session, None
        copy, self._drop_copy = self._drop_copy, None
        for each in (copy, session):
            if each is not None:
                await each.stop()
        for queue in self._subscribers:
            queue.put_nowait(_END)
        if self._db is not None and self.context.store is None:
            self._db.dispose()
        self._db = None

    async def check(self) -> CheckResult:
        session = self._session
        ok = session is not None and session.logged_on
        sender, target = session.numbers() if session is not None else (0, 0)
        checks = {"logged_on": ok}
        detail = f"logged on, next sender {sender}, next target {target}" if ok else "not logged on"
        if self._drop_copy is not None:
            checks["drop_copy_logged_on"] = self._drop_copy.logged_on
            ok = ok and self._drop_copy.logged_on
            detail += "; drop copy " + ("logged on" if self._drop_copy.logged_on else "not logged on")
        return CheckResult(ok=ok, system=self.system, detail=detail, checks=checks)

    async def _ready(self) -> FixSession:
        session = self.session
        await session.wait_logged_on(self.settings.logon_timeout)
        return session

    def _send(self, session: FixSession, msg_type: str, fields: list[tuple[int, str]]) -> bool:
        import quickfix as fix

        return session.send(to_quickfix(fix, msg_type, fields))

    async def _answer(self, session: FixSession, waiter: asyncio.Future[Any], timeout: float) -> Any:
        """Wait for ``waiter``; halfway, send a TestRequest.

        A message lost on the way is noticed only when the next one arrives (its number is too high and
        the engine asks for a resend); when the answer is late, the Heartbeat answering the TestRequest
        is that next message.
        """
        done, _ = await asyncio.wait({waiter}, timeout=timeout / 2)
        if not done:
            self._send(session, "1", [(112, self._next_id("probe"))])
            await asyncio.wait({waiter}, timeout=timeout / 2)
        if not waiter.done():
            waiter.cancel()
            raise TimeoutError
        return waiter.result()

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}-{self._run}-{next(self._ids)}"

    # -- incoming --------------------------------------------------------------------------------

    def _on_sent(self, msg_type: str, seq: int, cl_ord_id: str | None) -> None:
        if cl_ord_id:
            self._sent[seq] = cl_ord_id
            if len(self._sent) > 10_000:
                for old in sorted(self._sent)[:5_000]:
                    del self._sent[old]

    def _wake(self, cl_ord_id: str, value: Any) -> None:
        for waiter in self._waiters.pop(cl_ord_id, []):
            if not waiter.done():
                if isinstance(value, BaseException):
                    waiter.set_exception(value)
                else:
                    waiter.set_result(value)

    def _on_message(self, message: FixMessage) -> None:
        try:
            if message.msg_type == "8":
                self._on_report(ExecutionReport(message))
            elif message.msg_type == "9":
                self._on_cancel_reject(message)
            elif message.msg_type == "3":
                self._on_session_reject(message)
            elif message.msg_type in ("AO", "AP"):
                self._on_positions(message)
            elif message.msg_type in ("P", "AS"):
                self._on_allocation(message)
            elif message.msg_type == "j" and message.get(372) == "AN":
                self._positions_refused(message)
            elif message.msg_type == "j":
                ref = message.get(379)
                if ref:
                    self._wake(
                        ref,
                        VenueRejected(
                            f"{self.system}: business reject: {message.get(58) or ''}", system=self.system
                        ),
                    )
        except PayloadRejected as exc:
            self.context.emit(
                "fix.message.unreadable", severity="error", system=self.system, error=exc.message
            )

    def _on_positions(self, message: FixMessage) -> None:
        """RequestForPositionsAck (AO): how many reports follow; PositionReport (AP): one position."""
        pending = self._position_requests.get(message.get(710) or "")
        if pending is None or pending.future.done():
            return
        if message.msg_type == "AO":
            result = message.get(728) or "0"
            text = message.get(58) or f"PosReqResult {result}"
            if result == "2":  # no positions found
                pending.future.set_result([])
            elif result in ("1", "4"):  # invalid or unsupported request, positions not supported
                pending.future.set_exception(
                    NotSupported(
                        f"{self.system}: the counterparty does not answer RequestForPositions: {text}",
                        capability="get_positions",
                        system=self.system,
                    )
                )
            elif result != "0":
                pending.future.set_exception(
                    VenueRejected(f"{self.system}: RequestForPositions refused: {text}", system=self.system)
                )
            else:
                pending.expected = int(message.get(727) or 0)
        else:
            try:
                pending.reports.append(position_from_report(message, system=self.system))
            except PayloadRejected as exc:
                pending.future.set_exception(exc)  # the caller hears what was wrong, at once
                return
        done = pending.future.done()
        if not done and pending.expected is not None and len(pending.reports) >= pending.expected:
            pending.future.set_result(list(pending.reports))

    def _on_allocation(self, message: FixMessage) -> None:
        """AllocationInstructionAck (P), then for an accepted instruction its AllocationReport (AS)."""
        pending = self._allocations.get(message.get(70) or "")
        if pending is None or pending.future.done():
            return
        status, reason = status_of(message)
        result = pending.result
        result.status, result.reason = status, reason or result.reason
        if message.msg_type == "AS":
            result.accounts = read_allocations(list(message.pairs), seq_num=message.seq_num)
            result.report_id = message.get(755)
            pending.future.set_result(result)
        elif status not in ("accepted", "received"):
            pending.future.set_result(result)  # refused: no report follows

    def _positions_refused(self, message: FixMessage) -> None:
        error = NotSupported(
            f"{self.system}: the counterparty refused RequestForPositions: {message.get(58) or 'refused'}",
            capability="get_positions",
            system=self.system,
        )
        for pending in self._position_requests.values():
            if not pending.future.done():
                pending.future.set_exception(error)

    def _on_drop_copy(self, message: FixMessage) -> None:
        """A message on the drop-copy session: execution reports of every order of the account."""
        if message.msg_type != "8":
            return
        try:
            report = ExecutionReport(message)
            if report.exec_type != "I":
                self._on_report(report, source="drop_copy")
        except PayloadRejected as exc:
            self.context.emit(
                "fix.message.unreadable", severity="error", system=self.system, error=exc.message
            )

    def _root(self, cl_ord_id: str) -> str:
        return self._roots.get(cl_ord_id, cl_ord_id)

    def _on_report(self, report: ExecutionReport, *, source: str = "stream") -> None:
        if report.exec_type == "I":
            waiter = self._status_waiters.pop(report.status_request_id or "", None)
            if waiter is not None and not waiter.done():
                waiter.set_result(report)
            if report.unknown_order:
                return
        elif report.exec_id in self._exec_ids:
            self.duplicates_ignored += 1
            return
        else:
            self._exec_ids.add(report.exec_id)
        if report.exec_type == "8" and report.ord_rej_reason == DUPLICATE_ORDER:
            # the counterparty refused a second order under a ClOrdID it already holds: that says
            # nothing about the first order's state, so it is not applied to it
            self._wake(
                report.cl_ord_id,
                VenueRejected(
                    f"{self.system}: duplicate ClOrdID {report.cl_ord_id}: {report.text or ''}",
                    system=self.system,
                ),
            )
            return
        if report.exec_type in ("4", "6") and report.orig_cl_ord_id:
            root = self._root(report.orig_cl_ord_id)
            self._roots[report.cl_ord_id] = root
        else:
            root = self._root(report.cl_ord_id)
        previous = self._orders.get(root)
        order = order_from_report(
            report, system=self.system, client_order_id=root, previous=previous, now=self.context.clock.now()
        )
        if report.exec_type == "5" and report.orig_cl_ord_id:
            old_root = self._root(report.orig_cl_ord_id)
            old = self._orders.get(old_root)
            order = order.model_copy(update={"replaces": old.order_id if old else None})
            if old is not None:
                replaced = old.model_copy(
                    update={"status": OrderStatus.REPLACED, "replaced_by": order.order_id}
                )
                self._orders[old_root] = replaced
                self._publish("replaced", replaced, None, source=source)
            self._wake(report.orig_cl_ord_id, order)
        if previous is not None and report.exec_type == "I" and _older(order, previous):
            order = previous
        self._orders[root] = order
        self._by_order_id[order.order_id] = root
        execution = None
        if report.exec_type == "F" and report.last_qty and report.last_qty > 0:
            execution = Execution(
                execution_id=report.exec_id,
                order_id=order.order_id,
                client_order_id=root,
                system=self.system,
                account_id=order.account_id,
                symbol=order.symbol,
                side=order.side,
                quantity=report.last_qty,
                price=report.last_px or Decimal(0),
                executed_at=report.transact_time or self.context.clock.now(),
            )
        if report.exec_type != "I":
            self._publish(
                EXEC_TYPES.get(report.exec_type, "update"),
                order,
                execution,
                event_id=report.exec_id,
                source=source,
            )
        self._wake(report.cl_ord_id, order)
        if root != report.cl_ord_id:
            self._wake(root, order)

    def _on_cancel_reject(self, message: FixMessage) -> None:
        cl_ord_id = message.get(11) or ""
        error: VenueRejected
        text = message.get(58) or "refused"
        if message.get(102) == "1":
            error = NotFound(f"{self.system}: cancel refused, unknown order: {text}", system=self.system)
        else:
            error = VenueRejected(f"{self.system}: cancel/replace refused: {text}", system=self.system)
        self._wake(cl_ord_id, error)

    def _on_session_reject(self, message: FixMessage) -> None:
        ref = int(message.get(45) or 0)
        cl_ord_id = self._sent.get(ref)
        if cl_ord_id is not None:
            reason = message.get(58) or f"SessionRejectReason {message.get(373)}"
            self._wake(
                cl_ord_id,
                VenueRejected(f"{self.system}: session reject of {cl_ord_id}: {reason}", system=self.system),
            )

    def _publish(
        self,
        event: str,
        order: Order,
        execution: Execution | None,
        *,
        event_id: str | None = None,
        source: str = "stream",
    ) -> None:
        if not self._subscribers:
            return
        item = OrderEvent(
            event=event,
            order=order,
            execution=execution,
            timestamp=order.updated_at or self.context.clock.now(),
            event_id=event_id,
            system=self.system,
            source=source,
        )
        for queue in self._subscribers:
            queue.put_nowait(item)

    # -- orders ----------------------------------------------------------------------------------

    def _await(self, cl_ord_id: str) -> asyncio.Future[Any]:
        """A future resolved by the next report (or refusal) for ``cl_ord_id``."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        self._waiters.setdefault(cl_ord_id, []).append(waiter)
        return waiter

    async def place_order(self, request: OrderRequest) -> Order:
        if request.order_type not in self.spec.capabilities.order_types:
            raise NotSupported(
                f"{self.system} ({self.spec.name}) does not support {request.order_type.value} orders",
                capability="place_order",
                system=self.system,
            )
        cl_ord_id = request.client_order_id or uuid.uuid4().hex
        known = self._orders.get(cl_ord_id)
        if known is not None:
            return known
        msg_type, fields = new_order_single(request, cl_ord_id, account=self.settings.account)
        session = await self._ready()
        assert self._keys is not None
        await asyncio.to_thread(
            self._keys.remember, OrderKey(cl_ord_id, request.symbol.upper(), request.side)
        )
        waiter = self._await(cl_ord_id)
        async with self.context.measure("NewOrderSingle", method="FIX"):
            if not self._send(session, msg_type, fields):
                self._waiters.pop(cl_ord_id, None)
                raise ConnectionFailed(
                    f"{self.system}: the session logged off before order {cl_ord_id} was sent",
                    system=self.system,
                )
            try:
                order: Order = await self._answer(session, waiter, self.settings.ack_timeout)
            except TimeoutError:
                self.context.emit(
                    "fix.order.ack_timeout", severity="warning", system=self.system, client_order_id=cl_ord_id
                )
                raise OutcomeUnknown(
                    f"{self.system}: order {cl_ord_id} was sent and not acknowledged within {self.settings.ack_timeout:g}s",
                    idempotency_key=cl_ord_id,
                    system=self.system,
                ) from None
        if order.status is OrderStatus.REJECTED:
            raise VenueRejected(
                f"{self.system} rejected order {cl_ord_id}: {order.reject_reason or 'rejected'}",
                system=self.system,
            )
        return order

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        """The order placed under ``client_order_id``, asked of the counterparty (OrderStatusRequest).

        Raises:
            NotFound: the counterparty does not hold the order.
            ReadTimeout: no answer in time (the outcome stays unknown).
        """
        session = await self._ready()
        assert self._keys is not None
        key = self._keys.get(client_order_id)
        known = self._orders.get(client_order_id)
        symbol = key.symbol if key else (known.symbol if known else "NA")
        side = key.side if key else (known.side if known else OrderSide.BUY)
        request_id = self._next_id("osr")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[ExecutionReport] = loop.create_future()
        self._status_waiters[request_id] = waiter
        msg_type, fields = status_request(client_order_id, request_id, symbol=symbol, side=side)
        try:
            async with self.context.measure("OrderStatusRequest", method="FIX"):
                if not self._send(session, msg_type, fields):
                    raise ConnectionFailed(f"{self.system}: the session logged off", system=self.system)
                report = await self._answer(session, waiter, _STATUS_TIMEOUT)
        except TimeoutError:
            raise ReadTimeout(
                f"{self.system}: no answer to the status request for {client_order_id}", system=self.system
            ) from None
        finally:
            self._status_waiters.pop(request_id, None)
        if report.unknown_order:
            raise NotFound(f"{self.system} holds no order {client_order_id}", system=self.system)
        order = self._orders.get(self._root(client_order_id))
        if order is None:
            raise NotFound(f"{self.system}: no state for order {client_order_id}", system=self.system)
        return order

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        """The account's positions: a RequestForPositions (AN) answered by an ack (AO) and one
        PositionReport (AP) per position.

        Raises:
            ConfigurationError: no account to ask for (``account_id`` or ``connection.account``).
            NotSupported: the counterparty does not answer position requests.
            ReadTimeout: the answer did not come in time.
        """
        account = account_id or self.settings.account
        if not account:
            raise ConfigurationError(
                f"{self.system}: RequestForPositions names the account (1): set connection.account",
                path="connection.account",
                system=self.system,
            )
        session = await self._ready()
        request_id = self._next_id("pos")
        pending = _PositionRequest(asyncio.get_running_loop().create_future())
        self._position_requests[request_id] = pending
        msg_type, fields = positions_request(request_id, account)
        try:
            async with self.context.measure("RequestForPositions", method="FIX"):
                if not self._send(session, msg_type, fields):
                    raise ConnectionFailed(f"{self.system}: the session logged off", system=self.system)
                positions: list[Position] = await self._answer(session, pending.future, _STATUS_TIMEOUT)
        except TimeoutError:
            raise ReadTimeout(
                f"{self.system}: no complete answer to RequestForPositions for {account}", system=self.system
            ) from None
        finally:
            self._position_requests.pop(request_id, None)
        return positions

    async def send_allocation(
        self, block: BlockAllocation, *, orders: list[tuple[str, str]] | None = None
    ) -> AllocationResult:
        """Instruct the allocation of a filled block (AllocationInstruction J) and wait for the answer.

        ``block`` is the allocation service's result (:func:`portico.trading.allocate_block`);
        ``orders`` the (ClOrdID, OrderID) pairs of the block's orders (default: not specified). The
        counterparty acknowledges (AllocationInstructionAck P) and, once accepted, confirms the
        accounts' quantities (AllocationReport AS).

        Returns:
            The answer: ``accepted`` with the confirmed accounts, or a refusal with its reason.

        Raises:
            PayloadRejected: the block allocates nothing.
            ReadTimeout: no ack or report in time (the instruction may have arrived: send the same
                AllocID again to ask, never a new one).
        """
        msg_type, fields = allocation_instruction(block, orders=orders)
        session = await self._ready()
        pending = _PendingAllocation(
            asyncio.get_running_loop().create_future(), AllocationResult(block.alloc_id, "sent")
        )
        self._allocations[block.alloc_id] = pending
        try:
            async with self.context.measure("AllocationInstruction", method="FIX"):
                if not self._send(session, msg_type, fields):
                    raise ConnectionFailed(f"{self.system}: the session logged off", system=self.system)
                result: AllocationResult = await self._answer(session, pending.future, _STATUS_TIMEOUT)
        except TimeoutError:
            raise ReadTimeout(
                f"{self.system}: allocation {block.alloc_id} not answered (last status: "
                f"{pending.result.status})",
                system=self.system,
            ) from None
        finally:
            self._allocations.pop(block.alloc_id, None)
        self.context.emit(
            "fix.allocation." + ("accepted" if result.accepted else "refused"),
            severity="info" if result.accepted else "warning",
            system=self.system,
            alloc_id=result.alloc_id,
            status=result.status,
            reason=result.reason,
        )
        return result

    def _known(self, order_id: str) -> tuple[str, Order]:
        root = self._by_order_id.get(order_id)
        order = self._orders.get(root) if root else None
        if root is None or order is None:
            raise NotFound(
                f"{self.system}: order {order_id} is not known to this session", system=self.system
            )
        return root, order

    async def cancel_order(self, order_id: str) -> None:
        root, order = self._known(order_id)
        session = await self._ready()
        cancel_id = self._next_id("cxl")
        self._roots[cancel_id] = root
        waiter = self._await(cancel_id)
        msg_type, fields = cancel_request(cancel_id, root, order)
        async with self.context.measure("OrderCancelRequest", method="FIX"):
            if not self._send(session, msg_type, fields):
                raise ConnectionFailed(f"{self.system}: the session logged off", system=self.system)
            try:
                await self._answer(session, waiter, self.settings.ack_timeout)
            except TimeoutError:
                raise OutcomeUnknown(
                    f"{self.system}: cancel of {order_id} not acknowledged", system=self.system
                ) from None

    async def replace_order(
        self,
        order_id: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        if quantity is None and limit_price is None and stop_price is None and time_in_force is None:
            raise PayloadRejected("replace_order needs at least one field to change", system=self.system)
        root, order = self._known(order_id)
        session = await self._ready()
        new_id = client_order_id or self._next_id("rpl")
        msg_type, fields = replace_request(
            new_id,
            root,
            order,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
            time_in_force=time_in_force,
        )
        assert self._keys is not None
        await asyncio.to_thread(self._keys.remember, OrderKey(new_id, order.symbol, order.side))
        waiter = self._await(new_id)
        async with self.context.measure("OrderCancelReplaceRequest", method="FIX"):
            if not self._send(session, msg_type, fields):
                raise ConnectionFailed(f"{self.system}: the session logged off", system=self.system)
            try:
                result: Order = await self._answer(session, waiter, self.settings.ack_timeout)
            except TimeoutError:
                raise OutcomeUnknown(
                    f"{self.system}: replacement of {order_id} not acknowledged",
                    idempotency_key=new_id,
                    system=self.system,
                ) from None
        return result

    # -- streams ---------------------------------------------------------------------------------

    async def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:  # type: ignore[override]
        queue: asyncio.Queue[OrderEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        # execution reports of every order on the session arrive unasked: subscribed from now on
        self.context.emit("stream.subscribed", stream="order_updates")
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                yield item
        finally:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(queue)


@dataclass
class _PendingAllocation:
    """An AllocationInstruction waiting for its ack and report."""

    future: asyncio.Future[AllocationResult]
    result: AllocationResult


@dataclass
class _PositionRequest:
    """A RequestForPositions waiting for its ack and reports."""

    future: asyncio.Future[list[Position]]
    expected: int | None = None
    reports: list[Position] = field(default_factory=list)


def _older(candidate: Order, current: Order) -> bool:
    """Whether a status answer is behind what the session already reported (fills only grow)."""
    return candidate.filled_quantity < current.filled_quantity


_END: Any = object()
