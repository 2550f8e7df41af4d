"""FactSet's own SDK (fds.sdk.FactSetPrices, fds.sdk.utils) unchanged against the mock over TCP."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date

import fds.sdk.FactSetPrices as fp
import pytest
from fds.sdk.FactSetPrices.api.batch_processing_api import BatchProcessingApi
from fds.sdk.FactSetPrices.api.prices_api import PricesApi
from fds.sdk.FactSetPrices.api.returns_api import ReturnsApi
from fds.sdk.utils.authentication import ConfidentialClient

from portico.mocks import RunningMock, start_mock
from portico.mocks._kit import MockClock
from portico.mocks.factset import create_app
from tests.connectors.factset.keys import API_KEY, CLIENT_ID, USER, private_jwk, public_jwk

sys.setrecursionlimit(max(sys.getrecursionlimit(), 1500))  # the SDK's documented note for large packages


@pytest.fixture
def served() -> Iterator[RunningMock]:
    clock = MockClock()
    running = start_mock(
        create_app(seed=7, clock=clock, users={USER: API_KEY}, clients={CLIENT_ID: public_jwk()})
    )
    yield running
    import asyncio

    asyncio.run(running.stop())


def _basic(running: RunningMock) -> fp.ApiClient:
    cfg = fp.Configuration(host=running.urls["base"], username=USER, password=API_KEY)
    return fp.ApiClient(cfg)


def test_prices_and_returns_for_two_ids_over_a_date_range_with_basic_auth(served: RunningMock) -> None:
    with _basic(served) as client:
        prices = PricesApi(client).get_security_prices(
            ["AAPL-US", "MH33D6-R"], start_date="2024-03-04", end_date="2024-03-08", frequency="D"
        )
        rows = prices.get_response_200().data
        # 5 business days x 2 ids; both ids resolve to Apple's fsymId
        assert len(rows) == 10
        assert {r.fsym_id for r in rows} == {"MH33D6-R"}
        assert {r.request_id for r in rows} == {"AAPL-US", "MH33D6-R"}
        assert rows[0].date == date(2024, 3, 4)
        assert rows[0].currency == "USD"
        returns = ReturnsApi(client).get_security_returns(
            ["AAPL-US", "MSFT-US"], start_date="2024-03-04", end_date="2024-03-08"
        )
        data = returns.data
        assert len(data) == 10
        assert {r.fsym_id for r in data} == {"MH33D6-R", "P8R3C2-R"}


def test_oauth_confidential_client_with_well_known_uri(
    served: RunningMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "OAUTHLIB_INSECURE_TRANSPORT", "1"
    )  # oauthlib's own switch for a plain-HTTP loopback server
    base = served.urls["base"].removesuffix("/content")
    cc = ConfidentialClient(
        config={
            "name": "portico",
            "clientId": CLIENT_ID,
            "clientAuthType": "Confidential",
            "wellKnownUri": f"{base}/.well-known/openid-configuration",
            "jwk": private_jwk(),
        }
    )
    cfg = fp.Configuration(host=served.urls["base"], fds_oauth_client=cc)
    with fp.ApiClient(cfg) as client:
        api = PricesApi(client)
        first = api.get_security_prices(["FDS-US"], start_date="2024-03-04", end_date="2024-03-05")
        second = api.get_security_prices(["FDS-US"], start_date="2024-03-06", end_date="2024-03-06")
    assert len(first.get_response_200().data) == 2
    assert len(second.get_response_200().data) == 1
    assert served.app.state.mock.token_requests == 1  # the client cached its token


def test_batch_request_202_then_200(served: RunningMock) -> None:
    with _basic(served) as client:
        started = PricesApi(client).get_security_prices(
            ["AAPL-US", "MSFT-US"], start_date="2024-03-04", end_date="2024-03-05", batch="Y"
        )
        status = started.get_response_202().data
        assert status.status == "EXECUTING"
        batch = BatchProcessingApi(client)
        running, code, _ = batch.get_batch_status_with_http_info(id=status.id)
        assert (code, running.data.status) == (202, "EXECUTING")
        served.app.clock.advance(5)
        done, code, _ = batch.get_batch_status_with_http_info(id=status.id)
        assert (code, done.data.status) == (201, "DONE")
        # the generated BatchResult is a oneOf whose members all accept a price row, so the SDK cannot pick one
        # when it deserializes; its own _preload_content=False hands back the raw answer instead
        raw = batch.get_batch_data(id=status.id, _preload_content=False)
        assert raw.status == 200
        result = json.loads(raw.data)["data"]
        assert len(result) == 4
        assert {r["requestId"] for r in result} == {"AAPL-US", "MSFT-US"}


def test_invalid_id_is_an_api_exception_with_the_error_envelope(served: RunningMock) -> None:
    with _basic(served) as client, pytest.raises(fp.ApiException) as caught:
        PricesApi(client).get_security_prices(["NOSUCH-XX"], start_date="2024-03-04", end_date="2024-03-05")
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["subErrors"]["rejectedValue"] == ["NOSUCH-XX"]
    assert body["path"] == "/content/factset-prices/v1/prices"
    assert body["status"] == "Bad Request"


def test_wrong_api_key_is_401(served: RunningMock) -> None:
    cfg = fp.Configuration(host=served.urls["base"], username=USER, password="wrong")
    with fp.ApiClient(cfg) as client, pytest.raises(fp.ApiException) as caught:
        PricesApi(client).get_security_prices(["AAPL-US"])
    assert caught.value.status == 401


def test_weekly_prices_in_another_currency_dividends_and_references(served: RunningMock) -> None:
    from fds.sdk.FactSetPrices.api.dividends_api import DividendsApi
    from fds.sdk.FactSetPrices.api.reference_api import ReferenceApi
    from fds.sdk.FactSetPrices.api.splits_api import SplitsApi

    with _basic(served) as client:
        local = PricesApi(client).get_security_prices(
            ["AAPL-US"], start_date="2024-03-04", end_date="2024-03-15"
        )
        weekly = PricesApi(client).get_security_prices(
            ["AAPL-US"], start_date="2024-03-04", end_date="2024-03-15", frequency="W", currency="EUR"
        )
        daily = local.get_response_200().data
        rows = weekly.get_response_200().data
        # two weeks ending on Friday 8 and Friday 15 March, closes converted at the mock's 1.08 USD per EUR
        assert [r.date for r in rows] == [date(2024, 3, 8), date(2024, 3, 15)]
        assert {r.currency for r in rows} == {"EUR"}
        assert rows[0].price == pytest.approx(daily[4].price / 1.08, abs=1e-3)
        assert rows[0].price_high == pytest.approx(max(r.price_high for r in daily[:5]) / 1.08, abs=1e-3)
        dividends = (
            DividendsApi(client)
            .get_security_dividends(["MSFT-US"], start_date="2024-01-01", end_date="2024-12-31")
            .data
        )
        assert [d.divs_ex_date for d in dividends] == [
            date(2024, 2, 10),
            date(2024, 5, 10),
            date(2024, 8, 10),
            date(2024, 11, 10),
        ]
        assert dividends[0].divs_paid == 0.25
        splits = SplitsApi(client).get_security_splits(["FDS-US"]).data
        assert [(s.date, s.split_factor) for s in splits] == [(date(2024, 6, 10), 0.5)]
        refs = ReferenceApi(client).get_security_references(["VOD-GB"]).data
        assert (refs[0].fsym_id, refs[0].currency, refs[0].country) == ("R7DHYB-R", "GBP", "GB")


def test_a_client_registered_on_a_served_mock_gets_tokens_for_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import httpx

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    running = start_mock("factset", seed=3)  # as `portico mock factset` serves it: no client registered
    try:
        base = running.urls["auth"]
        refused = httpx.post(
            f"{base}/__mock__/factset/clients", json={"clientId": CLIENT_ID, "jwk": {"kty": "RSA"}}
        )
        assert refused.status_code == 400
        registered = httpx.post(
            f"{base}/__mock__/factset/clients", json={"clientId": CLIENT_ID, "jwk": private_jwk()}
        )
        assert registered.status_code == 201
        assert "d" not in running.app.state.mock.clients[CLIENT_ID]  # only the public half is kept
        cc = ConfidentialClient(config={
            "name": "portico", "clientId": CLIENT_ID, "clientAuthType": "Confidential",
            "wellKnownUri": f"{base}/.well-known/openid-configuration", "jwk": private_jwk(),
        })  # fmt: skip
        with fp.ApiClient(fp.Configuration(host=running.urls["base"], fds_oauth_client=cc)) as client:
            rows = PricesApi(client).get_security_prices(
                ["MSFT-US"], start_date="2024-03-04", end_date="2024-03-04"
            )
        assert [r.fsym_id for r in rows.get_response_200().data] == ["P8R3C2-R"]
    finally:
        asyncio.run(running.stop())


def test_a_batch_posted_with_the_request_object_is_the_body_the_connector_sends(served: RunningMock) -> None:
    from fds.sdk.FactSetPrices.model.batch import Batch
    from fds.sdk.FactSetPrices.model.prices_ids import PricesIds
    from fds.sdk.FactSetPrices.model.prices_request import PricesRequest

    with _basic(served) as client:
        request = PricesRequest(
            ids=PricesIds(["AAPL-US", "MSFT-US"]),
            start_date="2024-03-04",
            end_date="2024-03-05",
            batch=Batch("Y"),
        )
        started = PricesApi(client).get_security_prices_for_list(request).get_response_202().data
        assert started.status == "EXECUTING"
        served.app.clock.advance(5)
        raw = BatchProcessingApi(client).get_batch_data(id=started.id, _preload_content=False)
    (post,) = [e for e in served.app.journal.entries() if e.method == "POST"]
    # top-level fields, camelCase, ids as a list: what FactSetClient posts for a batch
    assert json.loads(post.body) == {
        "ids": ["AAPL-US", "MSFT-US"], "startDate": "2024-03-04", "endDate": "2024-03-05", "batch": "Y",
    }  # fmt: skip
    assert len(json.loads(raw.data)["data"]) == 4
