"""LSEG's error answers and retry decisions on respx routes, with the captured bodies in ``data/``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from portico.auth import AuthContext
from portico.clock import FakeClock
from portico.connectors.refinitiv import SCHEME, RefinitivConnector, RefinitivPasswordAuth
from portico.errors import AuthError, NotFound, PayloadRejected, RateLimited, ServerError, VenueRejected
from portico.models import BarInterval
from tests.connectors.respx_kit import respx_connector

DATA = Path(__file__).parent / "data"
BASE = "https://lseg.test"
TOKEN_URL = f"{BASE}/auth/oauth2/v1/token"
HP = f"{BASE}/data/historical-pricing/v1/views"
PASSWORD = "respx-password-4e8d"
APP_KEY = "respx-app-key-1a2b"


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture
def router() -> respx.Router:
    router = respx.Router(assert_all_called=False)
    router.post(TOKEN_URL).respond(200, json=captured("token_v1.json"))
    return router


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 6, 16, 0, tzinfo=UTC))


def _auth(router: respx.Router, clock: FakeClock) -> RefinitivPasswordAuth:
    context = AuthContext(system_id="refinitiv", scheme=SCHEME, clock=clock,
                          transport=httpx.MockTransport(router.async_handler))  # fmt: skip
    return RefinitivPasswordAuth(
        context,
        {"app_key": APP_KEY, "username": "respx-user", "password": PASSWORD},
        {"token_url": TOKEN_URL},
    )


@pytest.fixture
async def connector(router: respx.Router, clock: FakeClock) -> Any:
    connector = respx_connector(
        RefinitivConnector, router, urls={"base": BASE}, clock=clock, auth=_auth(router, clock)
    )
    await connector.open()
    yield connector
    await connector.close()


async def test_an_in_body_no_permission_status_is_an_auth_error_never_retried(
    connector: RefinitivConnector, router: respx.Router
) -> None:
    route = router.get(f"{HP}/interday-summaries/VOD.L").respond(
        200, json=captured("interday_summaries_status_no_permission.json")
    )
    with pytest.raises(AuthError, match="no permission for VOD.L") as caught:
        await connector.get_bars("VOD.L", BarInterval.DAY, limit=5)
    assert caught.value.venue_code == "TS.Interday.UserNotPermission.70112"
    assert caught.value.request == "GET /data/historical-pricing/v1/views/interday-summaries/{ric}"
    assert route.call_count == 1


async def test_an_unknown_ric_is_not_found(connector: RefinitivConnector, router: respx.Router) -> None:
    router.get(f"{HP}/intraday-summaries/NOSUCH.X").respond(
        200, json=captured("intraday_summaries_status_not_found.json")
    )
    with pytest.raises(NotFound, match="does not know the RIC NOSUCH.X") as caught:
        await connector.get_bars("NOSUCH.X", BarInterval.MIN_1, limit=5)
    assert caught.value.venue_code == "TS.Intraday.UserRequestError.90001"


async def test_a_token_expired_401_refreshes_once_and_retries(
    connector: RefinitivConnector, router: respx.Router
) -> None:
    ok = captured("interday_summaries_gs_n.json")
    route = router.get(f"{HP}/interday-summaries/GS.N").mock(
        side_effect=[
            httpx.Response(401, json=captured("gateway_error_401.json")),
            httpx.Response(200, json=ok),
        ]
    )
    bars = await connector.get_bars("GS.N", BarInterval.DAY, limit=3)
    assert len(bars) == 3
    assert route.call_count == 2
    token_calls = [c for c in router.calls if c.request.url == TOKEN_URL]
    assert [b"grant_type=password" in c.request.content for c in token_calls] == [True, False]
    assert b"grant_type=refresh_token" in token_calls[1].request.content


async def test_a_401_after_the_refresh_is_an_auth_error_without_the_token(
    connector: RefinitivConnector, router: respx.Router
) -> None:
    router.get(f"{HP}/interday-summaries/GS.N").respond(401, json=captured("gateway_error_401.json"))
    with pytest.raises(AuthError, match="LSEG refused the access token") as caught:
        await connector.get_bars("GS.N", BarInterval.DAY, limit=3)
    assert caught.value.status_code == 401
    token = captured("token_v1.json")["access_token"]
    for text in (str(caught.value), repr(caught.value), json.dumps(caught.value.to_dict())):
        assert token not in text and PASSWORD not in text


async def test_429_is_retried_with_backoff_then_rate_limited(
    connector: RefinitivConnector, router: respx.Router, clock: FakeClock
) -> None:
    body = {
        "error": {"id": "x", "code": "429", "message": "Too many requests", "status": "Too Many Requests"}
    }
    route = router.get(f"{BASE}/data/pricing/snapshots/v1/").respond(429, json=body)
    with pytest.raises(RateLimited, match="LSEG throttled the call: Too many requests"):
        await connector.get_latest_quotes(["AAPL.O"])
    assert route.call_count == 3  # the respx kit's retry policy: three attempts
    assert clock.sleeps, "the retries waited"


async def test_a_503_is_retried_then_a_server_error(
    connector: RefinitivConnector, router: respx.Router
) -> None:
    route = router.get(f"{BASE}/data/pricing/snapshots/v1/").respond(503, text="upstream unavailable")
    with pytest.raises(ServerError):
        await connector.get_fx_rate("EUR", "USD")
    assert route.call_count == 3


async def test_a_400_lists_the_gateway_reasons(connector: RefinitivConnector, router: respx.Router) -> None:
    body = {"error": {"id": "y", "code": "400", "message": "Validation error", "status": "Bad Request",
                      "errors": [{"key": "interval", "reason": "unsupported"}]}}  # fmt: skip
    router.get(f"{HP}/interday-summaries/GS.N").respond(400, json=body)
    with pytest.raises(VenueRejected, match=r"Validation error \(interval: unsupported\)"):
        await connector.get_bars("GS.N", BarInterval.DAY, limit=3)


async def test_a_body_that_is_not_json_is_a_payload_error(
    connector: RefinitivConnector, router: respx.Router
) -> None:
    router.get(f"{HP}/interday-summaries/GS.N").respond(200, text="<html>maintenance</html>")
    with pytest.raises(PayloadRejected, match="not JSON"):
        await connector.get_bars("GS.N", BarInterval.DAY, limit=3)


async def test_a_snapshot_status_message_names_every_missing_ric(
    connector: RefinitivConnector, router: respx.Router
) -> None:
    router.get(f"{BASE}/data/pricing/snapshots/v1/").respond(200, json=captured("pricing_snapshots_eur.json"))
    with pytest.raises(NotFound, match=r"no snapshot for XYZ=: .*could not be found") as caught:
        await connector.get_latest_quotes(["EUR=", "XYZ="])
    assert caught.value.venue_code == "NotFound"


async def test_the_session_quota_refusal_says_how_to_fix_it(router: respx.Router, clock: FakeClock) -> None:
    router.routes.clear()
    router.post(TOKEN_URL).respond(401, json=captured("token_error_session_quota.json"))
    connector = respx_connector(
        RefinitivConnector, router, urls={"base": BASE}, clock=clock, auth=_auth(router, clock)
    )
    try:
        with pytest.raises(AuthError, match="take_exclusive_sign_on: true") as caught:
            await connector.get_fx_rate("EUR", "USD")
        assert caught.value.venue_code == "access_denied"
        assert PASSWORD not in str(caught.value)
    finally:
        await connector.close()


async def test_datagrid_in_body_errors_map_to_typed_errors(
    connector: RefinitivConnector, router: respx.Router
) -> None:
    route = router.post(f"{BASE}/data/datagrid/beta1/")
    route.respond(200, json={"error": {"code": 218, "description": "Unable to resolve all requested fields"}})
    with pytest.raises(PayloadRejected, match="knows none of the fields"):
        await connector.get_reference_data(["IBM.N"], ["TR.Nope"])
    route.respond(
        200, json={"error": {"code": 412, "description": "Unable to resolve all requested identifiers"}}
    )
    with pytest.raises(NotFound, match="knows none of the instruments"):
        await connector.get_fundamentals("NOPE.X")


async def test_the_datagrid_request_body_is_lsegs(
    connector: RefinitivConnector, router: respx.Router
) -> None:
    route = router.post(f"{BASE}/data/datagrid/beta1/").respond(200, json=captured("datagrid_ibm.json"))
    values = await connector.get_reference_data(["IBM.N"], ["TR.CommonName", "TR.PE"])
    assert json.loads(route.calls.last.request.content) == {
        "universe": ["IBM.N"],
        "fields": ["TR.CommonName", "TR.PE"],
    }
    assert route.calls.last.request.headers["authorization"].startswith("Bearer ")
    assert values == {
        "IBM.N": {"TR.CommonName": "International Business Machines Corp", "TR.PE": Decimal("21.37")}
    }


def _events(rows: list[list[Any]]) -> dict[str, Any]:
    names = ["DATE_TIME", "EVENT_TYPE", "TRDPRC_1", "TRDVOL_1", "SEQNUM"]
    return [{"universe": {"ric": "AAPL.O"}, "headers": [{"name": n} for n in names], "data": rows}]  # type: ignore[return-value]


async def test_event_pages_overlap_so_rows_sharing_the_boundary_time_are_not_lost(
    router: respx.Router, clock: FakeClock
) -> None:
    t3, t2, t1 = (
        "2026-01-06T15:00:03.000000000Z",
        "2026-01-06T15:00:02.000000000Z",
        "2026-01-06T15:00:01.000000000Z",
    )
    a, b, c, d = (
        [t3, "trade", 10, 1, 4],
        [t2, "trade", 11, 1, 3],
        [t2, "trade", 12, 1, 2],
        [t2, "trade", 13, 1, 1],
    )
    e = [t1, "trade", 14, 1, 0]
    route = router.get(f"{HP}/events/AAPL.O").mock(
        side_effect=[
            httpx.Response(200, json=_events([a, b, c])),  # cut in the middle of the three t2 events
            httpx.Response(200, json=_events([b, c, d])),  # end=t2 inclusive: one new row
            httpx.Response(200, json=_events([b, c, d])),  # nothing new: the connector steps just past t2
            httpx.Response(200, json=_events([e])),
            httpx.Response(200, json=_events([])),
        ]
    )
    connector = respx_connector(
        RefinitivConnector, router, urls={"base": BASE}, clock=clock, auth=_auth(router, clock),
        connection={"intraday_rows_per_request": 3},
    )  # fmt: skip
    try:
        trades = await connector.get_trades(
            "AAPL.O",
            start=datetime(2026, 1, 6, 15, 0, tzinfo=UTC),
            end=datetime(2026, 1, 6, 15, 1, tzinfo=UTC),
        )
    finally:
        await connector.close()
    assert sorted(t.price for t in trades) == [Decimal(p) for p in ("10", "11", "12", "13", "14")]
    ends = [call.request.url.params["end"] for call in route.calls]
    assert ends[1] == ends[2] == "2026-01-06T15:00:02.000000Z"
    assert ends[3] == "2026-01-06T15:00:01.999999Z"  # one microsecond before the crowded timestamp
