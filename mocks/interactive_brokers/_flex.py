"""IB's Flex Web Service (version 3), serving an Activity Flex statement of the simulated account.

* ``GET /AccountManagement/FlexWebService/SendRequest?t=<token>&q=<query id>&v=3`` ->
  ``<FlexStatementResponse><Status>Success</Status><ReferenceCode>..</ReferenceCode><Url>..GetStatement</Url>``,
  or ``<Status>Fail</Status>`` with IB's ``ErrorCode``/``ErrorMessage`` (1015 token invalid, 1014 query
  invalid, 1020 invalid request).
* ``GET /AccountManagement/FlexWebService/GetStatement?q=<reference code>&t=<token>&v=3`` -> the
  ``<FlexQueryResponse>`` statement: ``CashTransactions`` (the account's funding deposit and the
  dividends the venue paid, ``type="Deposits/Withdrawals"`` / ``"Dividends"``) and ``CorporateActions``
  (the splits applied to its positions, ``type="FS"`` forward / ``"RS"`` reverse, described ``SPLIT 4 FOR
  1``). With ``flex_pending=N`` the first N fetches of a reference answer IB's 1019 "Statement generation
  in progress" warning instead.

The events are the kit venue's (its :class:`~portico.mocks._kit._holder_events.CorporateActionDesk`), so
the statement agrees with the positions and cash the Client Portal and TWS report, and with the splits
and dividends the market data mocks serve on the same seed.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from portico.mocks.interactive_brokers._app import IbMockApp

__all__ = ["flex_routes", "statement_xml"]

PATH = "/AccountManagement/FlexWebService"


def _xml(body: str, status: int = 200) -> Response:
    return Response(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + body, status_code=status, media_type="text/xml"
    )


def _fail(code: int, message: str, *, status: str = "Fail") -> Response:
    now = datetime.now(UTC).strftime("%d %B, %Y %I:%M %p UTC")
    return _xml(
        f'<FlexStatementResponse timestamp="{now}"><Status>{status}</Status><ErrorCode>{code}</ErrorCode>'
        f"<ErrorMessage>{message}</ErrorMessage></FlexStatementResponse>"
    )


def _attrs(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={quoteattr('' if v is None else str(v))}" for k, v in values.items())


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f") if value != 0 else "0"


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d;%H%M%S")


def statement_xml(app: IbMockApp, account: str | None = None) -> str:
    """The Activity statement of ``account`` (the default account) from the mock's start to now."""
    venue = app.venue
    kit = venue.venue
    now = venue.now()
    if kit.holder_events is not None:
        kit.holder_events.settle(now)
    ib_account = account or venue.accounts[0]
    kit_account = venue._kit_account(ib_account)
    started = app.started_at
    cash: list[str] = [
        "<CashTransaction "
        + _attrs({
            "accountId": ib_account, "currency": "USD", "assetCategory": "CASH", "symbol": "", "conid": "",
            "description": "CASH RECEIPTS / ELECTRONIC FUND TRANSFERS", "dateTime": _stamp(started),
            "settleDate": f"{started:%Y%m%d}", "reportDate": f"{started:%Y%m%d}", "amount": _money(app.funding),
            "type": "Deposits/Withdrawals", "transactionID": f"{app.seed % 10_000:04d}000001", "levelOfDetail": "DETAIL",
        })
        + "/>"
    ]  # fmt: skip
    actions: list[str] = []
    events = kit.holder_events.list(account_id=kit_account) if kit.holder_events is not None else []
    numbers = itertools.count(2)
    for event in events:
        listing = venue.listing(symbol=event.symbol)
        common = {"accountId": ib_account, "currency": listing.currency, "assetCategory": "STK",
                  "symbol": listing.symbol, "conid": listing.conid}  # fmt: skip
        number = f"{app.seed % 10_000:04d}{next(numbers):06d}"
        if event.activity_type == "DIV":
            assert event.per_share_amount is not None
            cash.append(
                "<CashTransaction "
                + _attrs({
                    **common,
                    "description": f"{listing.symbol}(US{listing.conid:09d}) CASH DIVIDEND USD "
                                   f"{_money(event.per_share_amount)} PER SHARE (Ordinary Dividend)",
                    "dateTime": _stamp(event.timestamp), "settleDate": f"{event.date:%Y%m%d}",
                    "reportDate": f"{event.date:%Y%m%d}", "amount": _money(event.net_amount), "type": "Dividends",
                    "transactionID": number, "levelOfDetail": "DETAIL",
                })
                + "/>"
            )  # fmt: skip
        elif event.activity_type == "SPLIT" and event.qty != 0:
            split = next(
                a
                for a in kit.data.corporate_actions(event.symbol, event.date, event.date)
                if a.kind == "split"
            )
            forward = (split.ratio_to or 0) > (split.ratio_from or 0)
            actions.append(
                "<CorporateAction "
                + _attrs({
                    **common,
                    "description": f"{listing.symbol}(US{listing.conid:09d}) SPLIT {split.ratio_to} FOR "
                                   f"{split.ratio_from} ({listing.symbol}, {listing.name}, US{listing.conid:09d})",
                    "dateTime": _stamp(event.timestamp), "reportDate": f"{event.date:%Y%m%d}",
                    "quantity": _money(event.qty), "amount": "0", "proceeds": "0", "value": "0",
                    "type": "FS" if forward else "RS", "transactionID": number,
                    "actionID": f"{split.ex_date:%Y%m%d}{listing.conid}", "levelOfDetail": "DETAIL",
                })
                + "/>"
            )  # fmt: skip
    header = _attrs({"accountId": ib_account, "fromDate": f"{started:%Y%m%d}", "toDate": f"{now:%Y%m%d}",
                     "period": "Custom", "whenGenerated": _stamp(now)})  # fmt: skip
    return (
        '<FlexQueryResponse queryName="portico" type="AF"><FlexStatements count="1">'
        f"<FlexStatement {header}>"
        f"<CashTransactions>{''.join(cash)}</CashTransactions>"
        f"<CorporateActions>{''.join(actions)}</CorporateActions>"
        "</FlexStatement></FlexStatements></FlexQueryResponse>"
    )


def _token_ok(app: IbMockApp, token: str | None) -> bool:
    return bool(token) and (app.flex_tokens is None or token in app.flex_tokens)


async def send_request(request: Request) -> Response:
    app: IbMockApp = request.app
    q = request.query_params
    if q.get("v") != "3":
        return _fail(1020, "Invalid request or unable to validate request.")
    if not _token_ok(app, q.get("t")):
        return _fail(1015, "Token is invalid.")
    query = q.get("q") or ""
    if not query.isdigit():
        return _fail(1014, "Query is invalid.")
    reference = f"{app.seed % 1000:03d}{next(app.flex_references):07d}"
    app.flex_statements[reference] = app.flex_pending
    url = str(request.url_for("flex_statement"))
    now = app.clock.now().strftime("%d %B, %Y %I:%M %p UTC")
    return _xml(
        f'<FlexStatementResponse timestamp="{now}"><Status>Success</Status>'
        f"<ReferenceCode>{reference}</ReferenceCode><Url>{url}</Url></FlexStatementResponse>"
    )


async def get_statement(request: Request) -> Response:
    app: IbMockApp = request.app
    q = request.query_params
    if not _token_ok(app, q.get("t")):
        return _fail(1015, "Token is invalid.")
    reference = q.get("q") or ""
    if reference not in app.flex_statements:
        return _fail(1020, "Invalid request or unable to validate request.")
    pending = app.flex_statements[reference]
    if pending > 0:
        app.flex_statements[reference] = pending - 1
        return _fail(1019, "Statement generation in progress. Please try again shortly.", status="Warn")
    return _xml(statement_xml(app))


def flex_routes() -> list[Route]:
    """The Flex Web Service's two calls."""
    return [
        Route(f"{PATH}/SendRequest", send_request, methods=["GET"]),
        Route(f"{PATH}/GetStatement", get_statement, methods=["GET"], name="flex_statement"),
    ]
