"""The Bloomberg Data License connector: reference data, price history, quotes, fundamentals and FX rates,
each answered by one DataRequest or HistoryRequest followed to its output file."""

from __future__ import annotations

import asyncio
import re
import time as _time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from portico.connectors.bloomberg.blpapi_session import (
    BlpapiSession,
    BlpSession,
    blpapi_identifier,
    load_blpapi,
)
from portico.connectors.bloomberg.client import BloombergClient
from portico.connectors.bloomberg.mapping import (
    BAR_FIELDS,
    FUNDAMENTAL_FIELDS,
    FX_FIELDS,
    QUOTE_FIELDS,
    bars_from_rows,
    decimal_of,
    fundamentals_from_row,
    fx_identifier,
    fx_rate_from_row,
    identifier_for,
    quote_from_row,
    rows_by_identifier,
)
from portico.connectors.bloomberg.spec import SPEC, BloombergConnection
from portico.connectors.bloomberg.wire import (
    DataFieldList,
    DataRequest,
    FieldMnemonic,
    HistoryRequest,
    HistoryRuntimeOptions,
    IdentifierType,
    PricingSourceOptions,
    SecurityIdentifier,
    Universe,
)
from portico.errors import NotFound, NotSupported, PayloadRejected, PorticoError, RateLimited
from portico.models import Bar, BarInterval, Fundamentals, FxRate, Quote
from portico.models._iso import CURRENCY_CODES
from portico.sdk import CheckResult, Connector, ConnectorContext

__all__ = ["BloombergConnector", "FxRates"]

_MNEMONIC = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_PERIODS = {
    BarInterval.DAY: ("daily", 1.5),
    BarInterval.WEEK: ("weekly", 7.0),
    BarInterval.MONTH: ("monthly", 31.0),
}
_DEFAULT_BARS = 100

Row = dict[str, Any]


@dataclass
class FxRates:
    """The answer of :meth:`BloombergConnector.get_fx_rates`: the rates Bloomberg gave, and for every other
    pair why not (unknown cross, crossed or empty quote)."""

    rates: dict[tuple[str, str], FxRate] = field(default_factory=dict)
    missing: dict[tuple[str, str], str] = field(default_factory=dict)


class BloombergConnector(Connector):
    """Bloomberg Data License REST as a data service.

    Every call is a request on the account's catalog, polled every ``connection.poll_interval`` seconds
    until its output is listed (at most ``connection.reply_timeout``), then downloaded. Bare tickers get
    ``connection.equity_yellow_key``; ISINs and FIGIs are sent as such. Beyond the unified capabilities,
    :meth:`get_reference_data` returns any field mnemonics for any universe and :meth:`get_fx_rates`
    prices many currency pairs in one request.
    """

    spec: ClassVar = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(BloombergConnection)
        self._client: BloombergClient | None = None
        self._blp: BlpSession | None = None

    @property
    def client(self) -> BloombergClient:
        """The request-flow client (created on first use)."""
        if self._client is None:
            self._client = BloombergClient(self.context, self.settings)
        return self._client

    @property
    def blp(self) -> BlpSession:
        """The BLPAPI session (``connection.api: blpapi``), created on first use."""
        if self._blp is None:
            module = load_blpapi(self.context.options.get("blpapi_module"))
            self._blp = BlpapiSession(
                module, self.settings.blpapi_host, self.settings.blpapi_port,
                timeout=self.settings.blpapi_timeout, clock_now=self.context.clock.now,
            )  # fmt: skip
        return self._blp

    async def open(self) -> None:
        if self.settings.api == "blpapi":
            self.blp  # noqa: B018 - fail at connect time when blpapi is missing
        else:
            self.client  # noqa: B018 - build the client (and fail on missing credentials) at connect time

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._blp is not None:
            await self._blp.aclose()
            self._blp = None

    async def check(self) -> CheckResult:
        """``GET /eap/catalogs/``: the token is accepted and the account's scheduled catalog is listed.

        The check takes its rate budget now or not at all and is not retried; a spent budget is
        reported as ``rate_limited_until``.
        """
        started = _time.perf_counter()
        endpoint = "GET /eap/catalogs/"
        if self.settings.api == "blpapi":
            return await self._check_blpapi(started)

        def result(
            ok: bool, detail: str, checks: dict[str, bool], until: datetime | None = None
        ) -> CheckResult:
            return CheckResult(
                ok=ok, system=self.system, latency_ms=(_time.perf_counter() - started) * 1000, detail=detail,
                checks=checks, rate_limited_until=until,
            )  # fmt: skip

        try:
            await self.context.acquire(endpoint, max_wait=0.0)
            found = await self.client.catalogs(cost=0.0, retry=False)
        except RateLimited as exc:
            until = self.context.clock.now() + timedelta(seconds=exc.retry_after or 60.0)
            return result(
                False,
                f"rate limited until {until.isoformat()}: {exc.message}",
                {"reachable": True, "authenticated": True},
                until,
            )
        except PorticoError as exc:
            checks = {
                "reachable": exc.status_code is not None,
                "authenticated": type(exc).__name__ != "AuthError",
            }
            return result(False, f"{type(exc).__name__}: {exc.message}", checks)
        wanted = self.settings.catalog
        ids = {c.identifier for c in found.contains}
        scheduled = [c.identifier for c in found.contains if c.subscriptionType == "scheduled"]
        if wanted is not None and wanted not in ids:
            return result(
                False,
                f"catalog {wanted!r} is not accessible (listed: {sorted(ids)})",
                {"reachable": True, "authenticated": True, "catalog": False},
            )
        if wanted is None and not scheduled:
            return result(
                False,
                "no scheduled catalog is listed for these credentials",
                {"reachable": True, "authenticated": True, "catalog": False},
            )
        return result(
            True,
            f"catalog {wanted or scheduled[0]} reachable",
            {"reachable": True, "authenticated": True, "catalog": True},
        )

    async def _check_blpapi(self, started: float) -> CheckResult:
        try:
            where = await self.blp.ping()
        except PorticoError as exc:
            return CheckResult(
                ok=False, system=self.system, latency_ms=(_time.perf_counter() - started) * 1000,
                detail=f"{type(exc).__name__}: {exc.message}", checks={"reachable": False, "authenticated": False},
            )  # fmt: skip
        return CheckResult(
            ok=True, system=self.system, latency_ms=(_time.perf_counter() - started) * 1000,
            detail=f"BLPAPI session at {where} with //blp/refdata open", checks={"reachable": True, "authenticated": True},
        )  # fmt: skip

    # -- requests --------------------------------------------------------------------------------

    def _document(
        self,
        members: Sequence[tuple[IdentifierType, str]],
        fields: Sequence[str],
        *,
        history: tuple[date, date, str] | None = None,
    ) -> DataRequest:
        identifier = "p" + uuid.uuid4().hex[:20]
        kind = "HistoryRequest" if history else "DataRequest"
        common: dict[str, Any] = {
            "identifier": identifier,
            "name": f"portico{identifier}",
            "title": f"portico {kind} for {self.system}",
            "universe": Universe(
                contains=tuple(SecurityIdentifier(identifierType=t, identifierValue=v) for t, v in members)
            ),
            "fieldList": DataFieldList(
                type_="HistoryFieldList" if history else "DataFieldList",
                contains=tuple(FieldMnemonic(mnemonic=f) for f in fields),
            ),
            "formatting": {
                "outputMediaType": "text/csv" if self.settings.output_format == "csv" else "application/json"
            },
        }
        if self.settings.pricing_source:
            common["pricingSourceOptions"] = PricingSourceOptions(
                type_="HistoryPricingSourceOptions" if history else "DataPricingSourceOptions",
                prefer=FieldMnemonic(mnemonic=self.settings.pricing_source),
            )
        if history is None:
            return DataRequest(**common)
        start, end, period = history
        options = HistoryRuntimeOptions(dateRange={"startDate": start, "endDate": end}, period=period)
        return HistoryRequest(**common, runtimeOptions=options)

    async def _rows(
        self,
        members: Sequence[tuple[IdentifierType, str]],
        fields: Sequence[str],
        *,
        history: tuple[date, date, str] | None = None,
    ) -> dict[str, list[Row]]:
        """Rows by identifier value; universes beyond ``max_universe`` go as several requests at once."""
        if self.settings.api == "blpapi":
            return await self._blp_rows(members, fields, history)
        size = self.settings.max_universe
        chunks = [members[i : i + size] for i in range(0, len(members), size)]
        answers = await asyncio.gather(
            *(self.client.run(self._document(c, fields, history=history)) for c in chunks)
        )
        rows: dict[str, list[Row]] = {}
        for answer in answers:
            for identifier, found in rows_by_identifier(answer).items():
                rows.setdefault(identifier, []).extend(found)
        return rows

    async def _blp_rows(
        self,
        members: Sequence[tuple[IdentifierType, str]],
        fields: Sequence[str],
        history: tuple[date, date, str] | None,
    ) -> dict[str, list[Row]]:
        """The same rows through BLPAPI, keyed by the identifier values the Data License path uses."""
        by_security = {blpapi_identifier(t, v): v for t, v in members}
        securities = list(by_security)
        if history is None:
            answer = await self.blp.reference_rows(securities, list(fields))
        else:
            answer = await self.blp.history_rows(securities, list(fields), *history)
        rows: dict[str, list[Row]] = {}
        for row in answer:
            security: str = row["IDENTIFIER"]
            value = by_security.get(security, security)
            rows.setdefault(value, []).append({**row, "IDENTIFIER": value})
        return rows

    def _fields(self, fields: Iterable[str]) -> list[str]:
        wanted: list[str] = []
        for raw in fields:
            mnemonic = str(raw).strip().upper()
            if not _MNEMONIC.match(mnemonic):
                raise PayloadRejected(
                    f"{raw!r} is not a Bloomberg field mnemonic (letters, digits and '_', like PX_LAST)",
                    field="fields",
                )
            if mnemonic not in wanted:
                wanted.append(mnemonic)
        if not wanted:
            raise PayloadRejected("name at least one field mnemonic", field="fields")
        return wanted

    def _members(self, symbols: Iterable[str]) -> list[tuple[IdentifierType, str]]:
        members = [identifier_for(s, self.settings.equity_yellow_key) for s in symbols]
        if not members:
            raise PayloadRejected("name at least one security", field="symbols")
        return members

    @staticmethod
    def _one(rows: dict[str, list[Row]], identifier: str, symbol: str) -> Row:
        found = rows.get(identifier)
        if not found:
            raise NotFound(f"Bloomberg's output has no row for {identifier!r} (asked for {symbol!r})")
        return found[0]

    # -- reference data --------------------------------------------------------------------------

    async def get_reference_data(self, securities: Sequence[str], fields: Sequence[str]) -> dict[str, Row]:
        """Field values by mnemonic for each security, as Bloomberg wrote them (strings or None), with
        the row's ``RC`` and snapshot time (``DL_SNAPSHOT_START_TIME``, ``DL_SNAPSHOT_TZ``).

        Args:
            securities: tickers (``IBM``, ``IBM US Equity``), ISINs or FIGIs.
            fields: mnemonics (``PX_LAST``, ``NAME``...).

        Raises:
            PayloadRejected: an empty universe or field list, or a name that is not a mnemonic.
            VenueRejected: Bloomberg refused the request (an unknown mnemonic names its place).
        """
        wanted = self._fields(fields)
        members = self._members(securities)
        rows = await self._rows(members, wanted)
        return {
            symbol: self._one(rows, value, symbol)
            for symbol, (_, value) in zip(securities, members, strict=True)
        }

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """PX_BID, PX_ASK, PX_LAST and PX_VOLUME of each symbol, in one DataRequest.

        Raises:
            NotFound: a symbol Bloomberg did not answer (RC not 0), naming it.
        """
        members = self._members(symbols)
        rows = await self._rows(members, QUOTE_FIELDS)
        return {
            s: quote_from_row(self._one(rows, v, s), s) for s, (_, v) in zip(symbols, members, strict=True)
        }

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """Company figures (name, sector, market cap, P/E, EPS, dividend yield, beta, shares outstanding).

        Raises:
            NotSupported: ``statements`` (financial statements need Bloomberg's fundamentals datasets).
        """
        if statements:
            raise NotSupported(
                f"{self.system} (bloomberg) returns overview fundamentals only; statements are not requested",
                capability="get_fundamentals",
                system=self.system,
            )
        members = self._members([symbol])
        rows = await self._rows(members, FUNDAMENTAL_FIELDS)
        return fundamentals_from_row(self._one(rows, members[0][1], symbol), symbol)

    # -- history ---------------------------------------------------------------------------------

    def _range(
        self, interval: BarInterval, start: datetime | None, end: datetime | None, limit: int | None
    ) -> tuple[date, date, str]:
        if interval not in _PERIODS:
            raise NotSupported(
                f"{self.system} (bloomberg) has daily, weekly and monthly history, not {interval.value}",
                capability="get_bars",
                system=self.system,
            )
        if limit is not None and limit < 0:
            raise PayloadRejected(f"limit must be positive, got {limit}", field="limit")
        period, days_per_bar = _PERIODS[interval]
        last = (end or self.context.clock.now()).date()
        if start is not None:
            first = start.date()
        else:
            first = last - timedelta(days=int((limit or _DEFAULT_BARS) * days_per_bar) + 10)
        if first > last:
            raise PayloadRejected(f"start {first} is after end {last}", field="start")
        return first, last, period

    async def _history(
        self, identifier: tuple[IdentifierType, str], symbol: str, interval: BarInterval, start: datetime | None,
        end: datetime | None, limit: int | None, currency: str | None = None,
    ) -> list[Bar]:  # fmt: skip
        window = self._range(interval, start, end, limit)
        rows = await self._rows([identifier], BAR_FIELDS, history=window)
        found = rows.get(identifier[1])
        if not found:
            raise NotFound(f"Bloomberg's history has no rows for {identifier[1]!r} (asked for {symbol!r})")
        bars = bars_from_rows(found, symbol=symbol, interval=interval, currency=currency)
        first, last, _ = window  # bars are labelled by their date: keep the dates asked for
        bars = [b for b in bars if first <= b.timestamp.date() <= last]
        return bars[-limit:] if limit else bars

    async def get_bars(
        self,
        symbol: str,
        interval: BarInterval = BarInterval.DAY,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        adjusted: bool = False,
    ) -> list[Bar]:
        """Daily, weekly or monthly bars from a HistoryRequest (PX_OPEN/HIGH/LOW/LAST/VOLUME), oldest first.

        Without ``start`` the range reaches back far enough for ``limit`` bars (100 by default).

        Raises:
            NotSupported: an intraday interval, or ``adjusted`` (history is requested as published).
        """
        if adjusted:
            raise NotSupported(
                f"{self.system} (bloomberg) requests unadjusted history only",
                capability="get_bars",
                system=self.system,
            )
        interval = BarInterval(interval)
        member = self._members([symbol])[0]
        return await self._history(member, symbol, interval, start, end, limit)

    # -- live quotes (BLPAPI) ----------------------------------------------------------------------

    async def stream_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """Live BID, ASK and LAST_PRICE from ``//blp/mktdata`` until the iterator is closed.

        Only with ``connection.api: blpapi``; Data License REST has no live data, so ``subscribe_quotes``
        is not among the manifest's capabilities.

        Raises:
            NotSupported: ``connection.api`` is ``dl_rest``.
            NotFound: Bloomberg refused a subscription (unknown security).
        """
        if self.settings.api != "blpapi":
            raise NotSupported(
                f"{self.system} (bloomberg) streams quotes only with connection.api: blpapi; Data License REST "
                "answers requests, it does not stream",
                capability="subscribe_quotes",
                system=self.system,
            )
        members = self._members(symbols)
        by_security = {blpapi_identifier(t, v): s for s, (t, v) in zip(symbols, members, strict=True)}
        # aclosing: closing this stream must unsubscribe and stop the session now, not when collected
        async with aclosing(self.blp.subscribe(list(by_security), ["BID", "ASK", "LAST_PRICE"])) as updates:
            async for security, values in updates:
                yield Quote(
                    symbol=by_security.get(security, security),
                    timestamp=self.context.clock.now(),
                    bid_price=decimal_of(values, "BID"),
                    ask_price=decimal_of(values, "ASK"),
                    last_price=decimal_of(values, "LAST_PRICE"),
                    source="bloomberg",
                )

    # -- FX --------------------------------------------------------------------------------------

    def _pair(self, base: str, quote: str) -> tuple[str, str]:
        pair = (base.strip().upper(), quote.strip().upper())
        for code in pair:
            if code not in CURRENCY_CODES:
                raise PayloadRejected(f"{code!r} is not an ISO 4217 currency code", field="currency")
        if pair[0] == pair[1]:
            raise PayloadRejected(f"{pair[0]}/{pair[1]} is not a currency pair", field="currency")
        return pair

    async def get_fx_rates(
        self, pairs: Iterable[tuple[str, str]], *, max_age: float | None = None
    ) -> FxRates:
        """Spot bid, ask and mid of many pairs in one DataRequest (``EURUSD Curncy``...).

        A pair Bloomberg does not answer, answers with a crossed or empty quote, or (with ``max_age``)
        answers with a snapshot older than ``max_age`` seconds, is in ``missing`` with the reason; the
        others are in ``rates``.
        """
        if max_age is not None and max_age <= 0:
            raise PayloadRejected(f"max_age must be positive seconds, got {max_age}", field="max_age")
        wanted = list(dict.fromkeys(self._pair(b, q) for b, q in pairs))
        if not wanted:
            raise PayloadRejected("name at least one currency pair", field="pairs")
        members: list[tuple[IdentifierType, str]] = [("TICKER", fx_identifier(b, q)) for b, q in wanted]
        rows = await self._rows(members, FX_FIELDS)
        answer = FxRates()
        for (base, quote), (_, identifier) in zip(wanted, members, strict=True):
            found = rows.get(identifier)
            if not found:
                answer.missing[(base, quote)] = f"no row for {identifier!r} in Bloomberg's output"
                continue
            try:
                rate = fx_rate_from_row(found[0], base, quote)
            except (NotFound, PayloadRejected) as exc:
                answer.missing[(base, quote)] = exc.message
                continue
            age = (self.context.clock.now() - rate.timestamp).total_seconds()
            if max_age is not None and age > max_age:
                answer.missing[(base, quote)] = (
                    f"stale: snapshot {rate.timestamp.isoformat()} is {age:.0f}s old"
                )
                continue
            answer.rates[(base, quote)] = rate
        return answer

    async def get_fx_rate(self, base: str, quote: str) -> FxRate:
        """The spot rate of one pair (mid, with bid and ask).

        Raises:
            NotFound: Bloomberg did not answer the cross.
            PayloadRejected: a crossed or empty quote.
        """
        pair = self._pair(base, quote)
        members: list[tuple[IdentifierType, str]] = [("TICKER", fx_identifier(*pair))]
        rows = await self._rows(members, FX_FIELDS)
        return fx_rate_from_row(self._one(rows, members[0][1], f"{pair[0]}/{pair[1]}"), *pair)

    async def get_fx_series(
        self,
        base: str,
        quote: str,
        interval: BarInterval = BarInterval.DAY,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Bar]:
        """Daily, weekly or monthly bars of the spot cross, named ``BASE/QUOTE``."""
        base, quote = self._pair(base, quote)
        member: tuple[IdentifierType, str] = ("TICKER", fx_identifier(base, quote))
        return await self._history(
            member, f"{base}/{quote}", BarInterval(interval), start, end, limit, currency=quote
        )
