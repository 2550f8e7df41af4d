"""The Morningstar mock's own checks: token verification through its JWKS, signed result files, the
task flow and request validation, and fault injection through the mock kit."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from portico.clock import FakeClock
from portico.errors import RateLimited
from portico.mocks._kit import MockClock
from portico.mocks.morningstar import USER_ID_CLAIM, create_app
from tests.connectors.morningstar.conftest import MsHarness

ROOT = "http://morningstar.mock"
API = f"{ROOT}/md-api/v1"


@pytest.fixture
async def http(ms: MsHarness) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ms.app), base_url=ROOT) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_jwks_publishes_the_public_key_the_tokens_name(ms: MsHarness, http: httpx.AsyncClient) -> None:
    keys = (await http.get("/.well-known/jwks.json")).json()["keys"]
    assert len(keys) == 1
    assert (keys[0]["kty"], keys[0]["alg"], keys[0]["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in keys[0] and "p" not in keys[0]  # never the private part
    token = ms.mock.issue_token("abc-123")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": keys[0]["kid"]}
    claims = claims_of(token)
    assert claims[USER_ID_CLAIM] == "abc-123"
    assert claims["exp"] == claims["iat"] + 3600  # type: ignore[operator]


@pytest.mark.parametrize("kind", ["none", "not bearer", "tampered", "foreign", "expired"])
async def test_calls_without_a_valid_token_are_denied(
    ms: MsHarness, http: httpx.AsyncClient, kind: str
) -> None:
    good = ms.mock.issue_token()
    head, _payload, signature = good.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**claims_of(good), USER_ID_CLAIM: "someone-else"}).encode())
    headers = {
        "none": {},
        "not bearer": {"authorization": f"Basic {good}"},
        "tampered": bearer(f"{head}.{forged.rstrip(b'=').decode()}.{signature}"),
        "foreign": bearer(create_app(seed=1).state.mock.issue_token()),
        "expired": bearer(ms.mock.issue_token(lifetime=-1)),
    }[kind]
    answer = await http.get(f"{API}/search_security", params={"ticker": "SPY"}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error_class"] == "AccessDeniedError"


async def test_the_token_route_issues_a_usable_token(http: httpx.AsyncClient) -> None:
    issued = (await http.post("/__mock__/morningstar/token", params={"user": "u-1", "lifetime": "60"})).json()
    assert issued["user_id"] == "U-1"
    answer = await http.get(
        f"{API}/search_security", params={"ticker": "SPY"}, headers=bearer(issued["token"])
    )
    assert answer.status_code == 200
    assert [hit["SecId"] for hit in answer.json()["investments"]] == ["FEUSA04AER"]


async def test_task_flow_pending_then_success_with_a_signed_file(
    ms: MsHarness, http: httpx.AsyncClient
) -> None:
    auth = bearer(ms.mock.issue_token())
    body = {"investments": ["F00000YOOK"], "datapoints": [{"datapointId": "OS01W"}]}
    task = (await http.post(f"{API}/get_investment_data", json=body, headers=auth)).json()
    assert (task["status"], task["poll_url"]) == ("pending", f"{API}/task/{task['id']}")
    done = (await http.get(task["poll_url"], headers=auth)).json()
    assert done["status"] == "success"
    url = done["result"]["dataframe_file_url"]
    assert (await http.get(url)).content.startswith(b"ARROW1")  # the Arrow IPC (feather v2) magic
    assert (await http.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))).status_code == 403
    ms.mock.clock.advance(ms.mock.file_lifetime + 1)
    assert (await http.get(url)).status_code == 403
    missing = await http.get(f"{API}/task/00000000-0000-4000-8000-000000000000", headers=auth)
    assert (missing.status_code, missing.json()["error_class"]) == (404, "ResourceNotFoundError")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"investments": "a727113a-list-id", "datapoints": [{"datapointId": "OS01W"}]}, "Investment lists"),
        ({"investments": [], "datapoints": [{"datapointId": "OS01W"}]}, "at least one investment"),
        ({"investments": ["F00000YOOK"] * 501, "datapoints": [{"datapointId": "OS01W"}]}, "At most 500"),
        ({"investments": ["F00000YOOK"]}, "data points"),
        ({"investments": ["F00000YOOK"], "datapoints": [{"datapointId": "OS01W"}], "time_series_format": "Tall"},
         "time_series_format"),
        ({"investments": ["F00000YOOK"], "datapoints": [{"datapointId": "HP010", "isTsdp": True,
                                                         "startDate": "2025-13-01"}]}, "startDate"),
    ],
)  # fmt: skip
async def test_bad_requests_are_refused_with_the_reason(
    ms: MsHarness, http: httpx.AsyncClient, body: dict[str, object], message: str
) -> None:
    answer = await http.post(f"{API}/get_investment_data", json=body, headers=bearer(ms.mock.issue_token()))
    assert answer.status_code == 400
    assert answer.json()["error_class"] == "BadRequestError"
    assert message in answer.json()["error_message"]


async def test_a_body_that_is_not_json_is_a_bad_request(ms: MsHarness, http: httpx.AsyncClient) -> None:
    answer = await http.post(
        f"{API}/get_investment_data", content=b"{", headers=bearer(ms.mock.issue_token())
    )
    assert (answer.status_code, answer.json()["error_class"]) == (400, "BadRequestError")


def test_returns_are_seeded_and_frequencies_agree() -> None:
    first = create_app(seed=3, clock=MockClock()).state.mock.universe
    again = create_app(seed=3, clock=MockClock()).state.mock.universe
    other = create_app(seed=4, clock=MockClock()).state.mock.universe
    span = (date(2025, 1, 1), date(2025, 12, 31))
    assert first.returns("F00000YOOK", "monthly", *span) == again.returns("F00000YOOK", "monthly", *span)
    assert first.returns("F00000YOOK", "monthly", *span) != other.returns("F00000YOOK", "monthly", *span)
    quarterly = dict(first.returns("F00000YOOK", "quarterly", *span))
    monthly = dict(first.returns("F00000YOOK", "monthly", *span))
    growth = 1.0
    for month in (date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31)):
        growth *= 1 + monthly[month] / 100
    assert abs((growth - 1) * 100 - quarterly[date(2025, 3, 31)]) < 1e-4


async def test_an_injected_rate_limit_reaches_the_connector_as_rate_limited(fake_clock: FakeClock) -> None:
    harness = MsHarness(fake_clock, faults=[{"route": "/md-api/v1/get_investment_data", "kind": "rate_limit",
                                             "retry_after": 3}])  # fmt: skip
    connector = harness.connector()
    try:
        with pytest.raises(RateLimited):
            await connector.get_fund_data(["F00000YOOK"])
        assert fake_clock.sleeps.count(3.0) == 2  # waited out twice within the retry budget, then raised
    finally:
        await connector.close()
