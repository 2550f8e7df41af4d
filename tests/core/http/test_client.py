"""ApiClient: retries, classification, Retry-After, idempotency, errors and observers, on a fake clock."""

from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from portico.clock import FakeClock
from portico.context import correlation_scope
from portico.errors import (
    AuthError,
    ConnectionFailed,
    NotFound,
    OutcomeUnknown,
    PayloadRejected,
    RateLimited,
    ReadTimeout,
    ResponseLost,
    ServerError,
    VenueRejected,
)
from portico.http import ApiClient, CallRecord, backoff_delay
from portico.sdk import RetryPolicy

from .scripted import ScriptedTransport, json_response

BASE = "https://api.example.test/v2"


def make_client(
    transport: httpx.AsyncBaseTransport, clock: FakeClock, records: list[CallRecord] | None = None, **kwargs
) -> ApiClient:
    kwargs.setdefault("retry", RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0, max_retry_after=60.0))
    if records is not None:
        kwargs["observers"] = [*kwargs.get("observers", ()), records.append]
    return ApiClient(BASE, system="venue", transport=transport, clock=clock, rng=random.Random(7), **kwargs)


async def test_429_with_retry_after_seconds_waits_exactly_that_long(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(
        json_response(429, {"message": "slow down"}, {"Retry-After": "7"}),
        json_response(200, {"ok": True}),
    )
    records: list[CallRecord] = []
    client = make_client(transport, fake_clock, records)
    response = await client.get("/orders", endpoint="GET /v2/orders")
    assert response.json() == {"ok": True}
    assert transport.calls == 2
    assert fake_clock.sleeps == [7.0]
    assert [r.outcome for r in records] == ["retry", "ok"]
    assert [r.status for r in records] == [429, 200]
    assert isinstance(records[0].error, RateLimited) and records[0].error.retry_after == 7.0


async def test_retry_after_http_date_is_honoured(fake_clock: FakeClock) -> None:
    when = format_datetime(fake_clock.now() + timedelta(seconds=12), usegmt=True)
    transport = ScriptedTransport(json_response(503, headers={"Retry-After": when}), json_response(200))
    client = make_client(transport, fake_clock)
    await client.get("/clock")
    assert fake_clock.sleeps == [12.0]


async def test_retry_after_beyond_the_allowed_maximum_gives_up_with_rate_limited(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(429, headers={"Retry-After": "3600"}))
    client = make_client(transport, fake_clock)
    with pytest.raises(RateLimited) as info:
        await client.get("/orders")
    assert info.value.retry_after == 3600.0
    assert transport.calls == 1
    assert fake_clock.sleeps == []


async def test_503_then_success_backs_off_with_full_jitter(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(503), json_response(503), json_response(200, {"id": 1}))
    client = make_client(transport, fake_clock)
    response = await client.get("/orders/1")
    assert response.json() == {"id": 1}
    assert transport.calls == 3
    # The same seeded draws the client made: uniform in [0, 0.5] then [0, 1.0].
    rng = random.Random(7)
    policy = client.retry_policy
    expected = [backoff_delay(policy, 1, rng), backoff_delay(policy, 2, rng)]
    assert fake_clock.sleeps == expected
    assert 0 <= expected[0] <= 0.5 and 0 <= expected[1] <= 1.0


def test_backoff_ceiling_doubles_and_caps() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=5.0)

    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [backoff_delay(policy, n, Top()) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_retries_stop_after_the_policy_attempts(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(502))
    records: list[CallRecord] = []
    client = make_client(transport, fake_clock, records)
    with pytest.raises(ServerError) as info:
        await client.get("/orders")
    assert transport.calls == 4
    assert info.value.status_code == 502
    assert [r.attempt for r in records] == [1, 2, 3, 4]
    assert [r.outcome for r in records] == ["retry", "retry", "retry", "failed"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, VenueRejected), (401, AuthError), (403, AuthError), (404, NotFound), (422, PayloadRejected)],
)
async def test_client_errors_are_never_retried(fake_clock: FakeClock, status: int, error: type[Exception]) -> None:
    transport = ScriptedTransport(json_response(status, {"message": "nope", "code": 40010001}))
    records: list[CallRecord] = []
    client = make_client(transport, fake_clock, records)
    with pytest.raises(error) as info:
        await client.get("/orders/abc", endpoint="GET /v2/orders/{id}")
    assert transport.calls == 1
    assert fake_clock.sleeps == []
    assert info.value.status_code == status
    assert info.value.venue_code == 40010001
    assert "nope" in str(info.value)
    assert records[-1].outcome == "rejected"


async def test_timeouts_and_resets_on_get_are_retried(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(
        httpx.ReadTimeout("slow"),
        httpx.ReadError("connection reset by peer"),
        httpx.ConnectError("refused"),
        json_response(200, [1]),
    )
    client = make_client(transport, fake_clock)
    assert (await client.get_json("/positions")) == [1]
    assert transport.calls == 4


async def test_final_transport_failure_is_typed(fake_clock: FakeClock) -> None:
    client = make_client(ScriptedTransport(httpx.ReadTimeout("slow")), fake_clock)
    with pytest.raises(ReadTimeout):
        await client.get("/positions")
    client = make_client(ScriptedTransport(httpx.ConnectError("refused")), fake_clock)
    with pytest.raises(ConnectionFailed):
        await client.get("/positions")
    client = make_client(ScriptedTransport(httpx.RemoteProtocolError("server hung up")), fake_clock)
    with pytest.raises(ResponseLost):
        await client.get("/positions")


async def test_post_without_key_is_not_retried_on_503(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(503), json_response(200))
    client = make_client(transport, fake_clock)
    with pytest.raises(ServerError):
        await client.post("/orders", json={"symbol": "AAPL"})
    assert transport.calls == 1


async def test_post_without_key_whose_answer_is_lost_raises_outcome_unknown(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(httpx.ReadTimeout("no answer"), json_response(200))
    records: list[CallRecord] = []
    client = make_client(transport, fake_clock, records)
    with pytest.raises(OutcomeUnknown) as info:
        await client.post("/orders", json={"symbol": "AAPL"}, endpoint="POST /v2/orders")
    assert transport.calls == 1
    assert info.value.idempotency_key is None
    assert info.value.request == "POST /v2/orders"
    assert isinstance(info.value.__cause__, ReadTimeout)
    assert records[-1].outcome == "unknown"


async def test_patch_answered_by_a_gateway_timeout_is_outcome_unknown(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(504))
    client = make_client(transport, fake_clock)
    with pytest.raises(OutcomeUnknown) as info:
        await client.patch("/orders/1", json={"qty": "2"})
    assert info.value.status_code == 504
    assert transport.calls == 1


async def test_post_with_idempotency_key_is_retried_and_keeps_its_key(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(httpx.ReadError("reset"), json_response(503), json_response(201, {"id": "o1"}))
    client = make_client(transport, fake_clock)
    response = await client.post("/orders", json={"symbol": "AAPL"}, idempotency_key="key-123")
    assert response.status_code == 201
    assert transport.calls == 3
    assert {r.headers["Idempotency-Key"] for r in transport.requests} == {"key-123"}


async def test_keyed_post_that_never_gets_an_answer_ends_outcome_unknown_with_the_key(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(httpx.ReadTimeout("no answer"))
    client = make_client(transport, fake_clock)
    with pytest.raises(OutcomeUnknown) as info:
        await client.post("/orders", json={}, idempotency_key="key-9")
    assert info.value.idempotency_key == "key-9"
    assert transport.calls == 4


async def test_post_whose_connection_was_refused_is_retried_since_nothing_was_sent(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(httpx.ConnectError("refused"), json_response(201))
    client = make_client(transport, fake_clock)
    assert (await client.post("/orders", json={})).status_code == 201
    assert transport.calls == 2


async def test_retry_flag_forces_or_forbids_retries(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(503), json_response(200))
    client = make_client(transport, fake_clock)
    assert (await client.post("/search", json={}, retry=True)).status_code == 200
    transport = ScriptedTransport(json_response(503), json_response(200))
    client = make_client(transport, fake_clock)
    with pytest.raises(ServerError):
        await client.get("/orders", retry=False)
    assert transport.calls == 1


async def test_correlation_id_is_sent_and_attached_to_errors(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(404, {"message": "order not found"}))
    records: list[CallRecord] = []
    client = make_client(transport, fake_clock, records)
    with correlation_scope("corr-42"), pytest.raises(NotFound) as info:
        await client.get("/orders/xyz", endpoint="GET /v2/orders/{id}")
    assert transport.requests[0].headers["X-Correlation-ID"] == "corr-42"
    assert info.value.correlation_id == "corr-42"
    assert info.value.system == "venue"
    assert info.value.request == "GET /v2/orders/{id}"
    assert records[0].correlation_id == "corr-42"


async def test_correlation_header_can_be_turned_off(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(200))
    client = make_client(transport, fake_clock, correlation_header=False)
    with correlation_scope("corr-1"):
        await client.get("/x")
    assert "X-Correlation-ID" not in transport.requests[0].headers


async def test_query_string_secrets_never_reach_errors_or_records(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(httpx.ConnectError("refused for https://api.example.test/q?apikey=SECRET123"))
    records: list[CallRecord] = []
    client = make_client(transport, fake_clock, records, retry=RetryPolicy(attempts=1))
    with pytest.raises(ConnectionFailed) as info:
        await client.get("/query?function=QUOTE&apikey=SECRET123", params={"token": "SECRET456"})
    text = str(info.value) + repr(info.value) + repr(records) + repr(client)
    assert "SECRET" not in text
    assert info.value.request == "GET /query"
    assert info.value.__cause__ is None
    assert str(transport.requests[0].url).endswith("apikey=SECRET123&token=SECRET456")


async def test_error_mapper_overrides_the_default_map(fake_clock: FakeClock) -> None:
    def mapper(response: httpx.Response) -> VenueRejected | None:
        if response.status_code == 403:
            return VenueRejected("insufficient buying power", venue_code=response.json()["code"])
        return None

    transport = ScriptedTransport(json_response(403, {"code": 40310000, "message": "insufficient buying power"}))
    client = make_client(transport, fake_clock, error_mapper=mapper)
    with pytest.raises(VenueRejected) as info:
        await client.post("/orders", json={})
    assert not isinstance(info.value, AuthError)
    assert info.value.status_code == 403 and info.value.system == "venue"

    transport = ScriptedTransport(json_response(401))
    client = make_client(transport, fake_clock, error_mapper=mapper)
    with pytest.raises(AuthError):
        await client.get("/account")


async def test_mapper_returning_rate_limited_is_retried(fake_clock: FakeClock) -> None:
    def mapper(response: httpx.Response) -> RateLimited | None:
        return RateLimited("vendor throttle", retry_after=2.0) if response.status_code == 403 else None

    transport = ScriptedTransport(json_response(403), json_response(200))
    client = make_client(transport, fake_clock, error_mapper=mapper)
    await client.get("/quotes")
    assert transport.calls == 2


async def test_requests_join_the_base_url_and_send_bodies(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(200))
    client = make_client(transport, fake_clock, headers={"APCA-API-KEY-ID": "k"})
    await client.post("orders", json={"qty": "1"})
    await client.get("/orders", params={"status": "open"})
    await client.request("GET", "https://data.example.test/v2/bars")
    urls = [str(r.url) for r in transport.requests]
    assert urls == [
        "https://api.example.test/v2/orders",
        "https://api.example.test/v2/orders?status=open",
        "https://data.example.test/v2/bars",
    ]
    assert transport.requests[0].content == b'{"qty":"1"}'
    assert transport.requests[0].headers["APCA-API-KEY-ID"] == "k"
    assert transport.requests[0].headers["Content-Type"] == "application/json"


async def test_auth_flow_is_applied_and_may_resend(fake_clock: FakeClock) -> None:
    class RefreshingAuth(httpx.Auth):
        def __init__(self) -> None:
            self.token = "old"
            self.refreshes = 0

        async def async_auth_flow(self, request: httpx.Request):
            request.headers["Authorization"] = f"Bearer {self.token}"
            response = yield request
            if response.status_code == 401:
                self.token = "new"
                self.refreshes += 1
                request.headers["Authorization"] = f"Bearer {self.token}"
                yield request

    def answer(request: httpx.Request) -> httpx.Response:
        ok = request.headers["Authorization"] == "Bearer new"
        return json_response(200 if ok else 401)

    auth = RefreshingAuth()
    transport = ScriptedTransport(answer)
    client = make_client(transport, fake_clock, auth=auth)
    assert (await client.get("/account")).status_code == 200
    assert auth.refreshes == 1
    assert transport.calls == 2


async def test_non_json_body_from_get_json_is_payload_rejected(fake_clock: FakeClock) -> None:
    client = make_client(ScriptedTransport(httpx.Response(200, content=b"<html>")), fake_clock)
    with pytest.raises(PayloadRejected):
        await client.get_json("/account")


async def test_observer_failure_does_not_break_the_call(fake_clock: FakeClock) -> None:
    def broken(record: CallRecord) -> None:
        raise RuntimeError("observer bug")

    client = make_client(ScriptedTransport(json_response(200)), fake_clock, observers=[broken])
    assert (await client.get("/x")).status_code == 200


async def test_closed_client_refuses_calls(fake_clock: FakeClock) -> None:
    async with make_client(ScriptedTransport(json_response(200)), fake_clock) as client:
        await client.get("/x")
    with pytest.raises(Exception, match="closed"):
        await client.get("/x")


async def test_retry_policy_changes_at_run_time(fake_clock: FakeClock) -> None:
    transport = ScriptedTransport(json_response(503))
    client = make_client(transport, fake_clock)
    client.retry = RetryPolicy(attempts=2, base_delay=0.1)
    with pytest.raises(ServerError):
        await client.get("/x")
    assert transport.calls == 2
    assert client.retry_policy.attempts == 2
