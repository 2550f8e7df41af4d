"""Order replace through the gateway: Idempotency-Key, permissions, audit and problem details."""

from __future__ import annotations

from decimal import Decimal

from tests.gateway.stack import Stack

RESTING = {"symbol": "MSFT", "side": "buy", "quantity": "1", "order_type": "limit", "limit_price": "1.00"}


def _patches(stack: Stack) -> int:
    journal = stack.integration.systems["alpaca_a"].mock.app.journal
    return sum(1 for e in journal.entries("PATCH") if e.path.startswith("/v2/orders/"))


def test_replace_with_a_key_is_one_replace_at_the_broker(stack: Stack) -> None:
    before = _patches(stack)
    with stack.client("bob") as http:
        placed = http.post("/v1/systems/alpaca_a/orders", json=RESTING).json()
        url = f"/v1/systems/alpaca_a/orders/{placed['id']}/replace"
        first = http.post(url, json={"limit_price": "1.10"}, headers={"Idempotency-Key": "rep-1"})
        again = http.post(url, json={"limit_price": 1.1}, headers={"Idempotency-Key": "rep-1"})
        other = http.post(url, json={"limit_price": "1.20"}, headers={"Idempotency-Key": "rep-1"})
        # the original is replaced now: another replace of it is refused, naming why
        refused = http.post(url, json={"limit_price": "1.20"}, headers={"Idempotency-Key": "rep-2"})
        # the replacement itself can be changed again, by any of its ids
        chained = http.post(
            f"/v1/systems/alpaca_a/orders/{first.json()['order']['client_order_id']}/replace",
            json={"quantity": "4"},
        )
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["replaced"]["id"] == placed["id"] and answer["replaced"]["status"] == "replaced"
    assert answer["order"]["status"] == "new" and answer["order"]["limit_price"] == "1.10"
    assert answer["order"]["id"] != placed["id"] and answer["order"]["quantity"] == "1"
    assert again.status_code == 201 and again.json() == answer
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json()["field"] == "header.Idempotency-Key"
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (
        refused.json()["order_status"] == "replaced"
        and "replaced order cannot be replaced" in refused.json()["detail"]
    )
    assert chained.status_code == 201 and chained.json()["order"]["quantity"] == "4"
    assert _patches(stack) - before == 2
    venue = {o.id: o for o in stack.venue_orders("alpaca_a")}
    new = venue[answer["order"]["venue_order_id"]]
    assert new.replaces == placed["venue_order_id"] and new.limit_price == Decimal("1.10")


def test_replace_needs_write_permission_and_is_audited(stack: Stack) -> None:
    with stack.client("bob") as http:
        placed = http.post("/v1/systems/alpaca_a/orders", json=RESTING).json()
        url = f"/v1/systems/alpaca_a/orders/{placed['id']}/replace"
        unknown = http.post("/v1/systems/alpaca_a/orders/no-such-order/replace", json={"quantity": "2"})
        elsewhere = http.post(f"/v1/systems/alpaca_b/orders/{placed['id']}/replace", json={"quantity": "2"})
        empty = http.post(url, json={})
        mass = http.post(url, json={"quantity": "2", "symbol": "TSLA"})
    with stack.client("alice") as http:
        reader = http.post(url, json={"quantity": "2"})
    assert unknown.status_code == 404
    assert elsewhere.status_code == 404  # bob may not see alpaca_b: its existence is not revealed
    assert reader.status_code == 403
    assert empty.status_code == 422 and "at least one" in empty.json()["detail"]
    assert mass.status_code == 422 and mass.json()["field"] == "body.symbol"
    with stack.client("bob") as http:
        done = http.post(url, json={"quantity": "2"}, headers={"Idempotency-Key": "rep-audit"})
    assert done.status_code == 201
    entries = [e for e in stack.integration.audit.tail(200) if e.action == "gateway.orders.replace"]
    mine = [e for e in entries if e.detail.get("replaces") == placed["id"]]
    bob_token = stack.tokens["bob"].split("_")[1]
    assert [(e.actor, e.outcome, e.detail["order_id"]) for e in mine] == [
        (f"user:bob token:{bob_token}", "success", done.json()["order"]["id"])
    ]
    assert stack.integration.audit.verify() is None


def test_a_refusal_that_may_pass_later_is_not_kept_under_the_key(stack: Stack) -> None:
    with stack.client("bob") as http:
        placed = http.post("/v1/systems/alpaca_a/orders", json=RESTING).json()
        url = f"/v1/systems/alpaca_a/orders/{placed['id']}/replace"
        first = http.post(url, json={"limit_price": "1.10"}, headers={"Idempotency-Key": "rep-t1"})
        assert first.status_code == 201
        # the original is replaced: refused, and the refusal is not the key's answer for good
        refused = http.post(url, json={"limit_price": "1.20"}, headers={"Idempotency-Key": "rep-t2"})
        assert refused.status_code == 409 and "Idempotent-Replayed" not in refused.headers
        again = http.post(url, json={"limit_price": "1.20"}, headers={"Idempotency-Key": "rep-t2"})
        assert again.status_code == 409 and "Idempotent-Replayed" not in again.headers
        # nothing was kept under the key: it serves the replace of the replacement
        moved = http.post(
            f"/v1/systems/alpaca_a/orders/{first.json()['order']['id']}/replace",
            json={"limit_price": "1.20"},
            headers={"Idempotency-Key": "rep-t2"},
        )
        assert moved.status_code == 201
