"""The Refinitiv (LSEG Data Platform) connector: history, snapshots, FX spot rates and reference fields."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time as _time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar

from portico.connectors.refinitiv.auth import RefinitivPasswordAuth
from portico.connectors.refinitiv.client import RefinitivClient
from portico.connectors.refinitiv.mapping import (
    FUNDAMENTAL_FIELDS,
    INTERVALS,
    bars_from_summaries,
    check_ric,
    decimal_or_none,
    fundamentals_from_row,
    fx_rate_from_snapshot,
    fx_ric,
    instrument_from_hit,
    invert_bars,
    parse_date,
    parse_instant,
    quote_from_snapshot,
    quotes_and_trades_from_events,
    snapshot_from_message,
)
from portico.connectors.refinitiv.spec import SPEC, RefinitivConnection
from portico.connectors.refinitiv.stream import PricingStream
from portico.connectors.refinitiv.wire import WireSnapshotMessage, WireSummaries
from portico.errors import AuthError, NotFound, PayloadRejected, PorticoError, error_context
from portico.models import Bar, BarInterval, Fundamentals, FxRate, Instrument, Quote, Snapshot, Trade
from portico.sdk import CheckResult, Connector, ConnectorContext

__all__ = ["FxRates", "RefinitivConnector"]

_RECENT = 100  # bars returned when neither start nor limit is given
_FX_FIELDS = ("BID", "ASK", "QUOTE_DATE", "QUOTIM", "VALUE_DT1", "VALUE_TS1")
_SEARCH_SELECT = ("RIC", "DocumentTitle", "CommonName", "ExchangeName", "PermID")


Pair = tuple[str, str]
"""A currency pair ``(base, quote)``."""


@dataclass
class FxRates:
    """The answer of :meth:`RefinitivConnector.get_fx_rates`: every pair either has a rate or a reason.

    Attributes:
        rates: ``(base, quote)`` to its rate.
        missing: ``(base, quote)`` to why it has none, as text (unknown RIC, no entitlement, crossed, stale...).
        errors: the same, as the typed errors.
    """

    rates: dict[Pair, FxRate] = field(default_factory=dict)
    missing: dict[Pair, str] = field(default_factory=dict)
    errors: dict[Pair, PorticoError] = field(default_factory=dict)


def _time_param(when: datetime, *, interday: bool) -> str:
    when = when.astimezone(UTC)
    return when.date().isoformat() if interday else when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _row_time(value: Any, *, interday: bool) -> datetime:
    return datetime.combine(parse_date(value), time(0), UTC) if interday else parse_instant(value)


def _stamp_column(page: WireSummaries) -> int:
    names = [h.name for h in page.headers]
    for name in ("DATE_TIME", "DATE"):
        if name in names:
            return names.index(name)
    return 0


def _oldest(page: WireSummaries, *, interday: bool) -> datetime | None:
    column = _stamp_column(page)
    stamps = [
        _row_time(row[column], interday=interday) for row in page.data if len(row) > column and row[column]
    ]
    return min(stamps) if stamps else None


def _status_error(message: WireSnapshotMessage, request: str) -> PorticoError:
    code = message.state.code or "Status"
    text = message.state.text or code
    ric = message.key.name
    if code == "NotEntitled":
        return AuthError(
            f"the LSEG account is not entitled to {ric}: {text}", venue_code=code, request=request
        )
    return NotFound(f"LSEG has no data for {ric}: {text}", venue_code=code, request=request)


class RefinitivConnector(Connector):
    """LSEG Data Platform as a data service and market data connector.

    History is paged: one call asks for at most ``interday_rows_per_request`` / ``intraday_rows_per_request``
    rows, and a longer range is fetched page by page backwards from ``end`` (each page ends at the oldest row
    of the previous one, whose repeats are dropped), so no answer hits the platform's row caps. Snapshots are
    batched ``rics_per_snapshot`` RICs a call; quotes stream over the OMM WebSocket. Every HTTP call goes
    through the system's shared limiter (5 a second).
    """

    spec: ClassVar = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(RefinitivConnection)
        self._client: RefinitivClient | None = None

    @property
    def client(self) -> RefinitivClient:
        """The HTTP client (created on first use)."""
        if self._client is None:
            self._client = RefinitivClient(self.context)
        return self._client

    async def open(self) -> None:
        self.client  # noqa: B018 - build the client (and its auth) at connect time

    async def close(self) -> None:
        if self._client is not None:
            auth = self._client.auth
            if isinstance(auth, RefinitivPasswordAuth):
                # the platform allows one session per user: end ours so the next login is not refused;
                # a failed revocation is not an error of closing (the session times out by itself)
                with contextlib.suppress(PorticoError):
                    await auth.revoke()
            await self._client.aclose()
            self._client = None

    async def check(self) -> CheckResult:
        """The manifest's health-check call: a one-field snapshot of ``EUR=``."""
        spec = self.spec.health_check
        assert spec is not None  # declared in the manifest
        started = _time.perf_counter()
        try:
            await self.client.snapshots([spec.params["universe"]], [spec.params["fields"]])
        except PorticoError as exc:
            return CheckResult(
                ok=False,
                system=self.system,
                latency_ms=(_time.perf_counter() - started) * 1000,
                detail=f"{type(exc).__name__}: {exc.message}",
                checks={
                    "reachable": exc.status_code is not None,
                    "authenticated": not isinstance(exc, AuthError),
                },
            )
        return CheckResult(
            ok=True,
            system=self.system,
            latency_ms=(_time.perf_counter() - started) * 1000,
            detail="snapshot answered",
            checks={"reachable": True, "authenticated": True},
        )

    # -- history ---------------------------------------------------------------------------------

    async def _pages(
        self,
        view: str,
        ric: str,
        params: dict[str, str],
        *,
        interday: bool,
        start: datetime | None,
        end: datetime | None,
        limit: int | None,
    ) -> WireSummaries:
        """Every page of one RIC's history in [start, end], merged (newest first), at most ``limit`` rows."""
        for name, when in (("start", start), ("end", end)):
            if when is not None and when.utcoffset() is None:
                raise PayloadRejected(
                    f"{name} {when.isoformat()} has no time zone; give an aware datetime", field=name
                )
        if start is not None and end is not None and start > end:
            raise PayloadRejected(f"start {start.isoformat()} is after end {end.isoformat()}", field="start")
        if limit is not None and limit < 1:
            raise PayloadRejected(f"limit must be at least 1, got {limit}", field="limit")
        page_rows = (
            self.settings.interday_rows_per_request if interday else self.settings.intraday_rows_per_request
        )
        cursor = end
        remaining = limit
        merged: WireSummaries | None = None
        seen: set[str] = set()
        overlap = 0
        stepped = False
        step = timedelta(days=1) if interday else timedelta(microseconds=1)
        for _ in range(self.settings.max_pages):
            query = dict(params)
            # each later page ends *at* the oldest row seen (inclusive), so rows sharing that timestamp are
            # never skipped; the repeated rows are dropped below and asked for on top of what is missing
            query["count"] = str(min(page_rows, remaining + overlap) if remaining is not None else page_rows)
            if start is not None:
                query["start"] = _time_param(start, interday=interday)
            if cursor is not None:
                query["end"] = _time_param(cursor, interday=interday)
            page = await self.client.summaries(view, ric, query)
            if merged is None:
                merged = page.model_copy(update={"data": []})
            fresh = [row for row in page.data if row and json.dumps(row, default=str) not in seen]
            if not fresh:
                if not page.data or cursor is None or stepped:
                    break
                # a page of nothing but rows already seen: more rows share the boundary timestamp than a
                # page holds (or the history has ended); step just past that timestamp once
                cursor -= step
                stepped = True
                overlap = 0
                continue
            stepped = False
            seen.update(json.dumps(row, default=str) for row in fresh)
            merged.data.extend(fresh)
            if remaining is not None:
                remaining -= len(fresh)
                if remaining <= 0:
                    break
            oldest = _oldest(page, interday=interday)
            if oldest is None or (start is not None and oldest <= start):
                break
            cursor = oldest
            column = _stamp_column(page)
            overlap = sum(
                1
                for row in page.data
                if len(row) > column and _row_time(row[column], interday=interday) == oldest
            )
        else:
            with error_context(system=self.system, request=f"GET {view}/{ric}"):
                raise PayloadRejected(
                    f"{ric}: the history did not end after {self.settings.max_pages} pages; narrow the range "
                    "or raise connection.max_pages"
                )
        assert merged is not None
        return merged

    async def get_bars(
        self,
        symbol: str,
        interval: BarInterval = BarInterval.DAY,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        adjusted: bool = True,
    ) -> list[Bar]:
        """Bars oldest first from the interday or intraday summaries of a RIC (100 when neither ``start``
        nor ``limit`` is given). ``adjusted`` applies corporate-action adjustments (LSEG's default)."""
        ric = check_ric(symbol)
        interval = BarInterval(interval)
        if interval not in INTERVALS:
            raise PayloadRejected(
                f"LSEG has no {interval.value} summaries; use one of {[i.value for i in INTERVALS]}",
                field="interval",
            )
        view, rdp_interval = INTERVALS[interval]
        adjustments = "exchangeCorrection,manualCorrection" + (",CCH,CRE,RPO,RTS" if adjusted else "")
        if start is None and limit is None:
            limit = _RECENT
        body = await self._pages(
            view, ric, {"interval": rdp_interval, "adjustments": adjustments},
            interday=view == "interday-summaries", start=start, end=end, limit=limit,
        )  # fmt: skip
        bars = bars_from_summaries(body, symbol=ric, interval=interval)
        return _window(bars, limit)

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
        """Bid-side bars of the pair's spot RIC, named ``BASE/QUOTE`` (inverted when the RIC quotes the
        pair the other way round)."""
        ric, inverted = fx_ric(base, quote, cross_suffix=self.settings.cross_ric_suffix)
        pair = f"{base.strip().upper()}/{quote.strip().upper()}"
        bars = await self.get_bars(ric, interval, start=start, end=end, limit=limit)
        currency = quote.strip().upper()
        if inverted:
            return invert_bars(bars, symbol=pair, currency=currency)
        return [b.model_copy(update={"symbol": pair, "currency": currency}) for b in bars]

    async def _events(
        self, symbol: str, kind: str, start: datetime | None, end: datetime | None, limit: int | None
    ) -> WireSummaries:
        ric = check_ric(symbol)
        if start is None and limit is None:
            limit = _RECENT
        return await self._pages(
            "events", ric, {"eventTypes": kind}, interday=False, start=start, end=end, limit=limit
        )

    async def get_quotes(
        self,
        symbol: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Quote]:
        """Quote events oldest first (historical pricing ``events`` view, ``eventTypes=quote``)."""
        body = await self._events(symbol, "quote", start, end, limit)
        quotes, _ = quotes_and_trades_from_events(body, symbol=symbol.strip())
        return quotes[-limit:] if limit else quotes

    async def get_trades(
        self,
        symbol: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Trade]:
        """Trade events oldest first (historical pricing ``events`` view, ``eventTypes=trade``)."""
        body = await self._events(symbol, "trade", start, end, limit)
        _, trades = quotes_and_trades_from_events(body, symbol=symbol.strip())
        return trades[-limit:] if limit else trades

    # -- snapshots -------------------------------------------------------------------------------

    async def _snapshot_messages(
        self, rics: Sequence[str], fields: Sequence[str] = ()
    ) -> list[WireSnapshotMessage]:
        size = self.settings.rics_per_snapshot
        batches = [list(rics[i : i + size]) for i in range(0, len(rics), size)]
        answers = await asyncio.gather(*(self.client.snapshots(batch, fields) for batch in batches))
        return [message for answer in answers for message in answer]

    async def _refreshes(
        self, symbols: list[str], fields: Sequence[str] = ()
    ) -> dict[str, WireSnapshotMessage]:
        rics = list(dict.fromkeys(check_ric(s) for s in symbols))
        if not rics:
            raise PayloadRejected("no RICs given", field="symbols")
        messages = {m.key.name: m for m in await self._snapshot_messages(rics, fields)}
        missing = [r for r in rics if r not in messages or messages[r].type != "Refresh"]
        if missing:
            errors = [
                _status_error(messages[r], "GET /data/pricing/snapshots/v1/")
                if r in messages
                else NotFound(f"LSEG answered nothing for {r}")
                for r in missing
            ]
            first = errors[0]
            with error_context(system=self.system, request="GET /data/pricing/snapshots/v1/"):
                raise type(first)(
                    f"no snapshot for {', '.join(missing)}: " + "; ".join(e.message for e in errors),
                    venue_code=first.venue_code,
                )
        return {r: messages[r] for r in rics}

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """The latest quote of each RIC from pricing snapshots (``rics_per_snapshot`` RICs a call).

        Raises:
            NotFound: some RICs have no data (all are named); AuthError when the account is not entitled.
        """
        refreshes = await self._refreshes(symbols)
        now = self.context.clock.now()
        return {ric: quote_from_snapshot(message, now=now) for ric, message in refreshes.items()}

    async def get_snapshots(self, symbols: list[str]) -> dict[str, Snapshot]:
        """Quote, last trade and today's bar of each RIC from pricing snapshots."""
        refreshes = await self._refreshes(symbols)
        now = self.context.clock.now()
        return {ric: snapshot_from_message(message, now=now) for ric, message in refreshes.items()}

    async def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:  # type: ignore[override]
        """Live quotes over LSEG's OMM WebSocket (see :mod:`~portico.connectors.refinitiv.stream`): each RIC's
        full image first, then every update merged into it, until the iterator is closed."""
        rics = list(dict.fromkeys(check_ric(s) for s in symbols))
        if not rics:
            raise PayloadRejected("no RICs given", field="symbols")
        stream = PricingStream(self.context, self.client, self.client.auth)
        # close the socket at once when this iterator is closed (not whenever it is collected)
        async with contextlib.aclosing(stream.quotes(rics)) as quotes:
            async for quote in quotes:
                yield quote

    async def subscribe_trades(self, symbols: list[str]) -> AsyncIterator[Trade]:  # type: ignore[override]
        """Live trades over the OMM WebSocket: one per new print (last price, size or time changed)."""
        rics = list(dict.fromkeys(check_ric(s) for s in symbols))
        if not rics:
            raise PayloadRejected("no RICs given", field="symbols")
        stream = PricingStream(self.context, self.client, self.client.auth)
        async with contextlib.aclosing(stream.trades(rics)) as trades:
            async for trade in trades:
                yield trade

    # -- FX --------------------------------------------------------------------------------------

    async def get_fx_rate(self, base: str, quote: str) -> FxRate:
        """The pair's spot rate (bid/ask mid) from its RIC's snapshot (``EUR=``, ``JPY=`` inverted...)."""
        ric, inverted = fx_ric(base, quote, cross_suffix=self.settings.cross_ric_suffix)
        message = (await self._refreshes([ric], _FX_FIELDS))[ric]
        with error_context(system=self.system, request="GET /data/pricing/snapshots/v1/"):
            return fx_rate_from_snapshot(
                message, base=base.strip().upper(), quote=quote.strip().upper(), inverted=inverted,
                now=self.context.clock.now(),
            )  # fmt: skip

    async def get_fx_rates(self, pairs: Iterable[Pair], *, max_age: float | None = None) -> FxRates:
        """Spot rates of many pairs in as few snapshot calls as the batch size allows (the FX feed's pull).

        A pair that cannot be served (unknown RIC, no entitlement, crossed or empty quote, or a quote older
        than ``max_age`` seconds) lands in ``missing`` with its reason (and in ``errors`` as a typed error);
        the others are not held back by it. Bad currency codes, no pairs or a non-positive ``max_age`` are
        refused up front with :class:`~portico.errors.PayloadRejected`. The answer has the shape the FX
        feed reads from Bloomberg's connector, so either can be the feed's primary.
        """
        if max_age is not None and max_age <= 0:
            raise PayloadRejected(
                f"max_age must be a positive number of seconds, got {max_age}", field="max_age"
            )
        wanted: dict[Pair, tuple[str, bool]] = {}
        for base, quote in pairs:
            ric, inverted = fx_ric(base, quote, cross_suffix=self.settings.cross_ric_suffix)
            wanted[(base.strip().upper(), quote.strip().upper())] = (ric, inverted)
        if not wanted:
            raise PayloadRejected("give at least one currency pair", field="pairs")
        rics = list(dict.fromkeys(ric for ric, _ in wanted.values()))
        messages = {m.key.name: m for m in await self._snapshot_messages(rics, _FX_FIELDS)}
        now = self.context.clock.now()
        request = "GET /data/pricing/snapshots/v1/"
        result = FxRates()
        with error_context(system=self.system, request=request):
            for pair, (ric, inverted) in wanted.items():
                message = messages.get(ric)
                try:
                    if message is None:
                        raise NotFound(f"LSEG answered nothing for {ric}")
                    if message.type != "Refresh":
                        raise _status_error(message, request)
                    rate = fx_rate_from_snapshot(
                        message, base=pair[0], quote=pair[1], inverted=inverted, now=now
                    )
                    age = (now - rate.timestamp).total_seconds()
                    if max_age is not None and age > max_age:
                        raise PayloadRejected(
                            f"{ric} is stale: quoted at {rate.timestamp.isoformat()}, {age:.0f}s ago (max_age {max_age:g}s)"
                        )
                except PorticoError as exc:
                    exc.system = exc.system or self.system
                    result.errors[pair] = exc
                    result.missing[pair] = f"{type(exc).__name__}: {exc.message}"
                    continue
                result.rates[pair] = rate
        return result

    # -- reference data --------------------------------------------------------------------------

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """Discovery search (``EquityQuotes`` view), best match first: RICs with their names and exchanges."""
        text = query.strip() if isinstance(query, str) else ""
        if not text:
            raise PayloadRejected("the search text is empty", field="query")
        if not 1 <= limit <= 10000:
            raise PayloadRejected(f"limit must be 1-10000, got {limit}", field="limit")
        hits = await self.client.search(text, view="EquityQuotes", top=limit, select=_SEARCH_SELECT)
        found = (instrument_from_hit(hit) for hit in hits)
        return [i for i in found if i is not None]

    async def get_reference_data(
        self, symbols: list[str], fields: list[str], *, parameters: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Datagrid (TR) fields of each RIC: ``{ric: {field as asked: value}}``; numbers as Decimal."""
        rics = list(dict.fromkeys(check_ric(s) for s in symbols))
        names = [f.strip() for f in fields if isinstance(f, str) and f.strip()]
        if not rics or not names:
            raise PayloadRejected(
                "give at least one RIC and one field", field="fields" if rics else "symbols"
            )
        grid = await self.client.datagrid(rics, names, parameters)
        out: dict[str, dict[str, Any]] = {}
        for row in grid.rows():
            ric = str(row.get("INSTRUMENT", ""))
            values: dict[str, Any] = {}
            for name in names:
                value = row.get(name.upper())
                values[name] = decimal_or_none(value) if isinstance(value, int | float) else value
            out[ric] = values
        return out

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """Company figures from the datagrid (see :data:`~portico.connectors.refinitiv.mapping.FUNDAMENTAL_FIELDS`).

        Statements are not fetched (``statements=True`` still returns the overview).
        """
        ric = check_ric(symbol)
        grid = await self.client.datagrid([ric], list(FUNDAMENTAL_FIELDS.values()))
        rows = [r for r in grid.rows() if str(r.get("INSTRUMENT", "")) == ric] or grid.rows()
        if not rows:
            with error_context(system=self.system, request="POST /data/datagrid/beta1/"):
                raise NotFound(f"LSEG's datagrid answered no row for {ric}")
        return fundamentals_from_row(rows[0], symbol=ric)


def _window(bars: list[Bar], limit: int | None) -> list[Bar]:
    # the platform already cut the range to [start, end] (an interday bar stamped at its period start may
    # begin before ``start``: it is still the bar of a date inside the range), so only the count is applied
    return bars[-limit:] if limit is not None else bars
