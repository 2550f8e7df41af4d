"""LSEG's own library (lseg-data) unchanged against the mock over TCP.

Run by ``test_vendor_client.py`` in a child pytest whose path holds lseg-data and the httpx it needs
(lseg-data breaks on httpx 0.28, which portico requires): not collected in the main run.

The library is pointed at the mock the documented way: an ``lseg-data.config.json`` whose platform session
names the mock's ``base-url``, found through ``LD_LIB_CONFIG_PATH`` (and loaded with ``ld.load_config``, since
the library reads its configuration once per process).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lseg.data as ld
import pandas as pd
import pytest
from lseg.data.errors import LDError

from portico.mocks import RunningMock, start_mock
from portico.mocks.refinitiv import create_app
from portico.testing import wait_for

APP_KEY = "vendor-test-app-key"
USER = "vendor-test-user"
PASSWORD = "vendor-test-password"
START = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)  # a Tuesday, 11:00 in New York: the session is open


@pytest.fixture(scope="module")
def served() -> Iterator[RunningMock]:
    # access tokens live 4 s, so the library's own refresh (at half the lifetime) happens within a test
    app = create_app(seed=11, start=START, realtime=True, users={USER: PASSWORD}, app_keys={APP_KEY},
                     access_lifetime=4, requests_per_second=50)  # fmt: skip
    running = start_mock(app)
    yield running
    running.stop_sync()


@pytest.fixture(scope="module")
def session(served: RunningMock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("lseg-config")
    config = {
        "sessions": {
            "default": "platform.mock",
            "platform": {
                "mock": {"app-key": APP_KEY, "username": USER, "password": PASSWORD,
                         "base-url": served.base_url, "signon_control": True},
            },
        },
    }  # fmt: skip
    path = Path(folder) / "lseg-data.config.json"
    path.write_text(json.dumps(config))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LD_LIB_CONFIG_PATH", str(folder))
        ld.load_config(str(path))
        opened = ld.open_session("platform.mock")
        try:
            yield opened
        finally:
            ld.close_session()


def test_the_session_logs_in_with_the_password_grant(served: RunningMock, session: Any) -> None:
    assert str(session.open_state) == "OpenState.Opened"
    login = served.app.journal.entries(method="POST", path="/auth/oauth2/v1/token")[0]
    form = dict(pair.split("=", 1) for pair in login.body.split("&"))
    assert form["grant_type"] == "password"
    assert form["client_id"] == APP_KEY
    assert form["username"] == USER
    assert form["takeExclusiveSignOnControl"] == "true"
    assert PASSWORD not in login.body  # the journal masks it


def test_get_history_interday_for_two_rics(session: Any) -> None:
    frame = ld.get_history(["AAPL.O", "EUR="], interval="1D", count=5)
    assert list(frame.index.strftime("%Y-%m-%d")) == [
        "2025-12-30",
        "2025-12-31",
        "2026-01-02",
        "2026-01-05",
        "2026-01-06",
    ]  # fmt: skip  (1 January is a holiday)
    aapl = frame["AAPL.O"]
    eur = frame["EUR="]
    assert {"OPEN_PRC", "HIGH_1", "LOW_1", "TRDPRC_1", "ACVOL_UNS"} <= set(aapl.columns)
    assert (aapl["LOW_1"] <= aapl["TRDPRC_1"]).all() and (aapl["TRDPRC_1"] <= aapl["HIGH_1"]).all()
    assert (aapl["ACVOL_UNS"] > 0).all()
    assert (eur["BID"] < eur["ASK"]).all()
    # EUR= quotes dollars per euro: near the generator's 1.08 anchor, nowhere near its inverse
    assert eur["MID_PRICE"].between(0.9, 1.3).all()


def test_get_history_intraday_for_two_rics(session: Any) -> None:
    frame = ld.get_history(
        ["AAPL.O", "JPY="], fields=["BID", "ASK"], interval="1min",
        start="2026-01-06T15:00:00", end="2026-01-06T15:04:00",
    )  # fmt: skip
    assert list(frame.index.strftime("%H:%M")) == ["15:00", "15:01", "15:02", "15:03", "15:04"]
    assert list(frame.columns) == [("AAPL.O", "BID"), ("AAPL.O", "ASK"), ("JPY=", "BID"), ("JPY=", "ASK")]
    assert (frame["AAPL.O"]["BID"] < frame["AAPL.O"]["ASK"]).all()
    # JPY= quotes yen per dollar
    assert frame["JPY="]["BID"].between(100, 200).all()


def test_get_data_reads_reference_fields_from_the_datagrid(session: Any) -> None:
    frame = ld.get_data(["AAPL.O", "VOD.L"], ["TR.CommonName", "TR.PriceClose.Currency"])
    assert list(frame["Instrument"]) == ["AAPL.O", "VOD.L"]
    assert list(frame["Company Common Name"]) == ["Apple Inc", "Vodafone Group PLC"]
    assert list(frame["Currency"]) == ["USD", "GBP"]


def test_pricing_snapshots_with_a_ric_that_is_not_found(session: Any) -> None:
    response = ld.content.pricing.Definition(["EUR=", "NOSUCH.X"], fields=["BID", "ASK"]).get_data()
    frame = response.data.df
    assert list(frame["Instrument"]) == ["EUR=", "NOSUCH.X"]
    assert frame["BID"][0] < frame["ASK"][0]
    assert frame["BID"][1] == "#N/F"


def test_an_unknown_ric_is_an_in_body_error_the_library_reports(session: Any) -> None:
    definition = ld.content.historical_pricing.summaries.Definition("NOSUCH.X", interval="P1D", count=3)
    with pytest.raises(LDError, match=r"TS\.Interday\.UserRequestError\.70005, The universe is not found"):
        definition.get_data()


def test_the_library_refreshes_its_token_and_keeps_working(served: RunningMock, session: Any) -> None:
    grants = served.app.state.mock.tokens.grants
    wait_for(lambda: "refresh_token" in grants, timeout=15.0)
    refresh = served.app.journal.entries(method="POST", path="/auth/oauth2/v1/token")[-1]
    assert "grant_type=refresh_token" in refresh.body
    frame = ld.get_history("IBM.N", interval="1D", count=2)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 2
    # the spent refresh token no longer works: the mock rotated it
    assert grants.count("password") == 1


def test_discovery_search_finds_a_ric(session: Any) -> None:
    frame = ld.discovery.search(query="vodafone", select="RIC,DocumentTitle", top=5)
    assert list(frame["RIC"]) == ["VOD.L"]
    assert frame["DocumentTitle"][0] == "Vodafone Group PLC, Ordinary Share, London Stock Exchange"


def test_get_data_takes_pricing_fields_from_the_stream_and_tr_fields_from_the_datagrid(session: Any) -> None:
    frame = ld.get_data(["EUR=", "IBM.N", "NOSUCH.X"], ["BID", "ASK", "TR.CommonName"])
    assert list(frame["Instrument"]) == ["EUR=", "IBM.N", "NOSUCH.X"]
    assert frame["Company Common Name"][1] == "International Business Machines Corp"
    assert frame["BID"][0] < frame["ASK"][0] and frame["BID"][1] < frame["ASK"][1]
    assert pd.isna(frame["BID"][2])


def test_a_pricing_stream_gets_its_refresh_and_then_updates(served: RunningMock, session: Any) -> None:
    updates: list[Any] = []
    stream = ld.open_pricing_stream(
        universe=["GBP="],
        fields=["BID", "ASK"],
        on_data=lambda data, name, _stream: updates.append((name, data)),
    )
    try:
        snapshot = stream.get_snapshot()
        assert list(snapshot["Instrument"]) == ["GBP="]
        assert snapshot["BID"][0] < snapshot["ASK"][0]
        wait_for(lambda: len(updates) >= 3, timeout=15.0)  # the refresh, then updates
    finally:
        stream.close()
    assert {name for name, _ in updates} == {"GBP="}
    socket = served.app.journal.entries(path="/WebSocket")
    assert socket and socket[0].status == 101
