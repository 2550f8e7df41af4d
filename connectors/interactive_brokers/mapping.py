"""Interactive Brokers wire values <-> canonical models, for both transports.

TWS objects come from ib_async (read by attribute, so this module never imports it); Client Portal
payloads come as the pydantic models of :mod:`.wire`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from portico.connectors.interactive_brokers import wire
from portico.errors import NotSupported, PayloadRejected
from portico.models import (
    Account,
    AssetClass,
    Bar,
    BarInterval,
    Execution,
    Fundamentals,
    Instrument,
    NewsItem,
    Order,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Snapshot,
    TimeInForce,
    Trade,
)

__all__ = [
    "BAR_SIZES",
    "ORDER_TYPES",
    "SNAPSHOT_FIELDS",
    "TIFS",
    "account_from_values",
    "bar_from_ib",
    "bar_from_web",
    "canonical_order_type",
    "canonical_status",
    "canonical_tif",
    "decimal_or_none",
    "duration_for",
    "execution_from_fill",
    "execution_from_web",
    "fundamentals_from_snapshot",
    "instrument_from_description",
    "instrument_from_search",
    "news_from_ib",
    "order_event_from_web",
    "order_from_trade",
    "order_from_web",
    "position_from_ib",
    "position_from_web",
    "quote_from_snapshot",
    "quote_from_ticker",
    "snapshot_from_web",
    "web_order_body",
]

SYSTEM = "interactive_brokers"

ORDER_TYPES: dict[OrderType, str] = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
_ORDER_TYPES_BACK = {v: k for k, v in ORDER_TYPES.items()} | {
    "STP_LIMIT": OrderType.STOP_LIMIT,
    "STPLMT": OrderType.STOP_LIMIT,
}

TIFS: dict[TimeInForce, str] = {
    TimeInForce.DAY: "DAY",
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.OPG: "OPG",
}
_TIFS_BACK = {v: k for k, v in TIFS.items()} | {"FOK": TimeInForce.FOK, "GTD": TimeInForce.GTD}

# IB order statuses -> canonical. "Inactive" is how IB reports an order it refused or parked.
_STATUSES: dict[str, OrderStatus] = {
    "ApiPending": OrderStatus.PENDING_SUBMIT,
    "PendingSubmit": OrderStatus.PENDING_SUBMIT,
    "PreSubmitted": OrderStatus.ACCEPTED,
    "Submitted": OrderStatus.NEW,
    "PendingCancel": OrderStatus.PENDING_CANCEL,
    "ApiCancelled": OrderStatus.CANCELED,
    "Cancelled": OrderStatus.CANCELED,
    "Filled": OrderStatus.FILLED,
    "Inactive": OrderStatus.REJECTED,
    "Rejected": OrderStatus.REJECTED,
    # Client Portal spellings
    "PRESUBMITTED": OrderStatus.ACCEPTED,
    "SUBMITTED": OrderStatus.NEW,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELED,
    "PENDINGCANCEL": OrderStatus.PENDING_CANCEL,
    "PENDINGSUBMIT": OrderStatus.PENDING_SUBMIT,
    "INACTIVE": OrderStatus.REJECTED,
}

BAR_SIZES: dict[BarInterval, tuple[str, str, int]] = {
    # interval: (TWS barSizeSetting, Client Portal bar, seconds)
    BarInterval.MIN_1: ("1 min", "1min", 60),
    BarInterval.MIN_5: ("5 mins", "5min", 300),
    BarInterval.MIN_15: ("15 mins", "15min", 900),
    BarInterval.MIN_30: ("30 mins", "30min", 1800),
    BarInterval.HOUR_1: ("1 hour", "1h", 3600),
    BarInterval.DAY: ("1 day", "1d", 86400),
    BarInterval.WEEK: ("1 week", "1w", 604800),
    BarInterval.MONTH: ("1 month", "1m", 2592000),
}

SNAPSHOT_FIELDS: dict[str, str] = {
    "31": "last",
    "55": "symbol",
    "70": "high",
    "71": "low",
    "82": "change",
    "83": "change_percent",
    "84": "bid",
    "85": "ask_size",
    "86": "ask",
    "87": "volume_text",
    "88": "bid_size",
    "7059": "last_size",
    "7295": "open",
    "7296": "close",
    "7741": "prior_close",
    "7762": "volume",
    "6509": "availability",
}
"""Client Portal market data field codes the connector asks for (IB's ``fields`` numbers)."""


def decimal_or_none(value: Any) -> Decimal | None:
    """A Decimal from an IB number or numeric text; None for unset (empty, NaN, IB's max double)."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value) or abs(value) >= 1.7e308:
            return None
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    text = str(value).strip().replace(",", "")
    # Client Portal prefixes some prices: "C189.5" (prior close), "H" (halted)
    if text[:1] in {"C", "H"}:
        text = text[1:]
    try:
        result = Decimal(text)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _side(action: str) -> OrderSide:
    action = action.upper()
    if action in {"BUY", "BOT", "B"}:
        return OrderSide.BUY
    if action in {"SSHORT", "SSHORTX"}:
        return OrderSide.SELL_SHORT
    if action in {"SELL", "SLD", "S"}:
        return OrderSide.SELL
    raise PayloadRejected(f"unknown IB side {action!r}", field="side")


def canonical_status(status: str, filled: Decimal | None = None) -> OrderStatus:
    """IB's order status (either transport's spelling) as canonical; a live order with fills is partial."""
    found = _STATUSES.get(status) or _STATUSES.get(status.upper().replace("_", ""))
    if found is None:
        raise PayloadRejected(f"unknown IB order status {status!r}", field="status")
    if found in {OrderStatus.NEW, OrderStatus.ACCEPTED} and filled:
        return OrderStatus.PARTIALLY_FILLED
    return found


def canonical_order_type(value: str) -> OrderType:
    """``MKT``/``LMT``/``STP``/``STP LMT`` (or Client Portal's ``MARKET``/``LIMIT``...) as canonical."""
    text = value.upper().strip()
    text = {
        "MARKET": "MKT",
        "LIMIT": "LMT",
        "STOP": "STP",
        "STOP_LIMIT": "STP LMT",
        "STOP LIMIT": "STP LMT",
    }.get(text, text)
    try:
        return _ORDER_TYPES_BACK[text]
    except KeyError:
        raise PayloadRejected(f"unsupported IB order type {value!r}", field="orderType") from None


def canonical_tif(value: str) -> TimeInForce:
    """IB time in force as canonical (unknown values read as DAY, IB's default)."""
    return _TIFS_BACK.get(value.upper().strip(), TimeInForce.DAY)


def ib_order_type(request: OrderRequest, system: str) -> str:
    """The IB order type for a request, or NotSupported naming the type."""
    try:
        return ORDER_TYPES[request.order_type]
    except KeyError:
        raise NotSupported(
            f"{system} (interactive_brokers) does not support {request.order_type.value} orders",
            capability="place_order",
            system=system,
        ) from None


def ib_tif(tif: TimeInForce, system: str) -> str:
    """The IB time in force, or NotSupported."""
    try:
        return TIFS[tif]
    except KeyError:
        raise NotSupported(
            f"{system} (interactive_brokers) does not support time in force {tif.value}",
            capability="place_order",
            system=system,
        ) from None


# -- TWS (ib_async objects) ------------------------------------------------------------------------


def order_from_trade(trade: Any, *, system: str, status: str | None = None) -> Order:
    """An ib_async ``Trade`` as a canonical order; ``order_id`` is IB's permanent id (``permId``)."""
    o, st, c = trade.order, trade.orderStatus, trade.contract
    filled = decimal_or_none(st.filled) or decimal_or_none(getattr(o, "filledQuantity", None)) or Decimal(0)
    raw_status = status or st.status or "PendingSubmit"
    avg = decimal_or_none(st.avgFillPrice)
    if not avg and trade.fills:
        total = sum((Decimal(repr(f.execution.shares)) for f in trade.fills), start=Decimal(0))
        if total:
            avg = (
                sum(
                    (
                        Decimal(repr(f.execution.shares)) * Decimal(repr(f.execution.price))
                        for f in trade.fills
                    ),
                    start=Decimal(0),
                )
                / total
            )
            filled = max(filled, total)
    times = [entry.time for entry in trade.log if getattr(entry, "time", None)]
    created = times[0] if times else None
    updated = times[-1] if times else None
    order_type = canonical_order_type(o.orderType)
    reject = None
    if raw_status in {"Cancelled", "Inactive"}:
        errors = [e for e in trade.log if getattr(e, "errorCode", 0) and e.errorCode != 202]
        if errors and not trade.fills:
            raw_status = "Inactive"
            reject = f"{errors[-1].errorCode}: {errors[-1].message}"
    return Order(
        order_id=str(o.permId) if o.permId else f"pending:{o.clientId}:{o.orderId}",
        client_order_id=o.orderRef or None,
        system=system,
        account_id=o.account or None,
        symbol=c.symbol,
        side=_side(o.action),
        order_type=order_type,
        time_in_force=canonical_tif(o.tif or "DAY"),
        status=canonical_status(raw_status, filled),
        quantity=decimal_or_none(o.totalQuantity),
        filled_quantity=filled,
        average_fill_price=avg if avg else None,
        limit_price=decimal_or_none(o.lmtPrice)
        if order_type in {OrderType.LIMIT, OrderType.STOP_LIMIT}
        else None,
        stop_price=decimal_or_none(o.auxPrice)
        if order_type in {OrderType.STOP, OrderType.STOP_LIMIT}
        else None,
        asset_class=AssetClass.ETF if c.secType == "ETF" else AssetClass.EQUITY,
        created_at=_aware(created),
        updated_at=_aware(updated),
        reject_reason=reject,
    )


def execution_from_fill(fill: Any, *, system: str) -> Execution:
    """An ib_async ``Fill`` (execution + commission report) as a canonical execution."""
    ex, report = fill.execution, fill.commissionReport
    commission = decimal_or_none(report.commission) if report and report.execId else None
    return Execution(
        execution_id=ex.execId,
        order_id=str(ex.permId),
        client_order_id=ex.orderRef or None,
        system=system,
        account_id=ex.acctNumber or None,
        symbol=fill.contract.symbol,
        side=_side(ex.side),
        quantity=Decimal(repr(ex.shares)),
        price=Decimal(repr(ex.price)),
        currency=(report.currency if report and report.currency else fill.contract.currency) or "USD",
        commission=commission,
        venue=ex.exchange or None,
        executed_at=_aware(ex.time) or datetime.now(UTC),
    )


def position_from_ib(position: Any, *, system: str, portfolio: Any | None = None) -> Position:
    """An ib_async ``Position`` (and the matching ``PortfolioItem`` when known) as canonical."""
    c = position.contract
    qty = Decimal(repr(position.position))
    avg = decimal_or_none(position.avgCost)
    price = decimal_or_none(portfolio.marketPrice) if portfolio is not None else None
    value = decimal_or_none(portfolio.marketValue) if portfolio is not None else None
    return Position(
        account_id=position.account or None,
        symbol=c.symbol,
        quantity=qty,
        asset_class=AssetClass.EQUITY,
        currency=c.currency or "USD",
        average_cost=avg,
        cost_basis=(avg * qty) if avg is not None else None,
        market_price=price,
        market_value=value,
        unrealized_pnl=decimal_or_none(portfolio.unrealizedPNL) if portfolio is not None else None,
        venue_instrument_id=str(c.conId) if c.conId else None,
        system=system,
    )


def account_from_values(
    account_id: str, values: dict[str, Decimal], *, system: str, currency: str = "USD"
) -> Account:
    """Account tags (``NetLiquidation``, ``TotalCashValue``...) as a canonical account."""
    return Account(
        account_id=account_id,
        system=system,
        currency=currency,
        cash=values.get("TotalCashValue", values.get("CashBalance", Decimal(0))),
        buying_power=values.get("BuyingPower"),
        equity=values.get("NetLiquidation"),
        portfolio_value=values.get("NetLiquidation"),
        long_market_value=values.get("GrossPositionValue"),
        initial_margin=values.get("InitMarginReq"),
        maintenance_margin=values.get("MaintMarginReq"),
        updated_at=datetime.now(UTC),
    )


def quote_from_ticker(ticker: Any) -> Quote:
    """An ib_async ``Ticker`` as a canonical quote (IB's -1 / NaN "no value" become None)."""

    def price(value: Any) -> Decimal | None:
        found = decimal_or_none(value)
        return found if found is not None and found > 0 else None

    def size(value: Any) -> Decimal | None:
        found = decimal_or_none(value)
        return found if found is not None and found >= 0 else None

    return Quote(
        symbol=ticker.contract.symbol,
        timestamp=_aware(ticker.time) or datetime.now(UTC),
        bid_price=price(ticker.bid),
        bid_size=size(ticker.bidSize),
        ask_price=price(ticker.ask),
        ask_size=size(ticker.askSize),
        last_price=price(ticker.last),
        volume=size(ticker.volume),
        previous_close=price(ticker.close),
        currency=ticker.contract.currency or None,
        source=SYSTEM,
    )


def bar_from_ib(bar: Any, *, symbol: str, interval: BarInterval) -> Bar:
    """An ib_async ``BarData`` as canonical (daily dates become midnight UTC)."""
    stamp = bar.date
    if isinstance(stamp, date) and not isinstance(stamp, datetime):
        stamp = datetime.combine(stamp, time(0), tzinfo=UTC)
    timestamp = _aware(stamp)
    if timestamp is None:
        raise PayloadRejected(f"IB bar of {symbol} has no date ({stamp!r})", system=SYSTEM, field="date")
    return Bar(
        symbol=symbol,
        timestamp=timestamp,
        interval=interval,
        open=Decimal(repr(bar.open)),
        high=Decimal(repr(bar.high)),
        low=Decimal(repr(bar.low)),
        close=Decimal(repr(bar.close)),
        volume=Decimal(repr(bar.volume)) if bar.volume >= 0 else Decimal(0),
        vwap=decimal_or_none(bar.average) if bar.average and bar.average > 0 else None,
        trade_count=bar.barCount if bar.barCount >= 0 else None,
        source=SYSTEM,
    )


def instrument_from_description(description: Any, *, system: str) -> Instrument:
    """An ib_async ``ContractDescription`` (reqMatchingSymbols) as a canonical instrument."""
    c = description.contract
    return Instrument(
        symbol=c.symbol,
        asset_class=AssetClass.EQUITY if c.secType == "STK" else AssetClass.OTHER,
        name=getattr(c, "description", "") or None,
        exchange=c.primaryExchange or None,
        currency=c.currency or None,
        venue_ids={system: str(c.conId)},
    )


def duration_for(interval: BarInterval, count: int) -> str:
    """An IB duration string covering ``count`` bars of ``interval``, padded for nights, weekends and
    holidays (the caller keeps the last ``count``)."""
    seconds = BAR_SIZES[interval][2]
    if interval is BarInterval.MONTH:
        return f"{math.ceil((count + 1) / 12)} Y"
    if interval is BarInterval.WEEK:
        days = (count + 1) * 7
    elif interval is BarInterval.DAY:
        days = math.ceil(count * 7 / 5) + 4
    else:
        # intraday: 6.5 session hours a day, five days a week
        days = math.ceil(math.ceil(count * seconds / 23400) * 7 / 5) + 2
    return f"{days} D" if days <= 365 else f"{math.ceil(days / 365)} Y"


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


# -- Client Portal (wire models) --------------------------------------------------------------------


def web_order_body(request: OrderRequest, *, conid: int, account: str, system: str) -> dict[str, Any]:
    """The Client Portal order ticket for ``request`` (``cOID`` carries the client order id)."""
    if request.quantity is None:
        raise NotSupported(
            f"{system} (interactive_brokers) does not take notional orders; give a quantity",
            capability="place_order",
            system=system,
        )
    body: dict[str, Any] = {
        "acctId": account,
        "conid": conid,
        "orderType": ib_order_type(request, system),
        "side": "SELL" if request.side in {OrderSide.SELL, OrderSide.SELL_SHORT} else "BUY",
        "quantity": float(request.quantity),
        "tif": ib_tif(request.time_in_force, system),
        "cOID": request.client_order_id,
        "outsideRTH": request.extended_hours,
    }
    if request.order_type in {OrderType.LIMIT, OrderType.STOP_LIMIT}:
        body["price"] = float(request.limit_price) if request.limit_price is not None else None
    if request.order_type is OrderType.STOP:
        body["price"] = float(request.stop_price) if request.stop_price is not None else None
    if request.order_type is OrderType.STOP_LIMIT:
        body["auxPrice"] = float(request.stop_price) if request.stop_price is not None else None
    return body


def order_from_web(item: wire.WebOrder, *, system: str) -> Order:
    """A Client Portal live-order or order-status item as a canonical order."""
    order_type = canonical_order_type(item.order_type)
    filled = decimal_or_none(item.filled_quantity) or Decimal(0)
    price = decimal_or_none(item.price)
    aux = decimal_or_none(item.aux_price)
    limit = price if order_type in {OrderType.LIMIT, OrderType.STOP_LIMIT} else None
    stop = price if order_type is OrderType.STOP else aux if order_type is OrderType.STOP_LIMIT else None
    total = decimal_or_none(item.total_size)
    if total is None:
        remaining = decimal_or_none(item.remaining_quantity) or Decimal(0)
        total = filled + remaining
    updated = _from_millis(item.last_execution_time_r)
    return Order(
        order_id=str(item.order_id),
        client_order_id=item.order_ref or None,
        system=system,
        account_id=item.acct or None,
        symbol=item.ticker or "",
        side=_side(item.side),
        order_type=order_type,
        time_in_force=canonical_tif(item.time_in_force or "DAY"),
        status=canonical_status(item.status, filled),
        quantity=total,
        filled_quantity=filled,
        average_fill_price=decimal_or_none(item.avg_price) or None,
        limit_price=limit,
        stop_price=stop,
        updated_at=updated,
        reject_reason=item.reject_reason or None,
    )


def execution_from_web(item: wire.WebTrade, *, system: str) -> Execution:
    """A Client Portal ``iserver/account/trades`` item as a canonical execution."""
    executed = _from_millis(item.trade_time_r) or datetime.now(UTC)
    return Execution(
        execution_id=item.execution_id,
        order_id=str(item.order_id) if item.order_id is not None else "",
        client_order_id=item.order_ref or None,
        system=system,
        account_id=item.account or None,
        symbol=item.symbol,
        side=_side(item.side),
        quantity=Decimal(str(item.size)),
        price=Decimal(str(item.price)),
        commission=decimal_or_none(item.commission),
        venue=item.exchange or None,
        executed_at=executed,
    )


def position_from_web(item: wire.WebPosition, *, system: str) -> Position:
    """A Client Portal portfolio position as canonical."""
    qty = Decimal(str(item.position))
    avg = decimal_or_none(item.avg_cost)
    return Position(
        account_id=item.acct_id or None,
        symbol=item.ticker or item.contract_desc,
        quantity=qty,
        asset_class=AssetClass.EQUITY if (item.asset_class or "STK") == "STK" else AssetClass.OTHER,
        currency=item.currency or "USD",
        average_cost=avg,
        cost_basis=avg * qty if avg is not None else None,
        market_price=decimal_or_none(item.mkt_price),
        market_value=decimal_or_none(item.mkt_value),
        unrealized_pnl=decimal_or_none(item.unrealized_pnl),
        venue_instrument_id=str(item.conid),
        system=system,
    )


def quote_from_snapshot(symbol: str, row: dict[str, Any], *, now: datetime) -> Quote:
    """One Client Portal snapshot row (field codes as keys) as a canonical quote."""
    updated = _from_millis(row.get("_updated")) or now
    return Quote(
        symbol=symbol,
        timestamp=updated,
        bid_price=decimal_or_none(row.get("84")),
        bid_size=decimal_or_none(row.get("88")),
        ask_price=decimal_or_none(row.get("86")),
        ask_size=decimal_or_none(row.get("85")),
        last_price=decimal_or_none(row.get("31")),
        volume=decimal_or_none(row.get("7762")),
        change=decimal_or_none(row.get("82")),
        change_percent=decimal_or_none(row.get("83")),
        previous_close=decimal_or_none(row.get("7741")),
        source=SYSTEM,
    )


def snapshot_from_web(symbol: str, row: dict[str, Any], *, now: datetime) -> Snapshot:
    """A Client Portal snapshot row as a canonical snapshot: quote, last trade and today's bar so far."""
    quote = quote_from_snapshot(symbol, row, now=now)
    trade = None
    if quote.last_price is not None:
        trade = Trade(
            symbol=symbol,
            timestamp=quote.timestamp,
            price=quote.last_price,
            size=decimal_or_none(row.get("7059")) or Decimal(0),
            source=SYSTEM,
        )
    daily = None
    open_, high, low = (decimal_or_none(row.get(k)) for k in ("7295", "70", "71"))
    if None not in (open_, high, low) and quote.last_price is not None:
        assert open_ is not None and high is not None and low is not None
        daily = Bar(
            symbol=symbol,
            timestamp=quote.timestamp.replace(hour=0, minute=0, second=0, microsecond=0),
            open=open_,
            high=max(high, open_, quote.last_price),
            low=min(low, open_, quote.last_price),
            close=quote.last_price,
            volume=quote.volume or Decimal(0),
            source=SYSTEM,
        )
    return Snapshot(symbol=symbol, latest_quote=quote, latest_trade=trade, daily_bar=daily)


def bar_from_web(symbol: str, item: wire.WebBar, *, interval: BarInterval) -> Bar:
    """A Client Portal history bar (``t`` in epoch milliseconds) as canonical."""
    return Bar(
        symbol=symbol,
        timestamp=datetime.fromtimestamp(item.t / 1000, UTC),
        interval=interval,
        open=Decimal(str(item.o)),
        high=Decimal(str(item.h)),
        low=Decimal(str(item.l)),
        close=Decimal(str(item.c)),
        volume=Decimal(str(item.v)),
        source=SYSTEM,
    )


def instrument_from_search(item: wire.WebSecdef, *, system: str) -> Instrument:
    """A Client Portal ``secdef/search`` hit as a canonical instrument."""
    sec_types = {s.sec_type for s in item.sections}
    return Instrument(
        symbol=item.symbol,
        asset_class=AssetClass.EQUITY if "STK" in sec_types or not sec_types else AssetClass.OTHER,
        name=item.company_name or None,
        exchange=(item.description or None),
        venue_ids={system: str(item.conid)},
    )


def order_event_from_web(message: wire.WebOrderMessage, *, system: str, now: datetime) -> list[OrderEvent]:
    """The orders in one ``sor`` WebSocket message as canonical events."""
    events: list[OrderEvent] = []
    for item in message.args:
        order = order_from_web(item, system=system)
        events.append(
            OrderEvent(
                event=_event_name(order.status),
                order=order,
                timestamp=order.updated_at or now,
                system=system,
                source="stream",
            )
        )
    return events


def _event_name(status: OrderStatus) -> str:
    return {
        OrderStatus.ACCEPTED: "accepted",
        OrderStatus.NEW: "new",
        OrderStatus.PARTIALLY_FILLED: "partial_fill",
        OrderStatus.FILLED: "fill",
        OrderStatus.CANCELED: "canceled",
        OrderStatus.REJECTED: "rejected",
        OrderStatus.PENDING_CANCEL: "pending_cancel",
        OrderStatus.EXPIRED: "expired",
    }.get(status, "status")


def event_name(status: OrderStatus) -> str:
    """The canonical order event name for reaching ``status``."""
    return _event_name(status)


def _from_millis(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError):
        return None


# -- news and fundamentals (TWS) ------------------------------------------------------------------

_HEADLINE_META = re.compile(r"^\{(?P<meta>[^{}]*)\}")


def _headline_meta(headline: str) -> tuple[str, dict[str, str]]:
    """IB's headline ``{A:800015:L:en:K:-0.97:C:0.93}Text``: the text and the ``key: value`` pairs
    (``K`` the sentiment score, ``C`` its confidence, ``L`` the language)."""
    found = _HEADLINE_META.match(headline)
    if found is None:
        return headline.strip(), {}
    parts = found.group("meta").split(":")
    meta = {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}
    return headline[found.end() :].strip(), meta


def news_from_ib(item: Any, *, symbol: str, providers: dict[str, str], system: str) -> NewsItem:
    """A ``HistoricalNews`` (time, providerCode, articleId, headline) as a news item.

    TWS gives no URL, so the item's identity is IB's article id; the publisher is the provider's name
    (``providers``: code -> name); the sentiment is the headline's ``K`` score when it has one. TWS
    sends the time without a zone, in UTC.
    """
    text, meta = _headline_meta(str(item.headline or ""))
    if not text:
        raise PayloadRejected(f"IB news {item.articleId!r} has no headline", system=system)
    stamp = item.time
    if not isinstance(stamp, datetime):
        raise PayloadRejected(f"IB news {item.articleId!r} has no time ({stamp!r})", system=system)
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    sentiment = decimal_or_none(meta.get("K"))
    if sentiment is not None and not Decimal(-1) <= sentiment <= Decimal(1):
        sentiment = None
    code = str(item.providerCode)
    return NewsItem(
        id=str(item.articleId),
        published_at=stamp,
        headline=text,
        source=providers.get(code, code),
        provider=system,
        symbols=(symbol.upper(),),
        sentiment=sentiment,
    )


def fundamentals_from_snapshot(xml: str, *, symbol: str, system: str) -> Fundamentals:
    """A ``ReportSnapshot`` (reqFundamentalData) as fundamentals: name, exchange, industry and sector,
    shares out, and the ratios (``MKTCAP`` is in millions, ``YIELD`` in percent)."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(xml)
    except (ParseError, DefusedXmlException) as exc:
        raise PayloadRejected(
            f"IB's ReportSnapshot for {symbol} is not readable XML: {exc}", system=system
        ) from None
    if root.tag != "ReportSnapshot":
        raise PayloadRejected(f"IB answered {root.tag!r} for {symbol}, not a ReportSnapshot", system=system)

    def text(path: str) -> str | None:
        node = root.find(path)
        value = (node.text or "").strip() if node is not None else ""
        return value or None

    ratios = {
        r.get("FieldName", ""): decimal_or_none((r.text or "").strip())
        for r in root.iterfind("./Ratios/Group/Ratio")
    }
    exchange = root.find("./Issues/Issue/Exchange")
    currency = root.find("./CoGeneralInfo/ReportingCurrency")
    cap = ratios.get("MKTCAP")
    dividend_yield = ratios.get("YIELD")
    latest = text("./CoGeneralInfo/LatestAvailableInterim")
    try:
        quarter = date.fromisoformat(latest) if latest else None
    except ValueError:
        quarter = None
    return Fundamentals(
        symbol=symbol.upper(),
        name=text("./CoIDs/CoID[@Type='CompanyName']"),
        description=text("./TextInfo/Text[@Type='Business Summary']"),
        exchange=(exchange.text or "").strip() or None if exchange is not None else None,
        currency=currency.get("Code") if currency is not None else None,
        sector=text("./peerInfo/IndustryInfo/Industry[@type='SECTOR']"),
        industry=text("./peerInfo/IndustryInfo/Industry[@type='TRBC']"),
        market_capitalization=cap * 1_000_000 if cap is not None else None,
        pe_ratio=ratios.get("PEEXCLXOR"),
        eps=ratios.get("TTMEPSXCLX"),
        dividend_yield=dividend_yield / 100 if dividend_yield is not None else None,
        beta=ratios.get("BETA"),
        shares_outstanding=decimal_or_none(text("./CoGeneralInfo/SharesOut")),
        latest_quarter=quarter,
        source=system,
    )
