"""The manifest's plan handling, and the mock's own safety checks (keys, parameters, cursors, plans)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from portico.clock import FakeClock
from portico.connectors.polygon import ALIASES, SPEC, PolygonConnector, rate_limit_policy
from portico.errors import ConfigurationError
from portico.mocks._kit import MockApp, MockClock
from portico.mocks.polygon import create_app
from portico.sdk import ConnectorContext, RateWindow
from tests.connectors.polygon.conftest import FREE_KEY, NOW, PolygonHarness


def test_the_manifest_names_the_vendors_new_name() -> None:
    assert SPEC.name == "polygon" and ALIASES == ("massive",)
    assert "Massive" in SPEC.display_name and "alias: massive" in SPEC.description
    assert SPEC.environment().urls["base"] == "https://api.massive.com"


def test_plans_set_the_throttling() -> None:
    assert rate_limit_policy("free").windows == (RateWindow(limit=5, period=60.0),)
    for plan in ("starter", "developer", "advanced"):
        assert rate_limit_policy(plan).windows == ()
    assert PolygonConnector.throttling_for({}).windows == (RateWindow(limit=5, period=60.0),)
    assert PolygonConnector.throttling_for({"plan": "Developer"}).windows == ()
    with pytest.raises(ConfigurationError, match="unknown Polygon plan 'gold'"):
        PolygonConnector.throttling_for({"plan": "gold"})


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"plan": "gold"}, "connection.plan"),
        ({"max_pages": 0}, "connection.max_pages"),
        ({"page_size": 60000}, "connection.page_size"),
        ({"feed": "fast"}, "connection.feed"),
        ({"plna": "free"}, "unknown key"),
    ],
)
def test_bad_connection_settings_are_named(connection: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ConnectorContext.for_testing(PolygonConnector, connection=connection, credentials={"api_key": "k"})


def test_the_delayed_feed_streams_from_the_delayed_host() -> None:
    def url(feed: str) -> str:
        context = ConnectorContext.for_testing(
            PolygonConnector, credentials={"api_key": "k"}, connection={"plan": "starter", "feed": feed}
        )
        return PolygonConnector(context)._market_stream().url

    assert url("delayed") == "wss://delayed.massive.com/stocks"
    assert url("realtime") == "wss://socket.massive.com/stocks"


async def test_the_health_check_spends_no_call_when_the_free_minute_is_used_up(
    polygon: PolygonHarness,
) -> None:
    connector = polygon.connector(key=FREE_KEY, plan="free")
    for _ in range(5):
        await connector.get_previous_close("AAPL")
    result = await connector.check()
    assert not result.ok and result.rate_limited_until is not None
    assert result.rate_limited_until > NOW
    assert len(polygon.app.journal.entries(None, None)) == 5  # the check did not call


# -- the mock's own checks ------------------------------------------------------------------------


@pytest.fixture
def app() -> MockApp:
    return create_app(seed=1, clock=MockClock(NOW), key_plans={"free-k": "free"})


@pytest.fixture
async def http(app: MockApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://polygon.mock"
    ) as client:
        yield client


async def test_the_mock_takes_the_key_as_apikey_or_bearer_and_refuses_none(http: httpx.AsyncClient) -> None:
    path = "/v2/aggs/ticker/AAPL/prev"
    assert (await http.get(path, params={"apiKey": "k"})).status_code == 200
    assert (await http.get(path, headers={"Authorization": "Bearer k"})).status_code == 200
    missing = await http.get(path)
    assert missing.status_code == 401
    body = missing.json()
    assert body["status"] == "ERROR" and body["error"] == "API Key was not provided" and body["request_id"]
    assert (await http.get(path, headers={"Authorization": "Basic k"})).status_code == 401


async def test_the_mock_refuses_unknown_keys_when_told(fake_clock: FakeClock) -> None:
    harness = PolygonHarness(fake_clock, known_keys_only=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url="http://m"
    ) as client:
        answer = await client.get("/v1/marketstatus/now", params={"apiKey": "stranger"})
    assert answer.status_code == 401 and answer.json()["error"] == "Unknown API Key"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v2/aggs/ticker/AAPL/range/1/fortnight/2025-01-01/2025-02-01", "Invalid timespan"),
        ("/v2/aggs/ticker/AAPL/range/0/day/2025-01-01/2025-02-01", "'multiplier' must be a positive integer"),
        (
            "/v2/aggs/ticker/AAPL/range/1/day/01-01-2025/2025-02-01",
            "Could not parse the time parameter: 'from'",
        ),
        ("/v2/aggs/ticker/AAPL/range/1/day/2025-01-01/2025-02-01?limit=ten", "'limit' must be an integer"),
        ("/v2/aggs/ticker/AAPL/range/1/day/2025-01-01/2025-02-01?sort=up", "'sort' must be 'asc' or 'desc'"),
        ("/v3/reference/tickers?cursor=not-a-cursor!", "cursor parameter is invalid"),
        ("/v3/reference/tickers?sort=price", "'sort' cannot be 'price'"),
        ("/v2/aggs/grouped/locale/us/market/stocks/yesterday", "Could not parse the time parameter: 'date'"),
    ],
)
async def test_the_mock_answers_bad_parameters_with_the_vendors_400(
    http: httpx.AsyncClient, path: str, message: str
) -> None:
    # the key as a header: a path with its own query keeps it (httpx >= 0.28 replaces a query by params)
    answer = await http.get(path, headers={"Authorization": "Bearer k"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "ERROR" and message in body["error"]


async def test_the_mock_pages_carry_no_key_and_resume_from_the_cursor(http: httpx.AsyncClient) -> None:
    first = (await http.get("/v3/reference/tickers", params={"apiKey": "secret-k", "limit": 4})).json()
    assert first["count"] == 4 and "secret-k" not in first["next_url"]
    assert first["next_url"].startswith("http://polygon.mock/v3/reference/tickers?cursor=")
    second = (await http.get(first["next_url"], headers={"Authorization": "Bearer secret-k"})).json()
    assert [r["ticker"] for r in first["results"]] == ["AAPL", "AMD", "AMZN", "BAC"]
    assert second["results"][0]["ticker"] == "DIS"


async def test_the_mock_enforces_plan_entitlements(http: httpx.AsyncClient, app: MockApp) -> None:
    for path in ("/v3/quotes/AAPL", "/v3/trades/AAPL", "/v2/snapshot/locale/us/markets/stocks/tickers/AAPL"):
        answer = await http.get(path, params={"apiKey": "free-k"})
        assert answer.status_code == 403 and answer.json()["status"] == "NOT_AUTHORIZED"
    app.clock.advance(61)
    assert (await http.get("/v3/reference/tickers/AAPL", params={"apiKey": "free-k"})).status_code == 200


async def test_the_mock_market_status_follows_its_clock() -> None:
    clock = MockClock(datetime(2026, 1, 3, 15, 0, tzinfo=UTC))  # a Saturday
    app = create_app(clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client:
        closed = (await client.get("/v1/marketstatus/now", params={"apiKey": "k"})).json()
        clock.set(datetime(2026, 1, 5, 22, 0, tzinfo=UTC))  # Monday 17:00 New York
        after = (await client.get("/v1/marketstatus/now", params={"apiKey": "k"})).json()
    assert closed["market"] == "closed" and closed["currencies"]["fx"] == "closed"
    assert (
        after["market"] == "extended-hours" and after["afterHours"] is True and after["earlyHours"] is False
    )
    assert "request_id" not in after  # the vendor's market status has no envelope


async def test_the_mock_admin_endpoint_moves_a_key_between_plans(http: httpx.AsyncClient) -> None:
    moved = await http.post("/__mock__/polygon/keys/some-key", json={"plan": "free"})
    assert moved.json()["plan"] == "free" and moved.json()["per_minute"] == 5
    refused = await http.post("/__mock__/polygon/keys/some-key", json={"plan": "platinum"})
    assert refused.status_code == 422 and "platinum" in refused.text


def test_the_mocks_kept_daily_bars_equal_the_generators_series() -> None:
    app = create_app(seed=4, clock=MockClock(NOW))
    mock = app.state.mock
    start, end = datetime(2025, 11, 20, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)
    for adjusted in (False, True):
        expected = mock.generator.bars("DIS", "1day", start, end, adjusted=adjusted, until=NOW)
        assert mock.daily_bars("DIS", start, end, adjusted=adjusted) == expected
        assert mock.daily_bars("DIS", start, end, adjusted=adjusted) == expected  # kept, still equal
    assert mock.daily_bars("DIS", start, end, adjusted=False)[-1].timestamp.date().isoformat() == "2026-01-05"
