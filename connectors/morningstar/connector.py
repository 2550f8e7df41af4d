"""The Morningstar connector: fund and ETF data points, total returns and holdings over the Morningstar
Data API, plus lookups and the shared ``get_fundamentals`` view."""

from __future__ import annotations

import ipaddress
import time as _time
from collections import OrderedDict
from datetime import date, datetime
from typing import Any, ClassVar

import httpx
from pydantic import ValidationError

from portico._secrets import known_secrets
from portico.connectors.morningstar.client import MorningstarClient
from portico.connectors.morningstar.mapping import (
    FUND_DATA_POINTS,
    currency_code,
    fundamentals_from_profile,
    holdings_from_lines,
    identifier_for,
    instrument_from_listing,
    profiles_from_rows,
    returns_from_rows,
)
from portico.connectors.morningstar.models import FundHolding, FundProfile, ReturnFrequency, ReturnObservation
from portico.connectors.morningstar.spec import SPEC, MorningstarConnection
from portico.connectors.morningstar.wire import (
    RETURN_DATA_POINTS,
    WireListing,
    holdings_request,
    investment_data_request,
)
from portico.errors import ConfigurationError, NotFound, PayloadRejected, PorticoError
from portico.models import Fundamentals, Instrument
from portico.sdk import CheckResult, Connector, ConnectorContext

__all__ = ["MorningstarConnector"]

_MAX_INVESTMENTS = 500  # per request, as the package enforces


class MorningstarConnector(Connector):
    """Morningstar Direct data through the Morningstar Data API.

    Symbols may be SecIds (``F00000YOOK`` or ``F00000YOOK;FO``), ISINs, CUSIPs or tickers; anything but a
    SecId is resolved once through ``search_security`` and the answer cached. The vendor's warnings of the
    last call (investments it skipped) are kept in :attr:`last_warnings`.
    """

    spec: ClassVar = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(MorningstarConnection)
        self._client: MorningstarClient | None = None
        self._mock_token: str | None = None
        self._resolved: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
        self.last_warnings: list[str] = []

    @property
    def client(self) -> MorningstarClient:
        """The HTTP client (created on first use)."""
        if self._client is None:
            self._client = MorningstarClient(
                self.context,
                task_timeout=self.settings.task_timeout,
                max_result_bytes=self.settings.max_result_bytes,
                token_hosts=self.settings.token_hosts,
                token=self._mock_token,
            )
        return self._client

    async def open(self) -> None:
        if self.settings.mock_sign_in and self._mock_token is None:
            self._mock_token = await self._sign_in_on_mock()
        self.client  # noqa: B018 - build the client (and refuse a missing, malformed or expired token) at connect time

    async def _sign_in_on_mock(self) -> str:
        """A token from the mock's token route (the mock's stand-in for Analytics Lab's "copy token")."""
        base = httpx.URL(self.context.url("base"))
        try:
            loopback = ipaddress.ip_address(base.host).is_loopback
        except ValueError:
            loopback = base.host == "localhost"
        if not loopback:
            raise ConfigurationError(
                f"{self.system}: connection.mock_sign_in is only for a mock on a loopback address, not {base.host}",
                path=f"systems.{self.system}.connection.mock_sign_in",
            )
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(str(base.copy_with(path="/__mock__/morningstar/token", query=None)))
        if answer.status_code != 200:
            raise ConfigurationError(
                f"{self.system}: the mock at {base.host}:{base.port} gave no token (HTTP {answer.status_code})",
                path=f"systems.{self.system}.connection.mock_sign_in",
            )
        token: str = answer.json()["token"]
        known_secrets.register(token)
        return token

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> CheckResult:
        """A security lookup (no data cells spent): reachable and the token accepted."""
        spec = self.spec.health_check
        assert spec is not None  # declared in the manifest
        started = _time.perf_counter()
        try:
            await self.client.get("search_security", dict(spec.params))
        except PorticoError as exc:
            return CheckResult(
                ok=False,
                system=self.system,
                latency_ms=(_time.perf_counter() - started) * 1000,
                detail=f"{type(exc).__name__}: {exc.message}",
                checks={
                    "reachable": exc.status_code is not None,
                    "authenticated": type(exc).__name__ != "AuthError",
                },
            )
        expires = self.client.token_expires
        return CheckResult(
            ok=True,
            system=self.system,
            latency_ms=(_time.perf_counter() - started) * 1000,
            detail="lookup answered" + (f"; token valid until {expires.isoformat()}" if expires else ""),
            checks={"reachable": True, "authenticated": True},
        )

    # -- symbols ---------------------------------------------------------------------------------

    async def _lookup(self, kind: str, value: str, count: int) -> list[WireListing]:
        body = await self.client.get(
            "search_security", {kind: value, "count": count, "only_surviving": "true"}
        )
        items = body.get("investments") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise PayloadRejected(
                "Morningstar answered search_security without an investments list", system=self.system
            )
        try:
            return [WireListing.model_validate(item) for item in items]
        except ValidationError as exc:
            raise PayloadRejected(
                f"Morningstar answered search_security with a malformed hit: {exc.errors()[0]['msg']}",
                system=self.system,
            ) from None

    async def resolve(self, symbols: list[str]) -> dict[str, tuple[str, str | None]]:
        """Each symbol's SecId and security type (None when not known without a lookup).

        Raises:
            PayloadRejected: no symbols, too many, or one that is no identifier.
            NotFound: a ticker, ISIN or CUSIP Morningstar does not know.
        """
        if not symbols:
            raise PayloadRejected("give at least one symbol", system=self.system)
        if len(symbols) > _MAX_INVESTMENTS:
            raise PayloadRejected(
                f"at most {_MAX_INVESTMENTS} symbols per Morningstar request, got {len(symbols)}",
                system=self.system,
            )
        out: dict[str, tuple[str, str | None]] = {}
        unknown: list[str] = []
        for symbol in symbols:
            kind, value = identifier_for(symbol)
            if kind == "sec_id":
                sec_id, _, universe = value.partition(";")
                out[symbol] = (sec_id, universe or None)
                continue
            cached = self._resolved.get(f"{kind}:{value}")
            if cached is not None:
                self._resolved.move_to_end(f"{kind}:{value}")
                out[symbol] = cached
                continue
            hits = await self._lookup(kind, value, 1)
            if not hits:
                unknown.append(symbol)
                continue
            found = (hits[0].sec_id, hits[0].security_type)
            out[symbol] = found
            if self.settings.symbol_cache_size:
                self._resolved[f"{kind}:{value}"] = found
                while len(self._resolved) > self.settings.symbol_cache_size:
                    self._resolved.popitem(last=False)
        if unknown:
            raise NotFound(
                f"Morningstar knows no investment {', '.join(map(repr, unknown))}", system=self.system
            )
        return out

    def _behavior(self) -> str:
        return self.settings.unmatched_investment_behavior

    # -- shared capabilities ---------------------------------------------------------------------

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """Listings matching a ticker, ISIN, CUSIP or SecId (``search_security``), best match first."""
        if limit < 1:
            raise PayloadRejected(f"limit must be at least 1, got {limit}", system=self.system)
        kind, value = identifier_for(query)
        return [
            instrument_from_listing(hit) for hit in await self._lookup(kind, value.partition(";")[0], limit)
        ]

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """The fund profile of ``symbol`` as Fundamentals (name, currency, exchange, domicile, category)."""
        if statements:
            raise PayloadRejected(
                "Morningstar fund data has no financial statements; ask without statements=True",
                system=self.system,
            )
        profiles = await self.get_fund_data([symbol])
        if not profiles:
            raise NotFound(f"Morningstar returned no data for {symbol!r}", system=self.system)
        return fundamentals_from_profile(profiles[0])

    # -- Morningstar's own data ------------------------------------------------------------------

    async def get_fund_data(
        self, symbols: list[str], data_points: list[dict[str, Any]] | None = None
    ) -> list[FundProfile]:
        """Data points of funds and ETFs (``get_investment_data``), one profile per investment found.

        Args:
            symbols: SecIds, ISINs, CUSIPs or tickers (up to 500).
            data_points: ``{"datapointId": ...}`` settings; the profile's (:data:`FUND_DATA_POINTS`) by default.
                Every value lands in :attr:`FundProfile.values` by its column name.
        """
        points = list(data_points) if data_points is not None else [dict(p) for p in FUND_DATA_POINTS]
        if not points or not all(
            isinstance(p, dict) and isinstance(p.get("datapointId"), str) for p in points
        ):
            raise PayloadRejected(
                'data points are {"datapointId": "..."} objects, at least one', system=self.system
            )
        resolved = await self.resolve(symbols)
        sec_ids = list(dict.fromkeys(sec for sec, _ in resolved.values()))
        body = investment_data_request(sec_ids, points, unmatched_investment_behavior=self._behavior())
        result = await self.client.run_task("get_investment_data", body)
        self.last_warnings = list(result.warning_messages or [])
        frame = await self.client.frame(result.dataframe_file_url)
        by_sec = {sec: symbol for symbol, (sec, _) in resolved.items()}
        universes = {sec: uni for sec, uni in resolved.values() if uni}
        return profiles_from_rows(frame.to_dicts(), by_sec, universes)

    async def get_returns(
        self,
        symbols: list[str],
        start: date,
        end: date | None = None,
        frequency: ReturnFrequency | str = ReturnFrequency.MONTHLY,
        *,
        currency: str | None = None,
    ) -> list[ReturnObservation]:
        """Total returns in percent per period ending within ``[start, end]``, as ``md.direct.get_returns``.

        Raises:
            PayloadRejected: an unknown frequency or currency, or ``start`` after ``end``.
        """
        try:
            freq = ReturnFrequency(str(frequency).lower())
        except ValueError:
            raise PayloadRejected(
                f"unknown return frequency {frequency!r}; use one of {[f.value for f in ReturnFrequency]}",
                system=self.system,
            ) from None
        start, end = _day(start, "start"), (_day(end, "end") if end is not None else None)
        if end is not None and start > end:
            raise PayloadRejected(f"start {start} is after end {end}", system=self.system)
        code = None
        if currency is not None:
            code = currency_code(currency)
            if code is None:
                raise PayloadRejected(f"{currency!r} is not an ISO 4217 currency code", system=self.system)
        point: dict[str, Any] = {"datapointId": RETURN_DATA_POINTS[freq.value], "isTsdp": True,
                                 "startDate": start.isoformat()}  # fmt: skip
        if end is not None:
            point["endDate"] = end.isoformat()
        if code is not None:
            point["currency"] = code
        resolved = await self.resolve(symbols)
        sec_ids = list(dict.fromkeys(sec for sec, _ in resolved.values()))
        body = investment_data_request(
            sec_ids,
            [point],
            time_series_format="LongWithoutName",
            unmatched_investment_behavior=self._behavior(),
        )
        result = await self.client.run_task("get_investment_data", body)
        self.last_warnings = list(result.warning_messages or [])
        frame = await self.client.frame(result.dataframe_file_url)
        by_sec = {sec: symbol for symbol, (sec, _) in resolved.items()}
        return returns_from_rows(frame.to_dicts(), freq, by_sec, currency=code)

    async def get_holdings(
        self, symbols: list[str], on: date | list[date] | None = None
    ) -> list[FundHolding]:
        """Fund holdings on a portfolio date (the latest when ``on`` is None), as ``md.direct.get_holdings``.

        Raises:
            NotFound: no holdings for these funds on that date.
        """
        days = on if isinstance(on, list) else ([on] if on is not None else [])
        dates = [_day(d, "on").isoformat() for d in days] or None
        resolved = await self.resolve(symbols)
        sec_ids = list(dict.fromkeys(sec for sec, _ in resolved.values()))
        result = await self.client.run_task("get_holdings_task", holdings_request(sec_ids, dates))
        self.last_warnings = list(result.warning_messages or [])
        if not result.pages:
            raise NotFound(
                f"Morningstar returned no holdings pages for {', '.join(symbols)}", system=self.system
            )
        lines: list[dict[str, Any]] = []
        for page in result.pages:
            lines.extend(await self.client.lines(page.url))
        by_sec = {sec: symbol for symbol, (sec, _) in resolved.items()}
        return holdings_from_lines(lines, by_sec)

    async def get_holding_dates(self, symbols: list[str]) -> dict[str, list[date]]:
        """The portfolio dates with holdings per symbol, latest first (``get_holding_dates``)."""
        resolved = await self.resolve(symbols)
        sec_ids = list(dict.fromkeys(sec for sec, _ in resolved.values()))
        body = await self.client.post("get_holding_dates", {"investments": sec_ids})
        rows = body.get("holdings_dates") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise PayloadRejected(
                "Morningstar answered get_holding_dates without holdings_dates", system=self.system
            )
        by_sec: dict[str, list[str]] = {}
        for symbol, (sec, _) in resolved.items():
            by_sec.setdefault(sec, []).append(symbol)
        out: dict[str, list[date]] = {symbol: [] for symbol in resolved}
        for row in rows:
            if not isinstance(row, dict):
                continue
            try:
                day = date.fromisoformat(str(row.get("date"))[:10])
            except ValueError:
                raise PayloadRejected(
                    f"Morningstar holding date {row.get('date')!r} is not a date", system=self.system
                ) from None
            for symbol in by_sec.get(str(row.get("secId")), []):
                out[symbol].append(day)
        for days in out.values():
            days.sort(reverse=True)
        return out


def _day(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PayloadRejected(f"{name} must be a date (YYYY-MM-DD), got {value!r}")
