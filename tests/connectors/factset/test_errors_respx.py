"""FactSet's error envelope and the batch flow on respx routes, with the API's answer shapes (``data/``)
rather than the mock's: which portico error each answer becomes, what is retried, what is polled."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from portico.clock import FakeClock
from portico.connectors.factset import FactSetConnector
from portico.errors import (
    AuthError,
    NotFound,
    PayloadRejected,
    RateLimited,
    ReadTimeout,
    ServerError,
    VenueRejected,
)
from portico.sdk import RetryPolicy
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
BASE = "https://factset.test/content"
PRICES = f"{BASE}/factset-prices/v1/prices"
RETURNS = f"{BASE}/factset-prices/v1/returns"
STATUS = f"{BASE}/batch/v1/status"
RESULT = f"{BASE}/batch/v1/result"
API_KEY = "respx-secret-api-key-31337"
START, END = date(2024, 3, 4), date(2024, 3, 5)


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(router: respx.Router, clock: FakeClock, **connection: Any) -> FactSetConnector:
    connector = respx_connector(
        FactSetConnector, router, urls={"base": BASE, "auth": "https://auth.factset.test"}, clock=clock,
        credentials={"username": "ACME-123456", "password": API_KEY}, connection=connection,
        retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0, max_retry_after=30.0),
    )  # fmt: skip
    assert isinstance(connector, FactSetConnector)
    return connector


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock) -> AsyncIterator[FactSetConnector]:
    connector = make(router, clock)
    await connector.open()
    yield connector
    await connector.close()


async def test_unknown_ids_are_not_found_naming_them(
    connector: FactSetConnector, router: respx.Router
) -> None:
    router.get(PRICES).mock(return_value=httpx.Response(400, json=captured("error_invalid_ids.json")))
    with pytest.raises(NotFound) as caught:
        await connector.get_prices(["NOSUCH-XX"], start=START, end=END)
    assert "NOSUCH-XX" in str(caught.value)
    assert caught.value.status_code == 400 and caught.value.venue_code == "Bad Request"
    assert caught.value.system == "factset"


async def test_a_refused_parameter_is_venue_rejected_with_factsets_message(
    connector: FactSetConnector, router: respx.Router
) -> None:
    route = router.get(RETURNS).mock(
        return_value=httpx.Response(400, json=captured("error_bad_frequency.json"))
    )
    with pytest.raises(VenueRejected) as caught:
        await connector.get_returns(["AAPL"], start=START, end=END, frequency="CQ")
    assert not isinstance(caught.value, NotFound)
    assert "The parameter 'frequency' has an invalid value 'Q'" in str(caught.value)
    assert route.call_count == 1  # a definitive refusal is not retried


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, "error_unauthorized.json", "FactSet refused the credentials: User Authentication Failed."),
        (403, "error_forbidden.json", "does not entitle these credentials to the call"),
    ],
)
async def test_credentials_refused_or_not_entitled_are_auth_errors_without_the_key(
    connector: FactSetConnector, router: respx.Router, status: int, body: str, expected: str
) -> None:
    router.get(PRICES).mock(return_value=httpx.Response(status, json=captured(body)))
    with pytest.raises(AuthError) as caught:
        await connector.get_prices(["AAPL"], start=START, end=END)
    assert expected in str(caught.value)
    assert API_KEY not in str(caught.value) and API_KEY not in repr(caught.value)


async def test_a_429_is_retried_after_its_retry_after_then_succeeds(
    connector: FactSetConnector, router: respx.Router, clock: FakeClock
) -> None:
    route = router.get(PRICES).mock(
        side_effect=[
            httpx.Response(429, json=captured("error_throttled.json"), headers={"Retry-After": "1"}),
            httpx.Response(200, json=captured("prices.json")),
        ]
    )
    bars = await connector.get_prices(["FDS-US"], start=START, end=END)
    assert len(bars["FDS-US"]) == 2
    assert route.call_count == 2
    assert 1.0 in clock.sleeps


async def test_throttling_that_outlasts_the_retries_is_rate_limited(
    connector: FactSetConnector, router: respx.Router
) -> None:
    throttled = httpx.Response(429, json=captured("error_throttled.json"), headers={"Retry-After": "1"})
    route = router.get(PRICES).mock(return_value=throttled)
    with pytest.raises(RateLimited) as caught:
        await connector.get_prices(["FDS-US"], start=START, end=END)
    assert "Rate limit is set to 25 requests per second" in str(caught.value)
    assert caught.value.retry_after == 1.0
    assert route.call_count == 3


async def test_a_5xx_is_retried_then_a_server_error(
    connector: FactSetConnector, router: respx.Router
) -> None:
    route = router.get(PRICES).mock(return_value=httpx.Response(503, text="Service Unavailable"))
    with pytest.raises(ServerError):
        await connector.get_prices(["FDS-US"], start=START, end=END)
    assert route.call_count == 3


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), "not JSON"),
        (httpx.Response(200, json={"rows": []}), "no data list"),
        (
            httpx.Response(200, json={"data": [{"fsymId": "X", "price": 1}]}),
            "do not have the documented shape",
        ),
    ],
)
async def test_an_unreadable_answer_is_payload_rejected(
    connector: FactSetConnector, router: respx.Router, answer: httpx.Response, expected: str
) -> None:
    router.get(PRICES).mock(return_value=answer)
    with pytest.raises(PayloadRejected, match=expected):
        await connector.get_prices(["FDS-US"], start=START, end=END)


async def test_the_api_key_travels_in_the_authorization_header_never_the_url(
    connector: FactSetConnector, router: respx.Router
) -> None:
    route = router.get(PRICES).mock(return_value=httpx.Response(200, json=captured("prices.json")))
    await connector.get_prices(["FDS-US"], start=START, end=END)
    request = route.calls.last.request
    assert request.headers["authorization"].startswith("Basic ")
    assert API_KEY not in str(request.url)
    assert dict(request.url.params) == {
        "ids": "FDS-US", "startDate": "2024-03-04", "endDate": "2024-03-05", "frequency": "D",
        "calendar": "FIVEDAY", "adjust": "SPLIT",
    }  # fmt: skip


# -- the batch flow ------------------------------------------------------------------------------


def _many(n: int) -> list[str]:
    return [f"ID{i:04d}-US" for i in range(n)]


async def test_many_ids_run_as_a_batch_polled_until_done(router: respx.Router, clock: FakeClock) -> None:
    connector = make(router, clock, batch_ids_over=2, batch_poll_seconds=3)
    submit = router.post(PRICES).mock(return_value=httpx.Response(202, json=captured("batch_202.json")))
    status = router.get(STATUS).mock(
        side_effect=[
            httpx.Response(202, json=captured("batch_status_executing.json")),
            httpx.Response(201, json=captured("batch_status_done.json")),
        ]
    )
    result = router.get(RESULT).mock(return_value=httpx.Response(200, json=captured("prices.json")))
    bars = await connector.get_prices([*_many(3), "FDS-US"], start=START, end=END)
    await connector.close()
    body = json.loads(submit.calls.last.request.content)
    assert body["batch"] == "Y" and len(body["ids"]) == 4
    assert status.call_count == 2
    assert dict(status.calls.last.request.url.params) == {"id": "8a3f1a1e-3c2b-4c55-9d0e-6f0b1f4a2b17"}
    assert result.call_count == 1
    assert clock.sleeps.count(3.0) == 2  # one poll interval before each status call
    assert len(bars["FDS-US"]) == 2 and bars["ID0000-US"] == []


async def test_a_batch_not_done_by_the_deadline_is_abandoned(router: respx.Router, clock: FakeClock) -> None:
    connector = make(router, clock, batch_ids_over=1, batch_poll_seconds=2, batch_deadline_seconds=7)
    router.post(PRICES).mock(return_value=httpx.Response(202, json=captured("batch_202.json")))
    status = router.get(STATUS).mock(
        return_value=httpx.Response(202, json=captured("batch_status_executing.json"))
    )
    result = router.get(RESULT)
    with pytest.raises(ReadTimeout) as caught:
        await connector.get_prices(_many(2), start=START, end=END)
    await connector.close()
    assert "not done after 7s" in str(caught.value) and "8a3f1a1e" in str(caught.value)
    # polls at 2, 4, 6 and a last one at 7 s (the remaining second), then the deadline
    assert status.call_count == 4
    assert sum(clock.sleeps) == pytest.approx(7.0)
    assert not result.called


async def test_a_failed_batch_is_venue_rejected_with_its_reason(
    router: respx.Router, clock: FakeClock
) -> None:
    connector = make(router, clock, batch_ids_over=1)
    router.post(PRICES).mock(return_value=httpx.Response(202, json=captured("batch_202.json")))
    router.get(STATUS).mock(return_value=httpx.Response(201, json=captured("batch_status_failed.json")))
    with pytest.raises(VenueRejected, match="failed: Request exceeded the batch row limit"):
        await connector.get_prices(_many(2), start=START, end=END)
    await connector.close()


async def test_endpoints_without_batch_processing_are_asked_in_chunks(
    router: respx.Router, clock: FakeClock
) -> None:
    connector = make(router, clock, batch_ids_over=1)
    route = router.get(RETURNS).mock(return_value=httpx.Response(200, json={"data": []}))
    await connector.get_returns(_many(450), start=START, end=END)
    await connector.close()
    sizes = [len(call.request.url.params["ids"].split(",")) for call in route.calls]
    assert sizes == [200, 200, 50]


async def test_a_chunk_of_unknown_ids_does_not_lose_the_other_chunks(
    router: respx.Router, clock: FakeClock
) -> None:
    connector = make(router, clock)
    known = {
        "data": [{"fsymId": "P8R3C2-R", "date": "2024-03-04", "totalReturn": 1.5, "requestId": "ID0000-US"}]
    }
    router.get(RETURNS).mock(
        side_effect=[
            httpx.Response(200, json=known),
            httpx.Response(400, json=captured("error_invalid_ids.json")),
        ]
    )
    returns = await connector.get_returns(_many(201), start=START, end=END)
    await connector.close()
    assert [(r.symbol, r.return_percent) for r in returns] == [("ID0000-US", Decimal("1.5"))]


async def test_every_chunk_unknown_is_not_found(router: respx.Router, clock: FakeClock) -> None:
    connector = make(router, clock)
    route = router.get(RETURNS).mock(
        return_value=httpx.Response(400, json=captured("error_invalid_ids.json"))
    )
    with pytest.raises(NotFound):
        await connector.get_returns(_many(201), start=START, end=END)
    await connector.close()
    assert route.call_count == 2
