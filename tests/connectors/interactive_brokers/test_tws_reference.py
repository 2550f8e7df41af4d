"""News and fundamentals over TWS, against the TWS mock: what the connector makes of IB's headlines and
ReportSnapshot, what an IB error becomes, and ib_async's own calls working against the mock unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("ib_async")

from portico.connectors.interactive_brokers import InteractiveBrokersConnector, mapping
from portico.errors import AuthError, NotFound, NotSupported, PayloadRejected
from portico.mocks._kit._news import NewsSource
from portico.mocks.interactive_brokers.tws import TwsMockServer
from portico.mocks.interactive_brokers.tws import _server as tws_server
from portico.sdk import ConnectorContext

# the publishers the mock's providers carry, and IB's names for those providers
PROVIDER_OF = {
    "Benzinga": ("BZ", "Benzinga Pro"),
    "Reuters": ("DJ-RT", "Dow Jones Trader News"),
    "MarketWatch": ("MW", "MarketWatch via Dow Jones"),
    "Zacks": ("BRFG", "Briefing.com General Market Columns"),
    "Motley Fool": ("FLY", "Fly on the Wall"),
}


@pytest.fixture
async def server() -> AsyncIterator[TwsMockServer]:
    server = await TwsMockServer(seed=5, tick_interval=0).start()
    yield server
    await server.stop()


@pytest.fixture
async def connector(server: TwsMockServer) -> AsyncIterator[InteractiveBrokersConnector]:
    context = ConnectorContext.for_testing(
        InteractiveBrokersConnector,
        urls={"tws": server.url},
        connection={"transport": "tws", "client_id": 4, "ack_timeout": 2},
        auth_scheme="tws",
    )
    connector = InteractiveBrokersConnector(context)
    await connector.open()
    yield connector
    await connector.close()


async def test_news_are_the_seeded_articles_with_ibs_headline_sentiment(
    server: TwsMockServer, connector: InteractiveBrokersConnector
) -> None:
    now = server.venue.now()
    start = now - timedelta(days=3)
    seeded = NewsSource(5).articles(["AAPL"], start=start, end=None, now=now)
    assert len(seeded) >= 4  # two a day

    items = await connector.get_news(["AAPL"], start=start, limit=4)

    assert [i.id for i in items] == [f"{PROVIDER_OF[a.publisher][0]}${a.id:08d}" for a in seeded[:4]]
    assert [i.headline for i in items] == [a.headline for a in seeded[:4]]  # IB's {A:..:K:..} prefix is gone
    assert [i.sentiment for i in items] == [Decimal(f"{a.sentiment:.4f}") for a in seeded[:4]]
    assert [i.source for i in items] == [PROVIDER_OF[a.publisher][1] for a in seeded[:4]]
    assert [i.published_at for i in items] == [a.published_at for a in seeded[:4]]
    assert all(i.symbols == ("AAPL",) and i.url is None and i.provider == connector.system for i in items)


async def test_news_for_two_symbols_merge_newest_first_and_respect_the_window(
    server: TwsMockServer, connector: InteractiveBrokersConnector
) -> None:
    now = server.venue.now()
    start, end = now - timedelta(days=2), now - timedelta(days=1)
    seeded = NewsSource(5).articles(["MSFT", "IBM"], start=start, end=end, now=now)
    assert {a.symbol for a in seeded} == {"MSFT", "IBM"}

    items = await connector.get_news(["MSFT", "IBM"], start=start, end=end, limit=50)

    assert [(i.symbols, i.headline) for i in items] == [((a.symbol,), a.headline) for a in seeded]
    assert all(start <= i.published_at <= end for i in items)


async def test_news_without_symbols_is_refused_with_the_reason(
    connector: InteractiveBrokersConnector,
) -> None:
    with pytest.raises(NotSupported, match="asked per contract"):
        await connector.get_news(None)


async def test_fundamentals_are_the_snapshots_profile_and_ratios(
    server: TwsMockServer, connector: InteractiveBrokersConnector
) -> None:
    figures = server.venue.venue.data.fundamentals("MSFT", server.venue.now())

    found = await connector.get_fundamentals("MSFT")

    assert (found.symbol, found.name, found.exchange, found.currency) == (
        "MSFT",
        "Microsoft Corp",
        "NASDAQ",
        "USD",
    )
    assert (found.sector, found.industry) == (figures["sector"], figures["industry"])
    assert found.shares_outstanding == Decimal(figures["shares_outstanding"])  # type: ignore[arg-type]
    # MKTCAP comes in millions (5 places), YIELD in percent
    assert found.market_capitalization == (
        Decimal(f"{float(figures['market_capitalization']) / 1e6:.5f}") * 1_000_000  # type: ignore[arg-type]
    )
    assert found.dividend_yield == Decimal(f"{float(figures['dividend_yield']) * 100:.5f}") / 100  # type: ignore[arg-type]
    assert (found.pe_ratio, found.eps, found.beta) == (
        Decimal(str(figures["pe_ratio"])),
        Decimal(str(figures["eps"])),
        Decimal(str(figures["beta"])),
    )
    assert found.latest_quarter == server.venue.now().astimezone(UTC).date()


async def test_an_ib_error_is_an_error_not_an_empty_answer(
    server: TwsMockServer, connector: InteractiveBrokersConnector, monkeypatch: Any
) -> None:
    def refuse_fundamentals(self: TwsMockServer, s: Any, f: list[str]) -> None:
        s.error(
            int(f[2]), 430, "We are sorry, but fundamentals data for the security specified is not available."
        )

    def refuse_news(self: TwsMockServer, s: Any, f: list[str]) -> None:
        s.error(int(f[1]), 10276, "News feed is not allowed")

    monkeypatch.setitem(tws_server._HANDLERS, 52, refuse_fundamentals)
    monkeypatch.setitem(tws_server._HANDLERS, 86, refuse_news)
    with pytest.raises(NotFound) as missing:
        await connector.get_fundamentals("AAPL")
    assert missing.value.venue_code == "430"
    with pytest.raises(AuthError, match="10276"):
        await connector.get_news(["AAPL"])


def test_headline_metadata_is_read_and_an_unscored_headline_has_no_sentiment() -> None:
    def row(headline: str) -> Any:
        return SimpleNamespace(
            time=datetime(2025, 6, 2, 14, 31), providerCode="BZ", articleId="BZ$1", headline=headline
        )

    scored = mapping.news_from_ib(
        row("{A:800015:L:en:K:-0.97:C:0.93}XYZ slides"),
        symbol="xyz",
        providers={"BZ": "Benzinga Pro"},
        system="ib",
    )
    assert (scored.headline, scored.sentiment, scored.source, scored.symbols) == (
        "XYZ slides", Decimal("-0.97"), "Benzinga Pro", ("XYZ",)
    )  # fmt: skip
    assert scored.published_at == datetime(2025, 6, 2, 14, 31, tzinfo=UTC)  # TWS's zone-less time is UTC
    unscored = mapping.news_from_ib(
        row("{A:800015:L:en:K:n/a:C:n/a}Plain"), symbol="XYZ", providers={}, system="ib"
    )
    assert (unscored.headline, unscored.sentiment, unscored.source) == ("Plain", None, "BZ")
    bare = mapping.news_from_ib(row("No metadata"), symbol="XYZ", providers={}, system="ib")
    assert bare.headline == "No metadata"
    with pytest.raises(PayloadRejected, match="no headline"):
        mapping.news_from_ib(row("{A:1:K:0.1}"), symbol="XYZ", providers={}, system="ib")


def test_an_unreadable_or_foreign_snapshot_is_rejected_by_name() -> None:
    with pytest.raises(PayloadRejected, match="not readable XML"):
        mapping.fundamentals_from_snapshot("<ReportSnapshot>", symbol="XYZ", system="ib")
    with pytest.raises(PayloadRejected, match="not a ReportSnapshot"):
        mapping.fundamentals_from_snapshot("<ReportsFinSummary/>", symbol="XYZ", system="ib")
    entity = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ReportSnapshot>&a;</ReportSnapshot>'
    with pytest.raises(PayloadRejected):
        mapping.fundamentals_from_snapshot(entity, symbol="XYZ", system="ib")


async def test_ib_async_reads_the_mocks_news_and_fundamentals_unchanged(server: TwsMockServer) -> None:
    import ib_async

    ib = ib_async.IB()
    await ib.connectAsync(server.host, server.port, clientId=9, timeout=5)
    try:
        providers = await ib.reqNewsProvidersAsync()
        assert [p.code for p in providers] == ["BZ", "DJ-RT", "MW", "BRFG", "FLY"]
        (contract,) = await ib.qualifyContractsAsync(ib_async.Stock("AAPL", "SMART", "USD"))
        headlines = await ib.reqHistoricalNewsAsync(contract.conId, "BZ+FLY", "", "", 3)
        assert headlines and all(h.providerCode in {"BZ", "FLY"} for h in headlines)
        assert len(headlines) <= 3
        article = await ib.reqNewsArticleAsync(headlines[0].providerCode, headlines[0].articleId)
        assert article.articleType == 0 and "Corporation" in article.articleText
        xml = await ib.reqFundamentalDataAsync(contract, "ReportSnapshot")
        assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<ReportSnapshot')
        assert await ib.reqFundamentalDataAsync(contract, "ReportsFinStatements") == []  # error 430: retired
    finally:
        ib.disconnect()
