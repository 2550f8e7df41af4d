"""The TWS socket protocol for one pinned server version: framing, and every message the mock sends.

Framing, both ways: a 4-byte big-endian length, then the payload; the payload is fields, each ended by
``\\0``. The client opens with ``API\\0`` and one framed ``v<min>..<max>[ options]`` string.

Each ``encode_*`` function below mirrors, field for field, how the TWS API decoder (ib_async's
``decoder.py``) reads that message at :data:`SERVER_VERSION`. Unset numbers go as empty fields, which
the client reads as "unset".
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from portico.mocks.interactive_brokers._venue import Listing, Quote, VenueBar, VenueFill, VenueOrder

__all__ = [
    "MAX_CLIENT_VERSION",
    "MIN_CLIENT_VERSION",
    "SERVER_VERSION",
    "ContractFields",
    "Field",
    "encode_completed_order",
    "encode_contract_details",
    "encode_error",
    "encode_exec_details",
    "encode_open_order",
    "encode_order_status",
    "encode_position",
    "format_time",
    "frame",
    "parse_contract",
    "parse_handshake",
]

SERVER_VERSION = 178
"""The server version the mock speaks (TWS 10.30+): no ``faProfile`` in orders (>= 177), ``pendingPriceRevision``
in executions (>= 178), ``advancedOrderRejectJson`` in errors (>= 166), no version in contract details (>= 164)."""
MIN_CLIENT_VERSION = 157
MAX_CLIENT_VERSION = 178

Field = str | int | float | Decimal | bool | None


def _text(value: Field) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return str(value)


def frame(fields: Iterable[Field]) -> bytes:
    """One framed message: the length prefix, then each field followed by a NUL."""
    payload = "".join(_text(f) + "\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def parse_handshake(text: str) -> tuple[int, int, str]:
    """``"v157..178 +PACEAPI"`` -> (157, 178, "+PACEAPI"). Raises ValueError on anything else."""
    if not text.startswith("v"):
        raise ValueError(f"bad API handshake {text!r}")
    versions, _, options = text[1:].partition(" ")
    low, sep, high = versions.partition("..")
    if not sep:
        return int(low), int(low), options
    return int(low), int(high), options


def format_time(at: datetime) -> str:
    """IB's date-time text, ``20250622 12:00:00 UTC``."""
    return at.astimezone(UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"


@dataclass(frozen=True)
class ContractFields:
    """The 12 contract fields a client sends (conId ... tradingClass)."""

    con_id: int
    symbol: str
    sec_type: str
    last_trade: str
    strike: str
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str


def parse_contract(fields: Sequence[str], start: int) -> ContractFields:
    """Read the 12 contract fields at ``fields[start:]`` as ib_async's ``send`` writes a Contract."""
    f = fields[start : start + 12]
    if len(f) < 12:
        raise ValueError("truncated contract")
    return ContractFields(
        con_id=int(f[0] or 0),
        symbol=f[1],
        sec_type=f[2],
        last_trade=f[3],
        strike=f[4],
        right=f[5],
        multiplier=f[6],
        exchange=f[7],
        primary_exchange=f[8],
        currency=f[9],
        local_symbol=f[10],
        trading_class=f[11],
    )


def _contract11(listing: Listing, exchange: str = "SMART") -> list[Field]:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency, localSymbol,
    tradingClass: the contract as openOrder, position and execDetails carry it."""
    return [
        listing.conid,
        listing.symbol,
        listing.sec_type,
        "",
        0,
        "",
        "",
        exchange,
        listing.currency,
        listing.symbol,
        "NMS" if listing.exchange == "NASDAQ" else listing.symbol,
    ]


def encode_error(req_id: int, code: int, text: str, advanced_json: str = "") -> list[Field]:
    """errorMsg (4): version 2, reqId, code, text, advancedOrderRejectJson."""
    return [4, 2, req_id, code, text, advanced_json]


def encode_order_status(order: VenueOrder) -> list[Field]:
    """orderStatus (3), no version: orderId, status, filled, remaining, avgFillPrice, permId, parentId,
    lastFillPrice, clientId, whyHeld, mktCapPrice."""
    return [
        3,
        order.order_id,
        order.status,
        order.filled,
        order.remaining if order.is_open else Decimal(0),
        order.avg_price,
        order.perm_id,
        0,
        order.last_fill_price,
        order.client_id,
        "",
        0,
    ]


def _order_prefix(order: VenueOrder) -> list[Field]:
    return [
        order.action,
        order.quantity,
        order.order_type,
        order.limit_price if order.limit_price is not None else "",
        order.stop_price if order.stop_price is not None else "",
        order.tif,
        "",  # ocaGroup
        order.account,
        "O",  # openClose
        0,  # origin: customer
        order.order_ref,
    ]


def encode_open_order(order: VenueOrder) -> list[Field]:
    """openOrder (5) at server version 178, field for field as ``Decoder.openOrder`` reads it."""
    fields: list[Field] = [5, order.order_id, *_contract11(order.listing), *_order_prefix(order)]
    fields += [
        order.client_id,
        order.perm_id,
        order.outside_rth,
        False,  # hidden
        0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # sharesAllocation (deprecated)
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        # no faProfile at >= 177
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        False,  # blockOrder
        False,  # sweepToFill
        False,  # allOrNone
        "",  # minQty
        3,  # ocaType
        False,  # eTradeOnly
        False,  # firmQuoteOnly
        "",  # nbboPriceCap
        0,  # parentId
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType (empty: no delta-neutral block follows)
        "",  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # basisPoints
        "",  # basisPointsType
        "",  # comboLegsDescrip
        0,  # comboLegs count
        0,  # orderComboLegs count
        0,  # smartComboRoutingParams count
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement (empty: no scale block follows)
        "",  # hedgeType (empty: no hedgeParam)
        False,  # optOutSmartRouting
        "",  # clearingAccount
        "IB",  # clearingIntent
        False,  # notHeld
        0,  # deltaNeutralContract present
        "",  # algoStrategy (empty: no algo params)
        False,  # solicited
        False,  # whatIf
        order.status,  # orderState.status
        "",
        "",
        "",  # initMarginBefore, maintMarginBefore, equityWithLoanBefore
        "",
        "",
        "",  # initMarginChange, maintMarginChange, equityWithLoanChange
        "",
        "",
        "",  # initMarginAfter, maintMarginAfter, equityWithLoanAfter
        "",
        "",
        "",  # commission, minCommission, maxCommission
        "",  # commissionCurrency
        "",  # warningText
        False,  # randomizeSize
        False,  # randomizePrice
        0,  # conditions count
        "",  # adjustedOrderType
        "",  # triggerPrice
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # adjustedStopPrice
        "",  # adjustedStopLimitPrice
        "",  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",
        "",
        "",  # softDollarTier name, value, displayName
        "",  # cashQty
        False,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        False,  # discretionaryUpToLimitPrice
        False,  # usePriceMgmtAlgo
        "",  # duration (>= 159)
        "",  # postToAts (>= 160)
        False,  # autoCancelParent (>= 162)
        "",
        "",
        "",
        "",
        "",  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole, midOffsetAtHalf (>= 170)
    ]
    return fields


def encode_completed_order(order: VenueOrder) -> list[Field]:
    """completedOrder (101) at server version 178, as ``Decoder.completedOrder`` reads it (no order id)."""
    fields: list[Field] = [101, *_contract11(order.listing), *_order_prefix(order)]
    fields += [
        order.perm_id,
        order.outside_rth,
        False,  # hidden
        0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        False,  # sweepToFill
        False,  # allOrNone
        "",  # minQty
        3,  # ocaType
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType
        "",  # deltaNeutralAuxPrice
        0,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # comboLegsDescrip
        0,  # comboLegs count
        0,  # orderComboLegs count
        0,  # smartComboRoutingParams count
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement
        "",  # hedgeType
        "",  # clearingAccount
        "IB",  # clearingIntent
        False,  # notHeld
        0,  # deltaNeutralContract present
        "",  # algoStrategy
        False,  # solicited
        order.status,  # orderState.status
        False,  # randomizeSize
        False,  # randomizePrice
        0,  # conditions count
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # cashQty
        False,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        "",  # autoCancelDate
        order.filled,  # filledQuantity
        0,  # refFuturesConId
        False,  # autoCancelParent
        "",  # shareholder
        False,  # imbalanceOnly
        False,  # routeMarketableToBbo
        0,  # parentPermId
        format_time(order.updated or order.created),  # completedTime
        order.completed_status or order.status,  # completedStatus
        "",
        "",
        "",
        "",
        "",  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole, midOffsetAtHalf
    ]
    return fields


def encode_exec_details(req_id: int, order: VenueOrder, fill: VenueFill) -> list[Field]:
    """execDetails (11), no version: reqId, orderId, contract, execution fields, pendingPriceRevision (>= 178)."""
    return [
        11,
        req_id,
        order.order_id,
        *_contract11(order.listing, exchange=order.listing.exchange),
        fill.exec_id,
        format_time(fill.time),
        order.account,
        order.listing.exchange,
        "BOT" if order.action == "BUY" else "SLD",
        fill.quantity,
        fill.price,
        order.perm_id,
        order.client_id,
        0,  # liquidation
        fill.cum_qty,
        fill.avg_price,
        order.order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        2,  # lastLiquidity: removed liquidity
        False,  # pendingPriceRevision
    ]


def encode_commission_report(fill: VenueFill, currency: str, realized: Decimal | None) -> list[Field]:
    """commissionReport (59): version 1, execId, commission, currency, realizedPNL, yield, yieldRedemptionDate."""
    return [59, 1, fill.exec_id, fill.commission, currency, realized if realized is not None else "", "", ""]


def encode_position(account: str, listing: Listing, quantity: Decimal, average_cost: Decimal) -> list[Field]:
    """position (61): version 3, account, contract (11 fields), position, avgCost."""
    return [61, 3, account, *_contract11(listing, exchange=listing.exchange), quantity, average_cost]


def encode_portfolio(
    account: str, listing: Listing, quantity: Decimal, average_cost: Decimal, quote: Quote
) -> list[Field]:
    """updatePortfolio (7): version 8, contract (conId ... tradingClass with primaryExchange), figures, account."""
    market_value = quantity * quote.last
    return [
        7,
        8,
        listing.conid,
        listing.symbol,
        listing.sec_type,
        "",
        0,
        "",
        "",
        listing.exchange,
        listing.currency,
        listing.symbol,
        "NMS" if listing.exchange == "NASDAQ" else listing.symbol,
        quantity,
        quote.last,
        market_value,
        average_cost,
        market_value - quantity * average_cost,
        0,
        account,
    ]


def encode_contract_details(req_id: int, listing: Listing) -> list[Field]:
    """contractDetails (10) at server version >= 164 (no version field)."""
    return [
        10,
        req_id,
        listing.symbol,
        listing.sec_type,
        "",  # lastTradeDateOrContractMonth
        0,  # strike
        "",  # right
        "SMART",
        listing.currency,
        listing.symbol,  # localSymbol
        "NMS" if listing.exchange == "NASDAQ" else listing.symbol,  # marketName
        "NMS" if listing.exchange == "NASDAQ" else listing.symbol,  # tradingClass
        listing.conid,
        listing.min_tick,
        "",  # multiplier
        "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,COND,DAY,DEACT,GAT,GTC,GTD,IOC,LIT,LMT,MIT,MKT,STP,STPLMT,TRAIL",
        f"SMART,{listing.exchange},ARCA,BATS,IEX",
        1,  # priceMagnifier
        0,  # underConId
        listing.name,
        listing.exchange,  # primaryExchange
        "",  # contractMonth
        "Technology",
        "Computers",
        "Computer Services",
        "US/Eastern",
        "20250101:0400-20250101:2000",
        "20250101:0930-20250101:1600",
        "",  # evRule
        "",  # evMultiplier
        1,  # secIdList count
        "ISIN",
        f"US{listing.conid:09d}0",
        1,  # aggGroup
        "",  # underSymbol
        "",  # underSecType
        "26,26,26,26,26",  # marketRuleIds
        "",  # realExpirationDate
        "COMMON",  # stockType
        "0.0001",  # minSize
        "0.0001",  # sizeIncrement
        "100",  # suggestedSizeIncrement
    ]


def encode_bars(
    req_id: int, bars: Sequence[VenueBar], start: str, end: str, *, date_format: int, daily: bool
) -> list[Field]:
    """historicalData (17), no version: reqId, start, end, count, then 8 fields per bar."""
    fields: list[Field] = [17, req_id, start, end, len(bars)]
    for bar in bars:
        if date_format == 2:
            when: str = str(int(bar.start.timestamp()))
        elif daily:
            when = bar.start.strftime("%Y%m%d")
        else:
            when = format_time(bar.start)
        fields += [when, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.wap, bar.count]
    return fields
