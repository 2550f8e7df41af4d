"""The authorization matrix: user x group x resource x verb, by API token and by session, and the
OWASP API Top 10 (2023) cases that concern who may see and change what."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.stack import PASSWORDS, WEBHOOK_SECRET, Stack

USERS = ("alice", "bob", "carol", "dave", "erin")
# alice: readers (READ everything); bob: traders_a (READ_WRITE alpaca_a and its accounts);
# carol: ops (READ_WRITE jobs, READ systems); dave: no group; erin: secops (READ_WRITE credentials)


def _account(stack: Stack, system: str) -> str:
    return str(stack.run(stack.integration.get_external_account(system)).account_id)


def _cases(stack: Stack) -> list[tuple[str, str, str, str, dict[str, Any], dict[str, int]]]:
    """(resource, verb, method, path, json, expected status per user)."""
    acct_a, acct_b = _account(stack, "alpaca_a"), _account(stack, "alpaca_b")
    resting = {"symbol": "MSFT", "side": "buy", "quantity": "1", "order_type": "limit", "limit_price": "1.00"}
    return [
        (
            "systems",
            "read",
            "GET",
            "/v1/systems/alpaca_a",
            {},
            {"alice": 200, "bob": 200, "carol": 200, "dave": 404, "erin": 404},
        ),
        (
            "systems",
            "read",
            "GET",
            "/v1/systems/alpaca_b",
            {},
            {"alice": 200, "bob": 404, "carol": 200, "dave": 404, "erin": 404},
        ),
        (
            "systems",
            "write",
            "POST",
            "/v1/systems/alpaca_a/orders",
            resting,
            {"alice": 403, "bob": 201, "carol": 403, "dave": 404, "erin": 404},
        ),
        (
            "systems",
            "write",
            "POST",
            "/v1/systems/alpaca_b/orders",
            resting,
            {"alice": 403, "bob": 404, "carol": 403, "dave": 404, "erin": 404},
        ),
        (
            "accounts",
            "read",
            "GET",
            f"/v1/systems/alpaca_a/accounts/{acct_a}",
            {},
            {"alice": 200, "bob": 200, "carol": 404, "dave": 404, "erin": 404},
        ),
        (
            "accounts",
            "read",
            "GET",
            f"/v1/systems/alpaca_b/accounts/{acct_b}/positions",
            {},
            {"alice": 200, "bob": 404, "carol": 404, "dave": 404, "erin": 404},
        ),
        (
            "accounts",
            "write",
            "POST",
            "/v1/systems/alpaca_a/orders",
            {**resting, "account_id": acct_a},
            {"alice": 403, "bob": 201, "carol": 403, "dave": 404, "erin": 404},
        ),
        (
            "jobs",
            "read",
            "GET",
            "/v1/quarantine",
            {},
            {"alice": 200, "bob": 404, "carol": 200, "dave": 404, "erin": 404},
        ),
        (
            "jobs",
            "write",
            "POST",
            "/v1/reconciliations",
            {"systems": ["alpaca_a"]},
            {"alice": 403, "bob": 404, "carol": 201, "dave": 404, "erin": 404},
        ),
        (
            "credentials",
            "write",
            "PUT",
            "/v1/credentials/matrix_secret",
            {"value": "s3cr3t-matrix-value"},
            {"alice": 403, "bob": 404, "carol": 404, "dave": 404, "erin": 204},
        ),
    ]


@pytest.mark.parametrize("via", ["token", "session"])
def test_authorization_matrix(stack: Stack, via: str) -> None:
    failures = []
    for resource, verb, method, path, body, expected in _cases(stack):
        for user in USERS:
            if via == "token" and user not in stack.tokens:
                continue  # dave holds no grant, so he cannot have a token; his session is tested
            with stack.client(user, session=via == "session") as http:
                answer = http.request(method, path, json=body or None)
            if answer.status_code != expected[user]:
                failures.append(
                    f"{user} {resource}/{verb} {method} {path}: {answer.status_code} (want {expected[user]}) {answer.text[:120]}"
                )
    assert not failures, "\n".join(failures)


def test_credential_listing_is_filtered_and_never_shows_values(stack: Stack) -> None:
    with stack.client("erin") as http:
        assert (
            http.put("/v1/credentials/listing_secret", json={"value": "never-answered-back-42"}).status_code
            == 204
        )
        names = {c["name"] for c in http.get("/v1/credentials").json()}
    assert "listing_secret" in names
    with stack.client("alice") as http:
        listed = http.get("/v1/credentials")
    assert "listing_secret" in {c["name"] for c in listed.json()}
    assert "never-answered-back-42" not in listed.text
    with stack.client("bob") as http:
        assert http.get("/v1/credentials").json() == []


def test_another_groups_order_is_404_and_not_listed(stack: Stack) -> None:
    """API1 broken object level authorization: bob cannot see an order on alpaca_b by any id."""
    cid = stack.run(
        stack.integration.place_external_order("alpaca_b", {"symbol": "AAPL", "side": "buy", "quantity": "1"})
    )
    record = stack.integration.trading.get_order(cid, system_id="alpaca_b")
    with stack.client("bob") as http:
        for order_id in (record.id, cid, record.venue_order_id):
            assert http.get(f"/v1/systems/alpaca_b/orders/{order_id}").status_code == 404
        assert http.post(f"/v1/systems/alpaca_b/orders/{record.id}/cancel").status_code == 404
        listed = http.get("/v1/orders", params={"limit": 500}).json()["items"]
        assert record.id not in {o["id"] for o in listed}
        assert {o["system"] for o in listed} <= {"alpaca_a"}
        assert http.get("/v1/orders", params={"system": "alpaca_b"}).json()["items"] == []
    with stack.client("alice") as http:
        assert http.get(f"/v1/systems/alpaca_b/orders/{record.id}").json()["id"] == record.id


def test_token_scopes_narrow_the_users_grants(stack: Stack) -> None:
    login = httpx.post(f"{stack.url}/v1/auth/login", json={"username": "bob", "password": PASSWORDS["bob"]})
    cookie, csrf = login.cookies["portico_session"], login.json()["csrf_token"]
    with httpx.Client(
        base_url=stack.url, cookies={"portico_session": cookie}, headers={"X-CSRF-Token": csrf}
    ) as http:
        made = http.post(
            "/v1/tokens",
            json={"name": "read-only", "scopes": [{"resource": "systems", "permission": "READ"}]},
        )
        assert made.status_code == 201
        token = made.json()["token"]
        # a scope the user's groups do not hold is refused
        wider = http.post(
            "/v1/tokens", json={"name": "jobs", "scopes": [{"resource": "jobs", "permission": "READ"}]}
        )
        assert wider.status_code == 403 and wider.json()["field"] == "body.scopes.0"
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get("/v1/systems/alpaca_a").status_code == 200
        order = http.post(
            "/v1/systems/alpaca_a/orders", json={"symbol": "AAPL", "side": "buy", "quantity": "1"}
        )
        assert order.status_code == 403


def test_broken_authentication_is_refused(stack: Stack) -> None:
    """API2: no credential, a malformed token, a right id with a wrong secret, a revoked token."""
    good = stack.tokens["alice"]
    token_id = good.split("_")[1]
    for header in (None, "Bearer nonsense", f"Bearer pt_{token_id}_wrongsecret", "Basic YWxpY2U6YWxpY2U="):
        headers = {"Authorization": header} if header else {}
        answer = httpx.get(f"{stack.url}/v1/systems", headers=headers)
        assert answer.status_code == 401, header
        assert answer.headers["content-type"].startswith("application/problem+json")
    with stack.client("alice") as http:
        made = http.post(
            "/v1/tokens", json={"name": "short", "scopes": [{"resource": "systems", "permission": "READ"}]}
        ).json()
        assert (
            httpx.get(f"{stack.url}/v1/me", headers={"Authorization": f"Bearer {made['token']}"}).status_code
            == 200
        )
        assert http.delete(f"/v1/tokens/{made['id']}").status_code == 204
        assert made["token"] not in http.get("/v1/tokens").text
    assert (
        httpx.get(f"{stack.url}/v1/me", headers={"Authorization": f"Bearer {made['token']}"}).status_code
        == 401
    )
    wrong = httpx.post(f"{stack.url}/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert wrong.status_code == 401 and "portico_session" not in wrong.cookies


def test_session_writes_need_the_csrf_header(stack: Stack) -> None:
    cookie, _csrf = stack.sessions["bob"]
    with httpx.Client(base_url=stack.url, cookies={"portico_session": cookie}) as http:
        answer = http.post(
            "/v1/systems/alpaca_a/orders", json={"symbol": "AAPL", "side": "buy", "quantity": "1"}
        )
        assert answer.status_code == 403 and answer.json()["field"] == "header.X-CSRF-Token"
        assert http.get("/v1/systems/alpaca_a").status_code == 200


def test_mass_assignment_is_refused_naming_the_field(stack: Stack) -> None:
    """API3 (property level): fields only the server sets cannot be sent."""
    with stack.client("bob") as http:
        order = http.post(
            "/v1/systems/alpaca_a/orders",
            json={"symbol": "AAPL", "side": "buy", "quantity": "1", "status": "filled"},
        )
        assert order.status_code == 422 and order.json()["field"] == "body.status"
        token = http.post(
            "/v1/tokens",
            json={"name": "x", "user": "alice", "scopes": [{"resource": "systems", "permission": "READ"}]},
        )
        assert token.status_code == 422 and token.json()["field"] == "body.user"
        bad = http.post(
            "/v1/systems/alpaca_a/orders", json={"symbol": "AAPL", "side": "buy", "quantity": "-3"}
        )
        assert bad.status_code == 422 and bad.json()["field"] == "body.quantity"


def test_no_secret_in_any_answer(stack: Stack) -> None:
    """API3 (excessive data exposure): passwords, their hashes, token secrets, vendor and webhook
    secrets never appear in an answer."""
    section = stack.gateway.config
    secrets = [*PASSWORDS.values(), WEBHOOK_SECRET, "alpaca-secret-xyz"]
    secrets += [u.password_hash.get_secret_value() for u in section.users.values()]
    secrets += [t.split("_", 2)[2] for t in stack.tokens.values()]
    acct = _account(stack, "alpaca_a")
    paths = [
        "/v1/me",
        "/v1/tokens",
        "/v1/systems",
        "/v1/systems/alpaca_a",
        f"/v1/systems/alpaca_a/accounts/{acct}",
        f"/v1/systems/alpaca_a/accounts/{acct}/positions",
        "/v1/orders",
        "/v1/metrics",
        "/v1/health",
        "/v1/jobs",
        "/v1/quarantine",
        "/v1/credentials",
        "/v1/reconciliations/breaks",
        "/v1/openapi.json",
        "/v1/systems/alpaca_a/market-data/latest?symbols=AAPL",
    ]
    seen = []
    with stack.client("alice") as http:
        for path in paths:
            answer = http.get(path)
            assert answer.status_code < 500, (path, answer.text)
            seen.append((path, answer.text))
    leaks = [(path, s[:6]) for path, text in seen for s in secrets if s in text]
    assert not leaks


def test_cors_is_closed_by_default(stack: Stack) -> None:
    preflight = httpx.options(
        f"{stack.url}/v1/systems",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = httpx.get(f"{stack.url}/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_every_write_is_audited_with_the_user(stack: Stack) -> None:
    with stack.client("bob") as http:
        placed = http.post(
            "/v1/systems/alpaca_a/orders",
            json={"symbol": "IBM", "side": "buy", "quantity": "1"},
            headers={"Idempotency-Key": "audit-1"},
        )
        assert placed.status_code == 201
        refused = http.post(
            "/v1/systems/alpaca_b/orders", json={"symbol": "IBM", "side": "buy", "quantity": "1"}
        )
        assert refused.status_code == 404
    with stack.client("alice") as http:
        assert (
            http.post(
                "/v1/systems/alpaca_a/orders", json={"symbol": "IBM", "side": "buy", "quantity": "1"}
            ).status_code
            == 403
        )
    audit = stack.integration.audit
    entries = [e for e in audit.tail(200) if e.action == "gateway.orders.place"]
    bob_token = stack.tokens["bob"].split("_")[1]
    mine = [e for e in entries if e.detail.get("order_id") == placed.json()["id"]]
    assert [(e.actor, e.outcome, e.system) for e in mine] == [
        (f"user:bob token:{bob_token}", "success", "alpaca_a")
    ]
    denied = [e for e in audit.tail(200) if e.action == "gateway.access" and e.actor.startswith("user:alice")]
    assert denied and denied[-1].outcome == "denied"
    assert denied[-1].detail == {"resource": "systems", "object": "alpaca_a", "verb": "write"}
    assert audit.verify() is None
