"""FIX 4.4 <-> portico's canonical models: order messages out, execution reports in.

Builders return ``(msg_type, [(tag, value), ...])`` so the mapping is testable without the engine;
:func:`to_quickfix` turns that into a ``quickfix.Message``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from portico.connectors.fix.session import FixMessage
from portico.errors import PayloadRejected
from portico.models import Order, OrderRequest, OrderSide, OrderStatus, OrderType, Position, TimeInForce

__all__ = [
    "EXEC_TYPES",
    "ORD_STATUS",
    "ExecutionReport",
    "cancel_request",
    "execution_report",
    "new_order_single",
    "order_from_report",
    "position_from_report",
    "positions_request",
    "replace_request",
    "status_request",
    "to_quickfix",
]

Fields = list[tuple[int, Any]]
"""(tag, value) pairs; a value that is a list of field lists is a repeating group (tag = its NoXxx count)."""

SIDES = {OrderSide.BUY: "1", OrderSide.SELL: "2", OrderSide.SELL_SHORT: "5"}
SIDES_IN = {v: k for k, v in SIDES.items()}
ORD_TYPES = {OrderType.MARKET: "1", OrderType.LIMIT: "2", OrderType.STOP: "3", OrderType.STOP_LIMIT: "4"}
ORD_TYPES_IN = {v: k for k, v in ORD_TYPES.items()}
TIFS = {
    TimeInForce.DAY: "0",
    TimeInForce.GTC: "1",
    TimeInForce.OPG: "2",
    TimeInForce.IOC: "3",
    TimeInForce.FOK: "4",
    TimeInForce.GTD: "6",
    TimeInForce.CLS: "7",
}
TIFS_IN = {v: k for k, v in TIFS.items()}
ORD_STATUS = {
    "0": OrderStatus.NEW,
    "1": OrderStatus.PARTIALLY_FILLED,
    "2": OrderStatus.FILLED,
    "3": OrderStatus.EXPIRED,  # done for day
    "4": OrderStatus.CANCELED,
    "5": OrderStatus.REPLACED,
    "6": OrderStatus.PENDING_CANCEL,
    "8": OrderStatus.REJECTED,
    "A": OrderStatus.ACCEPTED,  # pending new
    "C": OrderStatus.EXPIRED,
    "E": OrderStatus.PENDING_REPLACE,
}
"""OrdStatus (39) to portico's status."""
EXEC_TYPES = {
    "0": "new",
    "3": "done_for_day",
    "4": "canceled",
    "5": "replaced",
    "6": "pending_cancel",
    "8": "rejected",
    "A": "pending_new",
    "C": "expired",
    "D": "restated",
    "E": "pending_replace",
    "F": "trade",
    "I": "order_status",
}
"""ExecType (150) to portico's event names."""
UNKNOWN_ORDER = "5"
"""OrdRejReason (103) / CxlRejReason (102): unknown order."""
DUPLICATE_ORDER = "6"
"""OrdRejReason (103): duplicate ClOrdID."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def new_order_single(
    request: OrderRequest, cl_ord_id: str, *, account: str | None = None
) -> tuple[str, Fields]:
    """A NewOrderSingle (D) for ``request`` under ``cl_ord_id`` (portico's idempotency key).

    Raises:
        PayloadRejected: the request cannot be said in FIX 4.4 by this connector (notional orders,
            trailing stops, no quantity).
    """
    if request.quantity is None:
        raise PayloadRejected(
            "FIX orders need a quantity (notional orders are not supported)", field="quantity"
        )
    if request.order_type not in ORD_TYPES:
        raise PayloadRejected(
            f"FIX order type {request.order_type.value} is not supported", field="order_type"
        )
    if request.time_in_force not in TIFS:
        raise PayloadRejected(
            f"time in force {request.time_in_force.value} is not supported", field="time_in_force"
        )
    fields: Fields = [(11, cl_ord_id)]
    if account or request.account_id:
        fields.append((1, str(request.account_id or account)))
    fields += [
        (55, request.symbol.upper()),
        (54, SIDES[request.side]),
        (60, _now()),
        (38, _decimal(request.quantity)),
        (40, ORD_TYPES[request.order_type]),
    ]
    if request.limit_price is not None:
        fields.append((44, _decimal(request.limit_price)))
    if request.stop_price is not None:
        fields.append((99, _decimal(request.stop_price)))
    fields.append((59, TIFS[request.time_in_force]))
    return "D", fields


def cancel_request(cl_ord_id: str, orig_cl_ord_id: str, order: Order) -> tuple[str, Fields]:
    """An OrderCancelRequest (F) for ``order`` (placed under ``orig_cl_ord_id``)."""
    fields: Fields = [(41, orig_cl_ord_id), (11, cl_ord_id), (37, order.order_id)]
    fields += [(55, order.symbol), (54, SIDES[order.side]), (60, _now())]
    if order.quantity is not None:
        fields.append((38, _decimal(order.quantity)))
    return "F", fields


def replace_request(
    cl_ord_id: str,
    orig_cl_ord_id: str,
    order: Order,
    *,
    quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    time_in_force: TimeInForce | None = None,
) -> tuple[str, Fields]:
    """An OrderCancelReplaceRequest (G): the order's fields with the changes applied."""
    qty = quantity if quantity is not None else order.quantity
    if qty is None:
        raise PayloadRejected("the order has no quantity to replace", field="quantity")
    tif = time_in_force or order.time_in_force
    if tif not in TIFS:
        raise PayloadRejected(f"time in force {tif.value} is not supported", field="time_in_force")
    fields: Fields = [(41, orig_cl_ord_id), (11, cl_ord_id), (37, order.order_id)]
    fields += [(55, order.symbol), (54, SIDES[order.side]), (60, _now()), (38, _decimal(qty))]
    fields.append((40, ORD_TYPES[order.order_type]))
    price = limit_price if limit_price is not None else order.limit_price
    if price is not None:
        fields.append((44, _decimal(price)))
    stop = stop_price if stop_price is not None else order.stop_price
    if stop is not None:
        fields.append((99, _decimal(stop)))
    fields.append((59, TIFS[tif]))
    return "G", fields


def status_request(cl_ord_id: str, request_id: str, *, symbol: str, side: OrderSide) -> tuple[str, Fields]:
    """An OrderStatusRequest (H) for the order placed under ``cl_ord_id``."""
    return "H", [(11, cl_ord_id), (790, request_id), (55, symbol), (54, SIDES[side])]


def to_quickfix(fix: Any, msg_type: str, fields: Fields) -> Any:
    """A ``quickfix.Message`` of ``msg_type`` with ``fields`` in the body."""
    message = fix.Message()
    message.getHeader().setField(fix.BeginString("FIX.4.4"))
    message.getHeader().setField(fix.MsgType(msg_type))
    _set_fields(fix, message, fields)
    return message


def _set_fields(fix: Any, target: Any, fields: Fields) -> None:
    for tag, value in fields:
        if isinstance(value, list):
            for entry in value:
                group = fix.Group(tag, entry[0][0])
                _set_fields(fix, group, entry)
                target.addGroup(group)
        else:
            target.setField(tag, value)


def positions_request(request_id: str, account: str) -> tuple[str, Fields]:
    """A RequestForPositions (AN): a snapshot of the account's positions (PosReqType 0)."""
    now = datetime.now(UTC)
    fields: Fields = [(710, request_id), (724, "0"), (1, account), (581, "1")]
    fields += [(715, now.strftime("%Y%m%d")), (60, _now())]
    return "AN", fields


def position_from_report(message: FixMessage, *, system: str) -> Position:
    """A PositionReport (AP) as a position: LongQty - ShortQty at SettlPrice.

    Raises:
        PayloadRejected: no Symbol, or a quantity or price that is not a number (names the tag).
    """
    symbol = message.get(55)
    if not symbol:
        raise PayloadRejected(f"PositionReport {message.seq_num} has no Symbol (55)", field="55")

    def number(tag: int, name: str) -> Decimal:
        value = message.get(tag) or "0"
        try:
            return Decimal(value)
        except InvalidOperation:
            raise PayloadRejected(
                f"PositionReport {message.seq_num}: {name} ({tag}) is not a number: {value!r}", field=str(tag)
            ) from None

    quantity = number(704, "LongQty") - number(705, "ShortQty")
    price = number(730, "SettlPrice")
    return Position(
        account_id=message.get(1),
        symbol=symbol,
        quantity=quantity,
        currency=message.get(15) or "USD",
        market_price=price,
        market_value=quantity * price,
        system=system,
    )


# -- execution reports -----------------------------------------------------------------------------


class ExecutionReport:
    """The fields of one ExecutionReport (8) the connector acts on.

    Raises:
        PayloadRejected: a required field is missing or unreadable (names the tag).
    """

    def __init__(self, message: FixMessage) -> None:
        self.message = message
        get = message.get
        self.exec_id = self._required(17, "ExecID")
        self.order_id = self._required(37, "OrderID")
        self.cl_ord_id = get(11) or ""
        self.orig_cl_ord_id = get(41)
        self.exec_type = self._required(150, "ExecType")
        self.ord_status = self._required(39, "OrdStatus")
        self.symbol = get(55) or ""
        self.side = SIDES_IN.get(get(54) or "", OrderSide.BUY)
        self.cum_qty = self._decimal(14, "CumQty", "0")
        self.leaves_qty = self._decimal(151, "LeavesQty", "0")
        self.avg_px = self._decimal(6, "AvgPx", "0")
        self.last_qty = self._decimal(32, "LastQty", "0")
        self.last_px = self._decimal(31, "LastPx", "0")
        self.order_qty = self._decimal(38, "OrderQty", None)
        self.price = self._decimal(44, "Price", None)
        self.stop_px = self._decimal(99, "StopPx", None)
        self.ord_type = ORD_TYPES_IN.get(get(40) or "", OrderType.MARKET)
        self.tif = TIFS_IN.get(get(59) or "", TimeInForce.DAY)
        self.account = get(1)
        self.text = get(58)
        self.ord_rej_reason = get(103)
        self.status_request_id = get(790)
        self.transact_time = _parse_time(get(60))
        self.duplicate = message.poss_dup or message.poss_resend

    def _required(self, tag: int, name: str) -> str:
        value = self.message.get(tag)
        if not value:
            raise PayloadRejected(
                f"ExecutionReport {self.message.seq_num} has no {name} ({tag})", field=str(tag)
            )
        return value

    def _decimal(self, tag: int, name: str, default: str | None) -> Decimal | None:  # type: ignore[return]
        value = self.message.get(tag, default)
        if value is None:
            return None
        try:
            return Decimal(value)
        except InvalidOperation:
            raise PayloadRejected(
                f"ExecutionReport {self.message.seq_num}: {name} ({tag}) is not a number: {value!r}",
                field=str(tag),
            ) from None

    @property
    def status(self) -> OrderStatus:
        """portico's status of the order after this report."""
        status = ORD_STATUS.get(self.ord_status)
        if status is None:
            raise PayloadRejected(
                f"ExecutionReport {self.message.seq_num}: unknown OrdStatus {self.ord_status!r}", field="39"
            )
        return status

    @property
    def unknown_order(self) -> bool:
        """An answer to an OrderStatusRequest for an order the counterparty does not have."""
        return (
            self.ord_status == "8" and self.ord_rej_reason == UNKNOWN_ORDER and self.order_id in ("NONE", "")
        )


def execution_report(message: FixMessage) -> ExecutionReport:
    """Read one ExecutionReport."""
    return ExecutionReport(message)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    for layout in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def order_from_report(
    report: ExecutionReport,
    *,
    system: str,
    client_order_id: str,
    previous: Order | None = None,
    now: datetime,
) -> Order:
    """The order as the report leaves it (fields a report leaves out are kept from ``previous``)."""
    quantity = report.order_qty
    if quantity is None and previous is not None:
        quantity = previous.quantity
    if quantity is None and report.cum_qty is not None and report.leaves_qty is not None:
        quantity = report.cum_qty + report.leaves_qty
    cum = report.cum_qty or Decimal(0)
    return Order(
        order_id=report.order_id,
        client_order_id=client_order_id,
        system=system,
        account_id=report.account or (previous.account_id if previous else None),
        symbol=report.symbol or (previous.symbol if previous else ""),
        side=report.side if report.message.get(54) else (previous.side if previous else OrderSide.BUY),
        order_type=report.ord_type
        if report.message.get(40)
        else (previous.order_type if previous else OrderType.MARKET),
        time_in_force=report.tif
        if report.message.get(59)
        else (previous.time_in_force if previous else TimeInForce.DAY),
        status=report.status,
        quantity=quantity,
        filled_quantity=cum,
        average_fill_price=report.avg_px if cum > 0 else None,
        limit_price=report.price
        if report.price is not None
        else (previous.limit_price if previous else None),
        stop_price=report.stop_px
        if report.stop_px is not None
        else (previous.stop_price if previous else None),
        created_at=previous.created_at if previous and previous.created_at else (report.transact_time or now),
        updated_at=report.transact_time or now,
        replaced_by=previous.replaced_by if previous else None,
        replaces=previous.replaces if previous else None,
        reject_reason=report.text if report.status is OrderStatus.REJECTED else None,
    )
