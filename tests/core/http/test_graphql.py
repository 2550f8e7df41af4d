"""GraphQLClient: variables on the wire, errors arrays to typed errors, partial data, retry rules."""

from __future__ import annotations

import json

import httpx
import pytest

from portico.clock import FakeClock
from portico.errors import AuthError, NotFound, PayloadRejected, RateLimited, ServerError, VenueRejected
from portico.http import ApiClient, GraphQLClient, GraphQLResult
from portico.sdk import RetryPolicy

from .scripted import ScriptedTransport, json_response

QUERY = """
# the positions of one account
query Positions($account: ID!) {
  account(id: $account) { positions { symbol quantity } }
}
"""
MUTATION = "mutation PlaceOrder($input: OrderInput!) { placeOrder(input: $input) { id status } }"


def graphql(transport: ScriptedTransport, clock: FakeClock, **kwargs) -> GraphQLClient:
    api = ApiClient(
        "https://api.example.test", system="gql", transport=transport, clock=clock, retry=RetryPolicy(attempts=3)
    )
    return GraphQLClient(api, "/graphql", **kwargs)


async def test_query_with_variables(fake_clock: FakeClock) -> None:
    data = {"account": {"positions": [{"symbol": "AAPL", "quantity": "10"}]}}
    transport = ScriptedTransport(json_response(200, {"data": data}))
    gql = graphql(transport, fake_clock)
    assert await gql.query(QUERY, {"account": "A1"}, operation_name="Positions") == data
    sent = json.loads(transport.requests[0].content)
    assert sent == {"query": QUERY, "variables": {"account": "A1"}, "operationName": "Positions"}
    assert transport.requests[0].url.path == "/graphql"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("UNAUTHENTICATED", AuthError),
        ("FORBIDDEN", AuthError),
        ("NOT_FOUND", NotFound),
        ("BAD_USER_INPUT", PayloadRejected),
        ("INTERNAL_SERVER_ERROR", ServerError),
        ("SOMETHING_ELSE", VenueRejected),
        (None, VenueRejected),
    ],
)
async def test_errors_array_becomes_a_typed_error(fake_clock: FakeClock, code: str | None, error: type) -> None:
    errors = [{"message": "account A9 not visible", "path": ["account"], "extensions": {"code": code} if code else {}}]
    gql = graphql(ScriptedTransport(json_response(200, {"data": None, "errors": errors})), fake_clock)
    with pytest.raises(error) as info:
        await gql.execute(QUERY, {"account": "A9"})
    assert "account A9 not visible at account" in str(info.value)
    assert info.value.system == "gql"
    assert info.value.request == "GRAPHQL query anonymous"
    assert isinstance(info.value.detail, GraphQLResult)
    assert info.value.venue_code == code


async def test_rate_limited_error_carries_retry_after(fake_clock: FakeClock) -> None:
    errors = [{"message": "slow down", "extensions": {"code": "RATE_LIMITED", "retryAfter": 4}}]
    gql = graphql(ScriptedTransport(json_response(200, {"errors": errors})), fake_clock)
    with pytest.raises(RateLimited) as info:
        await gql.execute(QUERY)
    assert info.value.retry_after == 4.0


async def test_partial_data_is_exposed(fake_clock: FakeClock) -> None:
    body = {
        "data": {"account": {"positions": None}},
        "errors": [{"message": "positions unavailable", "path": ["account", "positions"]}, {"message": "second"}],
    }
    gql = graphql(ScriptedTransport(json_response(200, body)), fake_clock)
    with pytest.raises(VenueRejected) as info:
        await gql.execute(QUERY)
    assert "(and 1 more)" in str(info.value)
    assert info.value.detail.data == {"account": {"positions": None}}
    result = await gql.execute(QUERY, allow_partial=True)
    assert not result.ok
    assert result.data == {"account": {"positions": None}}
    assert [e["message"] for e in result.errors] == ["positions unavailable", "second"]


async def test_validation_errors_sent_with_http_400_stay_typed(fake_clock: FakeClock) -> None:
    body = {"errors": [{"message": 'Cannot query field "foo"', "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}
    gql = graphql(ScriptedTransport(json_response(400, body)), fake_clock)
    with pytest.raises(PayloadRejected) as info:
        await gql.execute("{ foo }")
    assert info.value.status_code == 400
    assert 'Cannot query field "foo"' in str(info.value)


async def test_queries_are_retried_mutations_only_with_a_key(fake_clock: FakeClock) -> None:
    ok = json_response(200, {"data": {"placeOrder": {"id": "1", "status": "new"}}})
    transport = ScriptedTransport(json_response(503), ok)
    assert await graphql(transport, fake_clock).query(QUERY) == {"placeOrder": {"id": "1", "status": "new"}}
    assert transport.calls == 2

    transport = ScriptedTransport(json_response(503), ok)
    with pytest.raises(ServerError):
        await graphql(transport, fake_clock).execute(MUTATION, {"input": {}}, operation_name="PlaceOrder")
    assert transport.calls == 1

    transport = ScriptedTransport(json_response(503), ok)
    result = await graphql(transport, fake_clock).execute(MUTATION, {"input": {}}, idempotency_key="k1")
    assert result.ok and transport.calls == 2
    assert transport.requests[1].headers["Idempotency-Key"] == "k1"


async def test_connector_error_mapper(fake_clock: FakeClock) -> None:
    def mapper(result: GraphQLResult) -> NotFound | None:
        if "no such order" in result.errors[0]["message"]:
            return NotFound("order not found", venue_code="ORDER_404")
        return None

    body = {"errors": [{"message": "no such order 5"}]}
    gql = graphql(ScriptedTransport(json_response(200, body)), fake_clock, error_mapper=mapper)
    with pytest.raises(NotFound) as info:
        await gql.execute("{ order(id: 5) { id } }")
    assert info.value.venue_code == "ORDER_404"


async def test_non_json_answer_is_payload_rejected(fake_clock: FakeClock) -> None:
    gql = graphql(ScriptedTransport(httpx.Response(200, content=b"<html>")), fake_clock)
    with pytest.raises(PayloadRejected):
        await gql.execute(QUERY)
