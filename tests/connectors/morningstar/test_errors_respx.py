"""Morningstar's error answers and retry decisions on respx routes, with payloads captured in ``data/``
(shapes from the package's source and documentation) rather than the mock's."""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
import respx

from portico.clock import FakeClock
from portico.connectors.morningstar import MorningstarConnector
from portico.errors import AuthError, NotFound, PayloadRejected, RateLimited, ServerError, VenueRejected
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
BASE = "https://ms.test/md-api/"
V1 = "https://ms.test/md-api/v1"
TASK = f"{V1}/task/10000000-0000-0000-0000-000000000000"


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def jwt_for_tests(exp: int = 4_102_444_800) -> str:
    """A token of JWT shape (the service verifies it; the connector reads only ``exp``): 2100-01-01."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return (
        f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'exp': exp, 'sub': 'respx'})}.c2lnbmF0dXJlLXNlY3JldA"
    )


TOKEN = jwt_for_tests()


def feather(columns: dict[str, list[Any]]) -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(columns).write_ipc(buffer)
    return buffer.getvalue()


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock) -> AsyncIterator[MorningstarConnector]:
    connector = respx_connector(MorningstarConnector, router, urls={"base": BASE}, clock=clock,
                                credentials={"token": TOKEN})  # fmt: skip
    await connector.open()
    assert isinstance(connector, MorningstarConnector)
    yield connector
    await connector.close()


async def test_access_denied_is_an_auth_error_never_retried(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    route = router.post(f"{V1}/get_investment_data").respond(401, json=captured("error_access_denied.json"))
    with pytest.raises(AuthError, match="Invalid or expired token") as caught:
        await connector.get_fund_data(["F00000YOOK"])
    assert caught.value.venue_code == "AccessDeniedError"
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


async def test_bad_request_is_a_venue_refusal(connector: MorningstarConnector, router: respx.Router) -> None:
    route = router.post(f"{V1}/get_holdings_task").respond(400, json=captured("error_bad_request.json"))
    with pytest.raises(VenueRejected, match="investments") as caught:
        await connector.get_holdings(["F00000YOOK"])
    assert caught.value.venue_code == "BadRequestError"
    assert caught.value.status_code == 400
    assert route.call_count == 1


async def test_resource_not_found_is_not_found(connector: MorningstarConnector, router: respx.Router) -> None:
    router.post(f"{V1}/get_holding_dates").respond(404, json=captured("error_not_found.json"))
    with pytest.raises(NotFound, match="Requested resource not found"):
        await connector.get_holding_dates(["F00000YOOK"])


async def test_a_429_is_retried_after_its_wait_then_rate_limited(
    connector: MorningstarConnector, router: respx.Router, clock: FakeClock
) -> None:
    route = router.get(f"{V1}/search_security").respond(429, headers={"Retry-After": "7"}, json={})
    with pytest.raises(RateLimited) as caught:
        await connector.search_instruments("AAPL")
    assert route.call_count == 3
    assert 7.0 in clock.sleeps
    assert caught.value.retry_after == 7.0


async def test_a_503_while_polling_is_retried_and_the_task_completes(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    router.post(f"{V1}/get_holdings_task").respond(200, json=captured("task_pending.json"))
    poll = router.get(TASK).mock(side_effect=[
        httpx.Response(503, text="upstream unavailable"),
        httpx.Response(200, json=captured("task_success_holdings.json")),
    ])  # fmt: skip
    page = gzip.compress((DATA / "holdings_page.jsonl").read_bytes())
    file_route = router.get(url__startswith="https://files.ms.test/holdings/page-1.jsonl.gz").respond(
        200, content=page
    )
    holdings = await connector.get_holdings(["FOUSA00KZH"])
    assert poll.call_count == 2
    assert "authorization" not in file_route.calls.last.request.headers  # a pre-signed URL carries no token
    assert [(h.name, str(h.weight), str(h.shares)) for h in holdings] == [
        ("Microsoft Corp", "11.16649", "1200"),
        ("Apple Inc", "10.49672", "1900"),  # a {"i", "v"} time series point unwrapped
    ]
    assert {h.country for h in holdings} == {"US"}


async def test_a_503_that_persists_is_a_server_error(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    route = router.get(f"{V1}/search_security").respond(503)
    with pytest.raises(ServerError):
        await connector.search_instruments("AAPL")
    assert route.call_count == 3


async def test_a_failed_task_maps_its_error_class(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    router.post(f"{V1}/get_holdings_task").respond(200, json=captured("task_pending.json"))
    router.get(TASK).respond(200, json=captured("task_failure_access_denied.json"))
    with pytest.raises(AuthError, match="holdings data") as caught:
        await connector.get_holdings(["F00000YOOK"])
    assert "10000000-0000-0000-0000-000000000000" in str(caught.value)


async def test_a_body_that_is_no_task_is_refused(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    router.post(f"{V1}/get_investment_data").respond(200, json={"status": "pending"})
    with pytest.raises(PayloadRejected, match="no valid task"):
        await connector.get_fund_data(["F00000YOOK"])


async def test_a_body_that_is_not_json_is_refused(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    router.get(f"{V1}/search_security").respond(200, text="<html>maintenance</html>")
    with pytest.raises(PayloadRejected, match="not JSON"):
        await connector.search_instruments("AAPL")


async def test_a_result_that_is_not_feather_is_refused(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    done = {**captured("task_pending.json"), "status": "success",
            "result": {"dataframe_file_url": "https://files.ms.test/r.feather?sig=1"}}  # fmt: skip
    router.post(f"{V1}/get_investment_data").respond(200, json=done)
    router.get(url__startswith="https://files.ms.test/r.feather").respond(
        200, content=b"PK\x03\x04 not arrow"
    )
    with pytest.raises(PayloadRejected, match="not a feather file"):
        await connector.get_fund_data(["F00000YOOK"])


async def test_an_html_error_without_the_envelope_falls_back_to_the_status(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    router.get(f"{V1}/search_security").respond(403, text="<html>Forbidden</html>")
    with pytest.raises(AuthError):
        await connector.search_instruments("AAPL")


async def test_a_ticker_resolves_to_the_first_listing(
    connector: MorningstarConnector, router: respx.Router
) -> None:
    lookup = router.get(f"{V1}/search_security").respond(200, json=captured("search_security_aapl.json"))
    data = feather({"Id": ["0P000000GY"], "Name": ["Apple Inc"], "Base Currency": ["US Dollar"]})
    done = {**captured("task_pending.json"), "status": "success",
            "result": {"dataframe_file_url": "https://files.ms.test/r.feather?sig=1"}}  # fmt: skip
    router.post(f"{V1}/get_investment_data").respond(200, json=done)
    router.get(url__startswith="https://files.ms.test/r.feather").respond(200, content=data)
    [profile] = await connector.get_fund_data(["aapl"], [{"datapointId": "OS01W"}, {"datapointId": "LS05M"}])
    assert (profile.symbol, profile.sec_id, profile.currency) == ("aapl", "0P000000GY", "USD")
    assert lookup.calls.last.request.url.params["ticker"] == "AAPL"
