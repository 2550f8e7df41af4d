"""Orders through the gateway: Idempotency-Key (Stripe semantics), pagination, cancel, problem details."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from portico.models import OrderStatus
from portico.testing import wait_for
from tests.gateway.stack import Stack

ORDER = {"symbol": "AAPL", "side": "buy", "quantity": "5"}


def test_same_key_same_body_is_one_order_at_the_broker(stack: Stack) -> None:
    with stack.client("bob") as http:
        first = http.post("/v1/systems/alpaca_a/orders", json=ORDER, headers={"Idempotency-Key": "idem-1"})
        # the same body with its keys in another order and the quantity as a number is the same request
        again = http.post(
            "/v1/systems/alpaca_a/orders",
            json={"quantity": 5, "side": "buy", "symbol": "AAPL"},
            headers={"Idempotency-Key": "idem-1"},
        )
        other = http.post(
            "/v1/systems/alpaca_a/orders",
            json={**ORDER, "quantity": "6"},
            headers={"Idempotency-Key": "idem-1"},
        )
    assert first.status_code == 201
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["field"] == "header.Idempotency-Key"
    cid = first.json()["client_order_id"]
    assert [o.client_order_id for o in stack.venue_orders("alpaca_a")].count(cid) == 1


def test_concurrent_retries_with_one_key_are_one_order(stack: Stack) -> None:
    body = {"symbol": "MSFT", "side": "buy", "quantity": "2"}

    def place(_: int) -> tuple[int, dict[str, object]]:
        with stack.client("bob") as http:
            answer = http.post(
                "/v1/systems/alpaca_a/orders", json=body, headers={"Idempotency-Key": "idem-concurrent"}
            )
            return answer.status_code, answer.json()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(place, range(6)))
    assert {status for status, _ in answers} == {201}
    assert len({str(a["id"]) for _, a in answers}) == 1
    cid = answers[0][1]["client_order_id"]
    assert [o.client_order_id for o in stack.venue_orders("alpaca_a")].count(cid) == 1


def test_a_rejected_order_replays_its_rejection(stack: Stack) -> None:
    # the restricted list is not configured here: an order for more than the account can buy is refused
    body = {"symbol": "AAPL", "side": "buy", "quantity": "99999999"}
    with stack.client("bob") as http:
        first = http.post(
            "/v1/systems/alpaca_a/orders", json=body, headers={"Idempotency-Key": "idem-reject"}
        )
        again = http.post(
            "/v1/systems/alpaca_a/orders", json=body, headers={"Idempotency-Key": "idem-reject"}
        )
    assert first.status_code == 422, first.text
    assert again.status_code == 422 and again.json() == first.json()


def test_list_orders_pages_with_a_cursor_and_filters(stack: Stack) -> None:
    with stack.client("bob") as http:
        for i in range(5):
            answer = http.post(
                "/v1/systems/alpaca_a/orders",
                json={"symbol": "KO", "side": "buy", "quantity": str(i + 1)},
                headers={"Idempotency-Key": f"page-{i}"},
            )
            assert answer.status_code == 201
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"symbol": "ko", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = http.get("/v1/orders", params=params).json()
            seen += [o["quantity"] for o in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ["1", "2", "3", "4", "5"] and pages == 3
        bad = http.get("/v1/orders", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422 and bad.json()["field"] == "query.cursor"
        status = http.get("/v1/orders", params={"status": "bogus"})
        assert status.status_code == 422 and status.json()["field"] == "query.status"


def test_cancel_a_resting_order(stack: Stack) -> None:
    body = {"symbol": "MSFT", "side": "buy", "quantity": "1", "order_type": "limit", "limit_price": "1.00"}
    with stack.client("bob") as http:
        placed = http.post("/v1/systems/alpaca_a/orders", json=body).json()
        cancel = http.post(f"/v1/systems/alpaca_a/orders/{placed['id']}/cancel")
        assert cancel.status_code == 202
        assert cancel.json()["order"]["status"] in {"pending_cancel", "canceled"}
        wait_for(
            lambda: (
                stack.integration.trading.get_order(placed["id"], system_id="alpaca_a").status
                is OrderStatus.CANCELED
            ),
            timeout=10,
        )
        assert http.get(f"/v1/systems/alpaca_a/orders/{placed['id']}").json()["status"] == "canceled"
        missing = http.get("/v1/systems/alpaca_a/orders/no-such-order")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith(
            "application/problem+json"
        )
