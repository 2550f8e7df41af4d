"""The Accounts API: list, balance, portfolio (paged by ``pageNumber``) and transactions (paged by
``marker``), in E*TRADE's envelopes."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks.etrade._guard import Call, api
from portico.mocks.etrade._wire import BadRequest, render

if TYPE_CHECKING:
    from portico.mocks.etrade._app import EtradeMockApp

__all__ = ["account_routes", "epoch_ms", "resolve_account"]


def epoch_ms(when: datetime | None) -> int | None:
    """E*TRADE's timestamps: milliseconds since the epoch."""
    return None if when is None else int(when.timestamp() * 1000)


def resolve_account(app: EtradeMockApp, key: str) -> str:
    """The venue account id of ``accountIdKey``; E*TRADE's error 100 for a key not the user's."""
    account_id = app.accounts_by_key.get(key.removesuffix(".json"))
    if account_id is None:
        raise BadRequest(100, "Account key does not belong to user")
    return account_id


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(101, f"{name} must be a number") from None
    if not low <= value <= high:
        raise BadRequest(101, f"{name} must be between {low} and {high}")
    return value


async def list_accounts(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    accounts = []
    for account_id, key in app.account_keys.items():
        account = app.venue.account(account_id)
        accounts.append(
            {
                "accountId": app.account_numbers[account_id],
                "accountIdKey": key,
                "accountMode": "MARGIN" if account.multiplier > 1 else "CASH",
                "accountDesc": "Brokerage",
                "accountName": "",
                "accountType": "INDIVIDUAL",
                "institutionType": "BROKERAGE",
                "accountStatus": "ACTIVE",
                "closedDate": 0,
            }
        )
    return render({"AccountListResponse": {"Accounts": {"Account": accounts}}}, call.as_json)


async def balance(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    if request.query_params.get("instType", "BROKERAGE") != "BROKERAGE":
        raise BadRequest(101, "instType must be BROKERAGE")
    account = app.venue.account(account_id)
    b = app.venue.balances(account_id)
    computed = {
        "cashAvailableForInvestment": b["cash"],
        "cashAvailableForWithdrawal": b["cash"],
        "totalAvailableForWithdrawal": b["cash"],
        "netCash": b["cash"],
        "cashBalance": b["cash"],
        "settledCashForInvestment": b["cash"],
        "unSettledCashForInvestment": Decimal(0),
        "fundsWithheldFromPurchasePower": Decimal(0),
        "fundsWithheldFromWithdrawal": Decimal(0),
        "marginBuyingPower": b["buying_power"],
        "cashBuyingPower": min(b["cash"], b["buying_power"]),
        "dtMarginBuyingPower": b["daytrading_buying_power"],
        "dtCashBuyingPower": b["cash"],
        "shortAdjustBalance": b["short_market_value"],
        "regtEquity": b["equity"],
        "regtEquityPercent": Decimal(100),
        "accountBalance": b["cash"],
        "RealTimeValues": {
            "totalAccountValue": b["equity"],
            "netMv": b["long_market_value"] + b["short_market_value"],
            "netMvLong": b["long_market_value"],
            "netMvShort": b["short_market_value"],
        },
    }
    data = {
        "BalanceResponse": {
            "accountId": app.account_numbers[account_id],
            "accountType": "INDIVIDUAL",
            "optionLevel": "LEVEL_2",
            "accountDescription": "Brokerage",
            "quoteMode": 6,
            "dayTraderStatus": "PDT_MIN_EQUITY_RES_1XK" if account.pattern_day_trader else "NO_PDT",
            "accountMode": "MARGIN" if account.multiplier > 1 else "CASH",
            "Cash": {"fundsForOpenOrdersCash": Decimal(0), "moneyMktBalance": Decimal(0)},
            "Computed": computed,
            "Margin": {
                "dtCashOpenOrderReserve": Decimal(0),
                "dtMarginOpenOrderReserve": Decimal(0),
                "marginBalance": Decimal(0),
            },
        }
    }
    return render(data, call.as_json)


async def portfolio(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    count = _int(request, "count", 50, 1, 50)
    page = _int(request, "pageNumber", 1, 1, 10_000)
    held = app.venue.list_positions(account_id)
    if not held:
        # E*TRADE answers an empty portfolio with no content
        return Response(status_code=204)
    total_pages = (len(held) + count - 1) // count
    chunk = held[(page - 1) * count : page * count]
    now = app.clock.now()
    positions: list[dict[str, Any]] = []
    for pos in chunk:
        price = app.venue.price(pos.symbol)
        prev = app.venue.lastday_price(pos.symbol)
        value = pos.qty * price
        cost = pos.qty * pos.avg_entry_price
        positions.append(
            {
                "positionId": numeric_id(pos.asset_id),
                "symbolDescription": pos.symbol,
                "dateAcquired": epoch_ms(now),
                "pricePaid": pos.avg_entry_price,
                "commissions": Decimal(0),
                "otherFees": Decimal(0),
                "quantity": abs(pos.qty),
                "positionIndicator": "TYPE2",
                "positionType": "LONG" if pos.qty > 0 else "SHORT",
                "daysGain": (price - prev) * pos.qty,
                "daysGainPct": ((price - prev) / prev * 100).quantize(Decimal("0.0001"))
                if prev
                else Decimal(0),
                "marketValue": value,
                "totalCost": cost,
                "totalGain": value - cost,
                "totalGainPct": ((value - cost) / cost * 100).quantize(Decimal("0.0001"))
                if cost
                else Decimal(0),
                "costPerShare": pos.avg_entry_price,
                "todayCommissions": Decimal(0),
                "todayFees": Decimal(0),
                "todayPricePaid": Decimal(0),
                "todayQuantity": Decimal(0),
                "adjPrevClose": prev,
                "Product": {"symbol": pos.symbol, "securityType": "EQ"},
                "Quick": {
                    "change": price - prev,
                    "changePct": ((price - prev) / prev * 100).quantize(Decimal("0.0001"))
                    if prev
                    else Decimal(0),
                    "lastTrade": price,
                    "lastTradeTime": int(now.timestamp()),
                    "quoteStatus": "REALTIME",
                    "volume": 0,
                },
            }
        )
    body: dict[str, Any] = {
        "accountId": app.account_numbers[account_id],
        "Position": positions,
        "totalPages": total_pages,
    }
    return render({"PortfolioResponse": {"AccountPortfolio": [body]}}, call.as_json)


async def transactions(request: Request, call: Call) -> Response:
    app: EtradeMockApp = request.app
    account_id = resolve_account(app, request.path_params["key"])
    count = _int(request, "count", 50, 1, 50)
    marker = _int(request, "marker", 0, 0, 10**9)
    events: list[Any] = [f for f in app.venue.list_fills(account_id=account_id)]
    if app.venue.holder_events is not None:
        events.extend(app.venue.holder_events.list(account_id=account_id, types={"DIV"}))
    events.sort(key=lambda f: f.timestamp, reverse=request.query_params.get("sortOrder", "DESC") != "ASC")
    fills = events
    chunk = fills[marker : marker + count]
    if not chunk:
        return Response(status_code=204)
    items = []
    for index, fill in enumerate(chunk, start=marker):
        if not hasattr(fill, "side"):
            items.append(_dividend(app, request, account_id, fill, index))
            continue
        amount = fill.qty * fill.price
        items.append(
            {
                "transactionId": numeric_id(fill.id),
                "accountId": app.account_numbers[account_id],
                "transactionDate": epoch_ms(fill.timestamp),
                "postDate": epoch_ms(fill.timestamp),
                "amount": -amount if fill.side == "buy" else amount,
                "description": f"{'Bought' if fill.side == 'buy' else 'Sold'} {fill.qty} {fill.symbol} @ {fill.price}",
                "transactionType": "Bought" if fill.side == "buy" else "Sold",
                "memo": "",
                "imageFlag": False,
                "instType": "BROKERAGE",
                "Brokerage": {
                    "Product": {"symbol": fill.symbol, "securityType": "EQ"},
                    "quantity": fill.qty if fill.side == "buy" else -fill.qty,
                    "price": fill.price,
                    "settlementCurrency": "USD",
                    "paymentCurrency": "USD",
                    "fee": Decimal(0),
                    "displaySymbol": fill.symbol,
                    "settlementDate": epoch_ms(fill.timestamp),
                },
                "detailsURI": f"{request.base_url}v1/accounts/{request.path_params['key']}/transactions/{index}",
            }
        )
    more = marker + count < len(fills)
    body: dict[str, Any] = {
        "Transaction": items,
        "moreTransactions": more,
        "transactionCount": len(items),
        "totalCount": len(fills),
    }
    if more:
        body["marker"] = str(marker + count)
        body["next"] = f"{request.url.remove_query_params('marker')}&marker={marker + count}".replace(
            "?&", "?"
        )
    return render({"TransactionListResponse": body}, call.as_json)


def _dividend(app: Any, request: Request, account_id: str, paid: Any, index: int) -> dict[str, Any]:
    """A cash dividend paid on a held position, as a ``Dividend`` transaction."""
    return {
        "transactionId": numeric_id(paid.id),
        "accountId": app.account_numbers[account_id],
        "transactionDate": epoch_ms(paid.timestamp),
        "postDate": epoch_ms(paid.timestamp),
        "amount": paid.net_amount,
        "description": f"ORDINARY DIVIDEND~{paid.symbol}",
        "transactionType": "Dividend",
        "memo": "",
        "imageFlag": False,
        "instType": "BROKERAGE",
        "Brokerage": {
            "Product": {"symbol": paid.symbol, "securityType": "EQ"},
            "quantity": paid.qty,
            "price": paid.per_share_amount,
            "settlementCurrency": "USD",
            "paymentCurrency": "USD",
            "fee": Decimal(0),
            "displaySymbol": paid.symbol,
            "settlementDate": epoch_ms(paid.timestamp),
        },
        "detailsURI": f"{request.base_url}v1/accounts/{request.path_params['key']}/transactions/{index}",
    }


def numeric_id(value: str) -> int:
    """A stable numeric id for a venue id (E*TRADE's ids are numbers)."""
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:6], "big")


def account_routes() -> list[Route]:
    """The Accounts API routes, each with and without ``.json``."""
    routes: list[Route] = []
    for path, handler in (
        ("/v1/accounts/list", list_accounts),
        ("/v1/accounts/{key}/balance", balance),
        ("/v1/accounts/{key}/portfolio", portfolio),
        ("/v1/accounts/{key}/transactions", transactions),
    ):
        guarded = api(handler)
        routes.append(Route(path, guarded, methods=["GET"]))
        routes.append(Route(path + ".json", guarded, methods=["GET"]))
    return routes
