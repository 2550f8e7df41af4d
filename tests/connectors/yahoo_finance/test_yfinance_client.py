"""Faithfulness: yfinance, unchanged, against the Yahoo Finance mock over TCP.

yfinance has no base-URL setting (its hosts are module constants and literal URLs); its public seam is
``session=``, which takes a plain ``requests.Session`` once curl_cffi is disabled (``YF_DISABLE_CURL_CFFI``).
The session here mounts an adapter that sends every ``https://*.yahoo.com`` request to the mock and keeps
the original ``Host`` header, so the mock routes on it and cookies bind to ``.yahoo.com`` as they would live.

The mock's clock is pinned (2026-11-20 16:00 New York) and its data seeded, so the values below are the
mock's seeded series for seed 3: AAPL splits 4:1 on 2025-01-02 and pays 0.77 on 2025-01-13.
"""

from __future__ import annotations

import os

os.environ["YF_DISABLE_CURL_CFFI"] = "1"  # before yfinance is imported: it picks its backend on import

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import pytest
import requests
import yfinance as yf
from requests.adapters import HTTPAdapter
from yfinance.exceptions import YFRateLimitError

from portico.mocks import RunningMock, start_mock
from portico.mocks.yahoo_finance import create_app

PINNED = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


class ToMock(HTTPAdapter):
    """Sends each request to the mock's port, with the vendor's Host header and the vendor URL kept on the
    response (so the session's cookie jar files cookies under the Yahoo domain)."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        assert request.url is not None
        parts = urlsplit(request.url)
        copy = request.copy()
        copy.url = urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))
        copy.headers["Host"] = parts.hostname or ""
        response = super().send(copy, **kwargs)
        response.request = request
        response.url = request.url
        return response


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMock]:
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yfinance-cache")))
    app = create_app(seed=3, start=PINNED, history_start=date(2024, 1, 2))
    with start_mock(app) as running:
        yield running


@pytest.fixture
def session(served: RunningMock) -> requests.Session:
    s = requests.Session()
    s.mount("https://", ToMock(served.port))
    return s


@pytest.fixture(autouse=True)
def _raise_errors() -> Iterator[None]:
    before = yf.config.debug.hide_exceptions
    yf.config.debug.hide_exceptions = False
    yield
    yf.config.debug.hide_exceptions = before


def test_daily_history_with_dividend_split_and_unadjusted_close(session: requests.Session) -> None:
    ticker = yf.Ticker("AAPL", session=session)
    frame = ticker.history(start="2024-12-02", end="2025-01-31", auto_adjust=False)
    # 21 sessions from 2 Dec 2024 (25 Dec closed) and 20 in January to the 30th (1 Jan and 20 Jan closed)
    assert len(frame) == 41
    assert list(frame.columns) == [
        "Open",
        "High",
        "Low",
        "Close",
        "Adj Close",
        "Volume",
        "Dividends",
        "Stock Splits",
    ]
    assert str(frame.index.tz) == "America/New_York"
    assert frame.index[0] == pd.Timestamp("2024-12-02", tz="America/New_York")
    assert frame.loc["2025-01-02", "Stock Splits"].item() == 4.0
    assert frame.loc["2025-01-13", "Dividends"].item() == pytest.approx(0.77)
    assert (frame["Dividends"] > 0).sum() == 1 and (frame["Stock Splits"] > 0).sum() == 1
    # Yahoo's adjustment: closes before an ex date are multiplied by 1 - dividend / the close before it;
    # between two ex dates the ratio of adjusted to actual close stays the same
    ratio = frame["Adj Close"] / frame["Close"]
    assert ratio.loc[:"2025-01-10"].max() - ratio.loc[:"2025-01-10"].min() < 1e-6
    assert ratio.loc["2025-01-13":].max() - ratio.loc["2025-01-13":].min() < 1e-6
    step = ratio.loc["2025-01-10"].item() / ratio.loc["2025-01-13"].item()
    assert step == pytest.approx(1 - 0.77 / frame.loc["2025-01-10", "Close"].item(), rel=1e-5)
    assert (
        (frame["Low"] <= frame[["Open", "Close"]].min(axis=1))
        & (frame["High"] >= frame[["Open", "Close"]].max(axis=1))
    ).all()


def test_auto_adjusted_history_scales_prices_by_the_adjusted_close(session: requests.Session) -> None:
    ticker = yf.Ticker("AAPL", session=session)
    raw = ticker.history(start="2024-12-02", end="2025-01-31", auto_adjust=False)
    adjusted = ticker.history(start="2024-12-02", end="2025-01-31")
    assert "Adj Close" not in adjusted.columns
    ratio = raw.loc["2024-12-02", "Adj Close"].item() / raw.loc["2024-12-02", "Close"].item()
    assert adjusted.loc["2024-12-02", "Open"].item() == pytest.approx(
        raw.loc["2024-12-02", "Open"].item() * ratio
    )


def test_intraday_history_of_five_sessions_in_five_minute_bars(session: requests.Session) -> None:
    frame = yf.Ticker("MSFT", session=session).history(period="5d", interval="5m")
    assert len(frame) == 5 * 78  # 78 five-minute bars in each 6.5-hour session
    assert frame.index[0] == pd.Timestamp("2026-11-16 09:30", tz="America/New_York")
    assert frame.index[-1] == pd.Timestamp("2026-11-20 15:55", tz="America/New_York")
    assert (frame["Volume"] > 0).all()


def test_dividends_and_splits_series(session: requests.Session) -> None:
    ticker = yf.Ticker("AAPL", session=session)
    splits = ticker.splits
    assert list(splits.index.date) == [date(2025, 1, 2)] and list(splits) == [4.0]
    dividends = ticker.dividends
    assert date(2025, 1, 13) in set(dividends.index.date)
    assert dividends[dividends.index.date == date(2025, 1, 13)].item() == pytest.approx(0.77)
    assert (dividends > 0).all() and len(dividends) >= 8  # quarterly since January 2024


def test_download_of_several_tickers(session: requests.Session) -> None:
    frame = yf.download(
        ["AAPL", "MSFT"], start="2025-01-02", end="2025-01-08", auto_adjust=False, threads=False,
        progress=False, session=session,
    )  # fmt: skip
    assert frame is not None
    assert set(frame.columns.get_level_values("Ticker")) == {"AAPL", "MSFT"}
    assert len(frame) == 4  # 2, 3, 6 and 7 January
    assert frame[("Close", "AAPL")].notna().all() and frame[("Close", "MSFT")].notna().all()


def test_info_uses_cookie_and_crumb(served: RunningMock, session: requests.Session) -> None:
    info = yf.Ticker("IBM", session=session).info
    assert info["longName"] == "International Business Machines Corporation"
    assert info["currency"] == "USD" and info["exchange"] == "NYQ" and info["quoteType"] == "EQUITY"
    assert isinstance(info["marketCap"], int) and info["marketCap"] > 0
    assert info["regularMarketPrice"] > 0
    # yfinance keeps its crumb across sessions; a fresh session has no cookie yet, so the first try may be
    # refused (401 Invalid Crumb) and yfinance fetches the cookie again before it retries
    summary = served.app.journal.entries(path="/v10/finance/quoteSummary/IBM")[-1]
    assert summary.status == 200 and "crumb=" in summary.query
    assert summary.headers.get("host") == "query2.finance.yahoo.com"


def test_fast_info_last_price_and_currency(session: requests.Session) -> None:
    fast = yf.Ticker("KO", session=session).fast_info
    history = yf.Ticker("KO", session=session).history(period="5d")
    assert fast.currency == "USD"
    assert fast.last_price == pytest.approx(history["Close"].iloc[-1])


def test_an_expired_crumb_is_fetched_again(served: RunningMock, session: requests.Session) -> None:
    yf.Ticker("MSFT", session=session).info  # noqa: B018 - holds a crumb now
    served.app.state.mock.expire_crumbs()
    info = yf.Ticker("JPM", session=session).info
    assert info["longName"] == "JPMorgan Chase & Co."
    assert served.app.state.mock.crumbs, "a new crumb was issued"


def test_search(session: requests.Session) -> None:
    quotes = yf.Search("Micro", session=session).quotes
    assert [q["symbol"] for q in quotes] == ["MSFT"]
    assert quotes[0]["exchange"] == "NMS"


def test_an_unknown_symbol_reports_yahoos_reason(
    session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    yf.config.debug.hide_exceptions = True  # yfinance's default: errors are logged, the frame is empty
    with caplog.at_level("ERROR", logger="yfinance"):
        frame = yf.Ticker("NOSUCH", session=session).history(period="1mo")
    assert frame.empty
    assert "No data found, symbol may be delisted" in caplog.text


def test_an_unknown_symbol_with_exceptions_on_fails_on_quote_summary(session: requests.Session) -> None:
    # with a date range yfinance needs the exchange time zone; the chart has none for an unknown symbol,
    # so it asks quoteSummary, whose 404 it raises
    with pytest.raises(requests.HTTPError) as caught:
        yf.Ticker("NOSUCH2", session=session).history(start="2025-01-02", end="2025-01-08")
    assert caught.value.response.status_code == 404
    assert (
        caught.value.response.json()["quoteSummary"]["error"]["description"]
        == "Quote not found for symbol: NOSUCH2"
    )


def test_throttling_is_a_rate_limit_error(served: RunningMock, session: requests.Session) -> None:
    mock = served.app.state.mock
    mock.rate_limit = 0
    try:
        with pytest.raises(YFRateLimitError):
            yf.Ticker("NVDA", session=session).history(period="1mo")
    finally:
        mock.rate_limit = None
    assert mock.throttled >= 1


def test_cookie_lands_in_the_yahoo_domain(session: requests.Session, tmp_path: Path) -> None:
    session.get("https://fc.yahoo.com")
    assert any(c.name == "A3" and c.domain == ".yahoo.com" for c in session.cookies)


def test_thirty_minute_history_is_fetched_as_fifteen_and_resampled(
    served: RunningMock, session: requests.Session
) -> None:
    frame = yf.Ticker("QQQ", session=session).history(period="1d", interval="30m")
    assert len(frame) == 13  # 09:30 to 15:30 New York on Friday 20 November 2026
    assert frame.index[0] == pd.Timestamp("2026-11-20 09:30", tz="America/New_York")
    [entry] = served.app.journal.entries(path="/v8/finance/chart/QQQ")[-1:]
    assert "interval=15m" in entry.query  # yfinance's own workaround, served by the mock as asked


def test_one_minute_history_of_the_last_session(session: requests.Session) -> None:
    frame = yf.Ticker("TSLA", session=session).history(period="1d", interval="1m")
    assert len(frame) == 390
    assert frame.index[-1] == pd.Timestamp("2026-11-20 15:59", tz="America/New_York")
