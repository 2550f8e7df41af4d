"""News and fundamentals as TWS serves them, from the kit's seeded articles and company figures.

- ``reqNewsProviders`` (85) -> ``newsProviders`` (85): count, then code and name pairs.
- ``reqHistoricalNews`` (86: reqId, conId, providerCodes ``BZ+FLY``, start, end, totalResults, options)
  -> one ``historicalNews`` (86: reqId, time ``yyyy-MM-dd HH:mm:ss.0`` UTC, providerCode, articleId,
  headline) per article, newest first, then ``historicalNewsEnd`` (87: reqId, hasMore). Headlines carry
  IB's metadata prefix ``{A:<id>:L:en:K:<sentiment>:C:<confidence>}``.
- ``reqNewsArticle`` (84: reqId, providerCode, articleId, options) -> ``newsArticle`` (83: reqId, type 0
  (text), body).
- ``reqFundamentalData`` (52: version 2, reqId, contract fields, reportType, options) with report type
  ``ReportSnapshot`` -> ``fundamentalData`` (51: version 1, reqId, XML); other report types get error 430
  (IB no longer serves them). Figures follow IB's snapshot layout: ``MKTCAP`` in millions, ``YIELD`` in
  percent.

The seeded articles are the ones every mock serves (:class:`~portico.mocks._kit._news.NewsSource`), so an
IB headline and another provider's article are the same story.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from portico.mocks._kit._news import NewsArticle, NewsSource

if TYPE_CHECKING:
    from portico.mocks.interactive_brokers._venue import IbVenue, Listing
    from portico.mocks.interactive_brokers.tws._wire import Field

__all__ = ["NEWS_PROVIDERS", "article_id", "article_text", "fundamentals_xml", "historical_news"]

NEWS_PROVIDERS: tuple[tuple[str, str, str], ...] = (
    # (IB provider code, IB's name for it, the seeded publisher it carries)
    ("BZ", "Benzinga Pro", "Benzinga"),
    ("DJ-RT", "Dow Jones Trader News", "Reuters"),
    ("MW", "MarketWatch via Dow Jones", "MarketWatch"),
    ("BRFG", "Briefing.com General Market Columns", "Zacks"),
    ("FLY", "Fly on the Wall", "Motley Fool"),
)
_CODE_OF = {publisher: code for code, _name, publisher in NEWS_PROVIDERS}


def article_id(code: str, article: NewsArticle) -> str:
    """IB's article id: ``<provider>$<number>``."""
    return f"{code}${article.id:08d}"


def _headline(article: NewsArticle) -> str:
    confidence = 0.5 + (article.id % 50) / 100
    return f"{{A:800015:L:en:K:{article.sentiment:.4f}:C:{confidence:.4f}}}{article.headline}"


def historical_news(
    venue: IbVenue,
    news: NewsSource,
    listing: Listing,
    codes: set[str],
    *,
    start: datetime | None,
    end: datetime | None,
    total: int,
) -> tuple[list[list[Field]], bool]:
    """The ``historicalNews`` fields (without the request id) of ``listing``'s articles from ``codes``'
    publishers, newest first, at most ``total``; and whether more were left out."""
    found = [
        a
        for a in news.articles([listing.symbol], start=start, end=end, now=venue.now())
        if _CODE_OF.get(a.publisher) in codes
    ]
    rows: list[list[Field]] = []
    for article in found[:total]:
        code = _CODE_OF[article.publisher]
        stamp = article.published_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + ".0"
        rows.append([stamp, code, article_id(code, article), _headline(article)])
    return rows, len(found) > total


def article_text(venue: IbVenue, news: NewsSource, code: str, wanted: str) -> str | None:
    """The body of article ``wanted`` of provider ``code``, or None when there is no such article."""
    prefix, _, number = wanted.partition("$")
    if prefix != code or not number.isdigit():
        return None
    for listing in venue.listings.values():
        # an article id names its symbol only through the seed: look through each symbol's last week
        for article in news.articles([listing.symbol], start=None, end=None, now=venue.now(), limit=None):
            if article.id == int(number) and _CODE_OF.get(article.publisher) == code:
                return f"<p>{escape(article.summary)}</p><p>{escape(article.author)}</p>"
    return None


def fundamentals_xml(venue: IbVenue, listing: Listing) -> str:
    """A ``ReportSnapshot`` of ``listing`` from the kit's seeded figures at the venue's time."""
    f = venue.venue.data.fundamentals(listing.symbol, venue.now())
    price = venue.venue.data.price(listing.symbol, venue.now())
    now = venue.now().astimezone(UTC)
    name = escape(listing.name.title())
    exchange = {"NASDAQ": "NASD", "NYSE": "NYSE", "ARCA": "ARCA"}.get(listing.exchange, listing.exchange)
    ratio = [
        ("Price and Volume", "NPRICE", f"{price:.2f}"),
        ("Price and Volume", "BETA", f"{f['beta']}"),
        ("Income Statement", "MKTCAP", f"{float(f['market_capitalization']) / 1e6:.5f}"),  # type: ignore[arg-type]
        ("Income Statement", "TTMREV", f"{float(f['revenue']) / 1e6:.5f}"),  # type: ignore[arg-type]
        ("Per share data", "TTMEPSXCLX", f"{f['eps']}"),
        ("Other Ratios", "PEEXCLXOR", f"{f['pe_ratio']}"),
        ("Other Ratios", "YIELD", f"{float(f['dividend_yield']) * 100:.5f}"),  # type: ignore[arg-type]
    ]
    groups: dict[str, list[str]] = {}
    for group, field_name, value in ratio:
        groups.setdefault(group, []).append(f'<Ratio FieldName="{field_name}" Type="N">{value}</Ratio>')
    ratios = "".join(f"<Group ID={quoteattr(g)}>{''.join(items)}</Group>" for g, items in groups.items())
    shares = f"{float(f['shares_outstanding']):.1f}"  # type: ignore[arg-type]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ReportSnapshot Major="1" Minor="0" Revision="1">'
        f'<CoIDs><CoID Type="RepNo">{listing.conid:05d}</CoID><CoID Type="CompanyName">{name}</CoID></CoIDs>'
        f'<Issues><Issue ID="1" Type="C" Desc="Common Stock" Order="1">'
        f'<IssueID Type="Ticker">{escape(listing.symbol)}</IssueID>'
        f'<Exchange Code="{exchange}" Country="USA">{escape(listing.exchange)}</Exchange></Issue></Issues>'
        f'<CoGeneralInfo><CoStatus Code="1">Active</CoStatus>'
        f'<SharesOut Date="{now:%Y-%m-%d}" TotShrsOut="{shares}">{shares}</SharesOut>'
        f'<ReportingCurrency Code="{listing.currency}">U.S. Dollars</ReportingCurrency>'
        f"<LatestAvailableInterim>{now:%Y-%m-%d}</LatestAvailableInterim></CoGeneralInfo>"
        f'<TextInfo><Text Type="Business Summary">{name} is a seeded mock company.</Text></TextInfo>'
        f'<peerInfo><IndustryInfo><Industry type="TRBC" order="1">{escape(str(f["industry"]))}</Industry>'
        f'<Industry type="SECTOR" order="1">{escape(str(f["sector"]))}</Industry></IndustryInfo></peerInfo>'
        f'<Ratios PriceCurrency="USD" ReportingCurrency="USD" ExchangeRate="1.00000">{ratios}</Ratios>'
        "</ReportSnapshot>"
    )
