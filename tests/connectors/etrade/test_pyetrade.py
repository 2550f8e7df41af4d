"""pyetrade, E*TRADE's community client, unchanged against the mock: its hosts are public attributes,
reassigned after construction as its users do for the sandbox."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyetrade
import pytest
import requests

from portico.mocks import RunningMock
from tests.connectors.etrade.conftest import CONSUMER_KEY, CONSUMER_SECRET

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _login(base: str) -> dict[str, str]:
    """The three legs with pyetrade: request token, the authorize page (oob code), access token."""
    oauth = pyetrade.ETradeOAuth(CONSUMER_KEY, CONSUMER_SECRET)
    oauth.req_token_url = base + "/oauth/request_token"
    oauth.access_token_url = base + "/oauth/access_token"
    oauth.auth_token_url = base + "/e/t/etws/authorize"
    url = oauth.get_request_token()
    assert url.startswith(base + "/e/t/etws/authorize?key=" + CONSUMER_KEY + "&token=")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    match = re.search(r'id="verifier" name="verifier" type="text" value="([A-Z0-9]+)"', page.text)
    assert match, page.text
    return oauth.get_access_token(match.group(1))


def _clients(base: str, token: dict[str, str]) -> tuple[Any, Any, Any, Any]:
    args = (CONSUMER_KEY, CONSUMER_SECRET, token["oauth_token"], token["oauth_token_secret"])
    accounts = pyetrade.ETradeAccounts(*args, dev=False)
    accounts.base_url = base + "/v1/accounts"
    market = pyetrade.ETradeMarket(*args, dev=False)
    market.base_url = base + "/v1/market/"
    orders = pyetrade.ETradeOrder(*args, dev=False)
    orders.base_url = base + "/v1/accounts"
    manager = pyetrade.ETradeAccessManager(*args)
    manager.renew_access_token_url = base + "/oauth/renew_access_token"
    manager.revoke_access_token_url = base + "/oauth/revoke_access_token"
    return accounts, market, orders, manager


def _order(key: str, client_order_id: str, **extra: Any) -> dict[str, Any]:
    order = {
        "accountIdKey": key,
        "symbol": "AAPL",
        "orderAction": "BUY",
        "clientOrderId": client_order_id,
        "priceType": "LIMIT",
        "limitPrice": 1.0,
        "quantity": 3,
        "orderTerm": "GOOD_FOR_DAY",
        "marketSession": "REGULAR",
    }
    order.update(extra)
    return order


def test_pyetrade_trades_through_the_mock(served: Callable[..., RunningMock]) -> None:
    running = served(access_tokens={})
    base = running.base_url.rstrip("/")
    token = _login(base)
    assert set(token) >= {"oauth_token", "oauth_token_secret"}
    accounts, market, orders, manager = _clients(base, token)

    listed = accounts.list_accounts()  # XML, pyetrade's default
    account = listed["AccountListResponse"]["Accounts"]["Account"]
    key = account["accountIdKey"]
    assert account["institutionType"] == "BROKERAGE"
    assert (
        accounts.list_accounts(resp_format="json")["AccountListResponse"]["Accounts"]["Account"][0][
            "accountIdKey"
        ]
        == key
    )

    balance = accounts.get_account_balance(key, resp_format="json")["BalanceResponse"]
    assert balance["Computed"]["cashBalance"] == 100000
    assert balance["accountId"] == account["accountId"]

    quotes = market.get_quote(["AAPL", "MSFT"], resp_format="json")["QuoteResponse"]["QuoteData"]
    assert [q["Product"]["symbol"] for q in quotes] == ["AAPL", "MSFT"]
    assert all(q["All"]["bid"] <= q["All"]["ask"] for q in quotes)
    xml_quote = market.get_quote(["IBM"])["QuoteResponse"]["QuoteData"]
    assert xml_quote["Product"]["symbol"] == "IBM"

    # a market buy fills, and then shows in the portfolio and the transactions
    filled = orders.place_equity_order(**_order(key, "pyetrade-mkt-1", priceType="MARKET", limitPrice=0))
    assert filled["PlaceOrderResponse"]["OrderIds"]["orderId"]
    portfolio = accounts.get_account_portfolio(key, resp_format="json")["PortfolioResponse"][
        "AccountPortfolio"
    ][0]
    assert [(p["Product"]["symbol"], p["quantity"]) for p in portfolio["Position"]] == [("AAPL", 3)]
    assert portfolio["totalPages"] == 1
    history = accounts.list_transactions(key, resp_format="json")["TransactionListResponse"]["Transaction"]
    assert [(t["transactionType"], t["Brokerage"]["quantity"]) for t in history] == [("Bought", 3)]

    # preview, then place with the preview id (pyetrade reads PreviewIds.previewId from the XML)
    preview = orders.preview_equity_order(**_order(key, "pyetrade-lmt-1"))
    preview_id = preview["PreviewOrderResponse"]["PreviewIds"]["previewId"]
    placed = orders.place_equity_order(**_order(key, "pyetrade-lmt-1", previewId=preview_id))
    order_id = int(placed["PlaceOrderResponse"]["OrderIds"]["orderId"])

    listed_orders = orders.list_orders(key, resp_format="json")["OrdersResponse"]["Order"]
    mine = {o["orderId"]: o for o in listed_orders}
    assert mine[order_id]["OrderDetail"][0]["status"] == "OPEN"
    assert mine[order_id]["OrderDetail"][0]["limitPrice"] == 1

    # the same client order id again is refused (E*TRADE's Error body, raised by pyetrade)
    with pytest.raises(Exception, match=r"Etrade API Error - Code: 1078"):
        orders.place_equity_order(**_order(key, "pyetrade-lmt-1"))

    # change: preview the change, then place it with that preview id; the order keeps its id
    change = _order(key, "pyetrade-lmt-1", limitPrice=1.25)
    changed_preview = orders.change_preview_equity_order(key, order_id, **change)
    change_id = changed_preview["PreviewOrderResponse"]["PreviewIds"]["previewId"]
    changed = orders.place_changed_equity_order(**change, orderId=order_id, previewId=change_id)
    assert int(changed["PlaceOrderResponse"]["OrderIds"]["orderId"]) == order_id
    relisted = {
        o["orderId"]: o for o in orders.list_orders(key, resp_format="json")["OrdersResponse"]["Order"]
    }
    assert relisted[order_id]["OrderDetail"][0]["limitPrice"] == 1.25

    canceled = orders.cancel_order(key, order_id)
    assert int(canceled["CancelOrderResponse"]["orderId"]) == order_id
    after = orders.list_orders(key, resp_format="json", status="CANCELLED")["OrdersResponse"]["Order"]
    assert [o["orderId"] for o in after] == [order_id]

    assert manager.renew_access_token() is True
    assert manager.revoke_access_token() is True
    with pytest.raises(requests.HTTPError) as refused:
        accounts.list_accounts()
    assert refused.value.response.status_code == 401
    assert "oauth_problem=token_rejected" in refused.value.response.text


def test_pyetrade_signature_with_a_wrong_secret_is_refused(served: Callable[..., RunningMock]) -> None:
    running = served()
    accounts = pyetrade.ETradeAccounts(
        CONSUMER_KEY,
        "not-the-secret",
        "etrade-mock-access-token",
        "etrade-mock-access-token-secret",
        dev=False,
    )
    accounts.base_url = running.base_url.rstrip("/") + "/v1/accounts"
    with pytest.raises(requests.HTTPError) as refused:
        accounts.list_accounts()
    assert refused.value.response.status_code == 401
    assert "oauth_problem=signature_invalid" in refused.value.response.text


def test_pyetrade_renew_reactivates_an_idle_token(served: Callable[..., RunningMock]) -> None:
    running = served()
    base = running.base_url.rstrip("/")
    token = {
        "oauth_token": "etrade-mock-access-token",
        "oauth_token_secret": "etrade-mock-access-token-secret",
    }
    accounts, _, _, manager = _clients(base, token)
    running.app.clock.advance(2 * 3600 + 1)  # two idle hours: E*TRADE inactivates the token
    with pytest.raises(requests.HTTPError) as idle:
        accounts.list_accounts()
    assert "oauth_problem=token_rejected" in idle.value.response.text
    assert manager.renew_access_token() is True
    assert accounts.list_accounts(resp_format="json")["AccountListResponse"]["Accounts"]["Account"]
