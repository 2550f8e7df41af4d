"""Bloomberg's published DL REST client flow, unchanged, against the mock over TCP.

Bloomberg ships no installable Python client for Data License REST (``blpapi`` is the Desktop/Server API
and is not on the public registry either); its samples are the client: requests-oauthlib's
``OAuth2Session`` with a ``BackendApplicationClient``, ``fetch_token`` with the credential file's secret,
the ``api-version: 2`` header on the session, the token's ``exp`` read with PyJWT, then catalogs, a
request POST, polling ``content/responses`` with ``prefix`` and ``requestIdentifier``, and a streamed
download of the gzip output. The tests below do exactly that; only ``HOST`` and ``OAUTH2_ENDPOINT``
point at the mock instead of Bloomberg's hosts.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urljoin

import jwt
import pytest
import requests
import sseclient
from oauthlib.oauth2 import BackendApplicationClient, InvalidClientError
from requests_oauthlib import OAuth2Session

from portico.mocks import RunningMock, start_mock
from portico.mocks._kit import MockClock
from portico.mocks.bloomberg import create_app

CLIENT_ID = "5c0a1e7f3b2d4c8e9f1a2b3c4d5e6f70"
CLIENT_SECRET = "9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c"
START = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday, 11:00 in New York


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningMock]:
    # oauthlib's own switch for a plain-HTTP loopback token endpoint (the real one is HTTPS)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    clock = MockClock(START)
    running = start_mock(
        create_app(seed=11, clock=clock, clients={CLIENT_ID: CLIENT_SECRET}, processing_seconds=90)
    )
    yield running
    running.stop_sync()


def _session(served: RunningMock) -> tuple[OAuth2Session, str]:
    host = served.urls["base"]
    oauth2_endpoint = served.urls["auth"] + "/ext/api/as/token.oauth2"
    session = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT_ID))
    token = session.fetch_token(token_url=oauth2_endpoint, client_secret=CLIENT_SECRET)
    # the samples read the token's expiry from the JWT itself, without verifying it
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600
    session.headers["api-version"] = "2"
    return session, host


def _scheduled_catalog(session: OAuth2Session, host: str) -> str:
    response = session.get(urljoin(host, "/eap/catalogs/"))
    response.raise_for_status()
    for catalog in response.json()["contains"]:
        if catalog["subscriptionType"] == "scheduled":
            return str(catalog["identifier"])
    raise AssertionError("no scheduled catalog")


def _payload(name: str, identifier: str, media: str) -> dict[str, object]:
    return {
        "@type": "DataRequest",
        "name": name,
        "identifier": identifier,
        "description": "portico vendor-client test",
        "universe": {
            "@type": "Universe",
            "contains": [
                {"@type": "Identifier", "identifierType": "TICKER", "identifierValue": "IBM US Equity"},
                {"@type": "Identifier", "identifierType": "BB_GLOBAL", "identifierValue": "BBG000B9XRY4"},
                {"@type": "Identifier", "identifierType": "TICKER", "identifierValue": "EURUSD Curncy"},
                {"@type": "Identifier", "identifierType": "CUSIP", "identifierValue": "000000000"},
            ],
        },
        "fieldList": {
            "@type": "DataFieldList",
            "contains": [
                {"mnemonic": "NAME"},
                {"mnemonic": "PX_LAST"},
                {"mnemonic": "PX_BID"},
                {"mnemonic": "PX_ASK"},
            ],
        },
        "trigger": {"@type": "SubmitTrigger"},
        "formatting": {"@type": "MediaType", "outputMediaType": media},
    }


def _submit_and_poll(
    served: RunningMock, session: OAuth2Session, host: str, payload: dict[str, object]
) -> tuple[str, str]:
    catalog = _scheduled_catalog(session, host)
    assert catalog == "1234"
    response = session.post(urljoin(host, f"/eap/catalogs/{catalog}/requests/"), json=payload)
    assert response.status_code == 201
    request_url = urljoin(host, response.headers["Location"])
    request_id = json.loads(response.text)["request"]["identifier"]
    assert request_id == payload["identifier"]
    assert session.get(request_url).json()["@type"] == "DataRequest"

    responses_url = urljoin(host, f"/eap/catalogs/{catalog}/content/responses/")
    params = {"prefix": payload["name"], "requestIdentifier": request_id}
    assert session.get(responses_url, params=params).json()["contains"] == []  # not ready yet
    served.app.clock.advance(91)  # the sample sleeps between polls; the mock's time does instead
    contains = session.get(responses_url, params=params).json()["contains"]
    assert len(contains) == 1
    return catalog, contains[0]["key"]


def test_the_sample_flow_downloads_the_json_output_gzip_on_the_wire(served: RunningMock, tmp_path) -> None:
    session, host = _session(served)
    catalog, key = _submit_and_poll(
        served, session, host, _payload("PorticoRefJson", "porticoref1", "application/json")
    )
    assert key.startswith("PorticoRefJson.") and key.endswith(".json")

    output_url = urljoin(host, f"/eap/catalogs/{catalog}/content/responses/{key}")
    with session.get(output_url, stream=True) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{key}"'
        target = tmp_path / (key + ".gz")
        with open(target, "wb") as handle:
            shutil.copyfileobj(response.raw, handle)  # the sample keeps the gzip bytes as they came
    rows = json.loads(gzip.decompress(target.read_bytes()))
    assert [r["IDENTIFIER"] for r in rows] == ["IBM US Equity", "BBG000B9XRY4", "EURUSD Curncy", "000000000"]
    assert [r["RC"] for r in rows] == [0, 0, 0, 10]  # the unknown CUSIP is RC 10, as the samples retry on
    assert {r["DL_REQUEST_ID"] for r in rows} == {"porticoref1"}
    # the snapshot time is the moment the output was produced, in the snapshot's zone
    assert rows[0]["DL_SNAPSHOT_START_TIME"] == "2026-03-10T11:01:30"
    assert rows[0]["DL_SNAPSHOT_TZ"] == "America/New_York"
    eur = rows[2]
    assert eur["NAME"] == "EUR-USD X-RATE"
    assert float(eur["PX_BID"]) < float(eur["PX_LAST"]) < float(eur["PX_ASK"])
    assert rows[3]["PX_LAST"] is None


def test_the_csv_output_reads_with_pandas_as_the_sample_does(served: RunningMock) -> None:
    import pandas as pd

    session, host = _session(served)
    catalog, key = _submit_and_poll(
        served, session, host, _payload("PorticoRefCsv", "porticoref2", "text/csv")
    )
    output_url = urljoin(host, f"/eap/catalogs/{catalog}/content/responses/{key}")
    with session.get(output_url, stream=True) as response:
        frame = pd.read_csv(response.raw, compression="gzip")
    assert list(frame.columns[:7]) == [
        "DL_REQUEST_ID", "DL_REQUEST_NAME", "DL_REQUEST_TYPE", "DL_SNAPSHOT_START_TIME", "DL_SNAPSHOT_TZ", "IDENTIFIER", "RC",
    ]  # fmt: skip
    assert list(frame["RC"]) == [0, 0, 0, 10]
    assert frame.loc[1, "NAME"] == "Aapl Corporation"  # the FIGI resolved to Apple


def test_history_request_rows_per_day(served: RunningMock) -> None:
    session, host = _session(served)
    catalog = _scheduled_catalog(session, host)
    payload = {
        "@type": "HistoryRequest",
        "name": "PorticoHistory",
        "identifier": "portichist1",
        "universe": {"@type": "Universe", "contains": [
            {"@type": "Identifier", "identifierType": "TICKER", "identifierValue": "MSFT US Equity"}]},
        "fieldList": {"@type": "HistoryFieldList", "contains": [{"mnemonic": "PX_LAST"}, {"mnemonic": "PX_VOLUME"}]},
        "trigger": {"@type": "SubmitTrigger"},
        "runtimeOptions": {"@type": "HistoryRuntimeOptions",
                           "dateRange": {"@type": "IntervalDateRange", "startDate": "2026-03-02", "endDate": "2026-03-06"}},
        "formatting": {"@type": "MediaType", "outputMediaType": "text/csv"},
    }  # fmt: skip
    assert session.post(urljoin(host, f"/eap/catalogs/{catalog}/requests/"), json=payload).status_code == 201
    served.app.clock.advance(90)
    listing = session.get(
        urljoin(host, f"/eap/catalogs/{catalog}/content/responses/"),
        params={"requestIdentifier": "portichist1"},
    )
    key = listing.json()["contains"][0]["key"]
    text = session.get(
        urljoin(host, f"/eap/catalogs/{catalog}/content/responses/{key}")
    ).text  # requests un-gzips it
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["DATE"] for r in rows] == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    assert all(int(r["PX_VOLUME"]) > 0 and float(r["PX_LAST"]) > 0 for r in rows)


def test_the_notification_stream_announces_the_output(served: RunningMock) -> None:
    session, host = _session(served)
    catalog = _scheduled_catalog(session, host)
    stream = session.get(
        urljoin(host, "/eap/notifications/sse"), stream=True, headers={"Accept": "text/event-stream"}
    )
    assert stream.headers["content-type"].startswith("text/event-stream")
    payload = _payload("PorticoSse", "porticosse1", "application/json")
    assert session.post(urljoin(host, f"/eap/catalogs/{catalog}/requests/"), json=payload).status_code == 201
    served.app.clock.advance(90)
    client = sseclient.SSEClient(stream)
    event = next(iter(client.events()))
    stream.close()
    data = json.loads(event.data)
    assert data["type"] == "DistributionPublishedActivity"
    assert data["generated"]["requestIdentifier"] == "porticosse1"
    assert data["generated"]["key"].startswith("PorticoSse.")


def test_a_missing_api_version_header_is_400_with_a_json_api_error(served: RunningMock) -> None:
    session, host = _session(served)
    del session.headers["api-version"]
    response = session.get(urljoin(host, "/eap/catalogs/"))
    assert response.status_code == 400
    assert response.headers["latest-api-version"] == "2"
    assert "api-version" in response.json()["errors"][0]["detail"]


def test_an_invalid_field_points_at_it(served: RunningMock) -> None:
    session, host = _session(served)
    payload = _payload("PorticoBad", "porticobad1", "application/json")
    payload["fieldList"] = {
        "@type": "DataFieldList",
        "contains": [{"mnemonic": "PX_LAST"}, {"mnemonic": "NOT_A_FIELD"}],
    }
    response = session.post(urljoin(host, "/eap/catalogs/1234/requests/"), json=payload)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["source"]["pointer"] == "/fieldList/contains/1/mnemonic"
    assert "NOT_A_FIELD" in error["detail"]


def test_a_wrong_secret_is_refused_by_the_token_endpoint(served: RunningMock) -> None:
    session = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT_ID))
    with pytest.raises(InvalidClientError):
        session.fetch_token(
            token_url=served.urls["auth"] + "/ext/api/as/token.oauth2", client_secret="not-the-secret"
        )


def test_an_expired_token_is_401_and_a_plain_call_without_one_too(served: RunningMock) -> None:
    session, host = _session(served)
    served.app.clock.advance(3601)
    assert session.get(urljoin(host, "/eap/catalogs/")).json()["error"] == "invalid_token"
    anonymous = requests.get(urljoin(host, "/eap/catalogs/"), headers={"api-version": "2"}, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized_client"


def test_the_per_application_rate_limit_answers_429_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    running = start_mock(
        create_app(seed=1, clock=MockClock(START), clients={CLIENT_ID: CLIENT_SECRET}, per_minute=3)
    )
    try:
        session, host = _session(running)
        codes = [session.get(urljoin(host, "/eap/catalogs/")).status_code for _ in range(4)]
        limited = session.get(urljoin(host, "/eap/catalogs/"))
        assert codes == [200, 200, 200, 429]
        assert int(limited.headers["Retry-After"]) == 60  # the mock's clock has not moved: a full minute
        assert limited.json()["errors"][0]["status"] == "429"
        running.app.clock.advance(60)
        assert session.get(urljoin(host, "/eap/catalogs/")).status_code == 200
    finally:
        running.stop_sync()


def test_requests_may_only_be_created_in_the_account_catalog(served: RunningMock) -> None:
    session, host = _session(served)
    response = session.post(
        urljoin(host, "/eap/catalogs/bbg/requests/"), json=_payload("PorticoBbg", "porticobbg1", "text/csv")
    )
    assert response.status_code == 403
    again = session.post(
        urljoin(host, "/eap/catalogs/1234/requests/"), json=_payload("PorticoDup", "porticodup1", "text/csv")
    )
    duplicate = session.post(
        urljoin(host, "/eap/catalogs/1234/requests/"), json=_payload("PorticoDup", "porticodup1", "text/csv")
    )
    assert (again.status_code, duplicate.status_code) == (201, 409)
    assert duplicate.json()["errors"][0]["source"]["pointer"] == "/identifier"
