"""The FactSet connector: end-of-day bars, returns, corporate actions, references and an overview from the
Prices API, for tickers (``AAPL``, ``VOD-GB``) or FactSet permanent ids (``MH33D6-R``)."""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from portico.connectors.factset.client import FactSetClient
from portico.connectors.factset.mapping import (
    FREQUENCY_OF,
    MarketValue,
    PeriodReturn,
    SharesOutstanding,
    bars_from_prices,
    corporate_actions_from_rows,
    fundamentals_from_rows,
    instrument_from_reference,
    market_values_from_rows,
    returns_from_rows,
    shares_from_rows,
)
from portico.connectors.factset.spec import FREQUENCIES, SPEC, FactSetConnection
from portico.connectors.factset.wire import WirePrice
from portico.errors import NotFound, NotSupported, PayloadRejected, PorticoError, RateLimited
from portico.models import Bar, BarInterval, CorporateAction, Fundamentals, Instrument
from portico.models._iso import CURRENCY_CODES
from portico.sdk import CheckResult, Connector, ConnectorContext

__all__ = ["FactSetConnector"]

_NEW_YORK = ZoneInfo("America/New_York")
_PERIOD_DAYS = {BarInterval.DAY: 1.5, BarInterval.WEEK: 7.0, BarInterval.MONTH: 31.0}
"""Calendar days per bar, with room for weekends and holidays, to turn ``limit`` into a start date."""


class FactSetConnector(Connector):
    """FactSet's Prices API as a data service and market data connector.

    Beyond the canonical capabilities (:meth:`get_bars`, :meth:`get_corporate_actions`,
    :meth:`get_fundamentals`) it offers FactSet's own shapes: :meth:`get_prices` (many ids at once, run
    as a batch request past ``connection.batch_ids_over`` ids), :meth:`get_returns`,
    :meth:`get_shares`, :meth:`get_market_values`, :meth:`get_references` and :meth:`resolve_ids` (the
    cached ticker -> FactSet id symbology).
    """

    spec: ClassVar = SPEC

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.settings = context.settings_as(FactSetConnection)
        self._client: FactSetClient | None = None

    @property
    def client(self) -> FactSetClient:
        """The HTTP client (created on first use)."""
        if self._client is None:
            self._client = FactSetClient(self.context, self.settings)
        return self._client

    async def open(self) -> None:
        self.client  # noqa: B018 - build the client (and fail on missing credentials) at connect time

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> CheckResult:
        """The manifest's health check: one reference row, never waiting for rate budget nor retried."""
        spec = self.spec.health_check
        assert spec is not None  # declared in the manifest
        started = _time.perf_counter()

        def took() -> float:
            return (_time.perf_counter() - started) * 1000

        try:
            await self.context.acquire(spec.call, max_wait=0.0)
            response = await self.client.api.get(
                "/factset-prices/v1/references",
                params=dict(spec.params),
                endpoint=spec.call,
                cost=0.0,
                retry=False,
            )
        except RateLimited as exc:
            until = self.context.clock.now() + timedelta(seconds=exc.retry_after or 1.0)
            return CheckResult(
                ok=False, system=self.system, latency_ms=took(), detail=f"rate limited: {exc.message}",
                checks={"reachable": True, "authenticated": True}, rate_limited_until=until,
            )  # fmt: skip
        except PorticoError as exc:
            return CheckResult(
                ok=False, system=self.system, latency_ms=took(), detail=f"{type(exc).__name__}: {exc.message}",
                checks={"reachable": exc.status_code is not None, "authenticated": type(exc).__name__ != "AuthError"},
            )  # fmt: skip
        return CheckResult(
            ok=True, system=self.system, latency_ms=took(), detail=f"references answered HTTP {response.status_code}",
            checks={"reachable": True, "authenticated": True},
        )  # fmt: skip

    # -- input -----------------------------------------------------------------------------------

    @staticmethod
    def _ids(ids: str | Sequence[str]) -> list[str]:
        wanted = [ids] if isinstance(ids, str) else list(ids)
        cleaned = [str(i).strip().upper() for i in wanted if str(i).strip()]
        if not cleaned:
            raise PayloadRejected("give at least one ticker or FactSet id", field="ids")
        if len(cleaned) > 2000:
            raise PayloadRejected(
                f"FactSet takes at most 2000 ids per request, got {len(cleaned)}", field="ids"
            )
        return cleaned

    @staticmethod
    def _day(value: datetime | date | None) -> date | None:
        if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
            return value
        # bars are stamped on New York's calendar (see mapping), so an instant is read on it too
        return value.date() if value.tzinfo is None else value.astimezone(_NEW_YORK).date()

    def _range(
        self, start: datetime | date | None, end: datetime | date | None, default_days: float
    ) -> tuple[date, date]:
        last = self._day(end) or self.context.clock.now().date()
        first = self._day(start) or (last - timedelta(days=int(default_days) + 1))
        if first > last:
            raise PayloadRejected(f"start {first} is after end {last}", field="start")
        return first, last

    @staticmethod
    def _currency(currency: str | None) -> str | None:
        if currency is None:
            return None
        code = currency.strip().upper()
        if code != "LOCAL" and code not in CURRENCY_CODES:
            raise PayloadRejected(
                f"{currency!r} is not an ISO 4217 currency code (or LOCAL)", field="currency"
            )
        return code

    @staticmethod
    def _frequency(frequency: str) -> str:
        code = frequency.strip().upper()
        if code not in FREQUENCIES:
            raise PayloadRejected(
                f"frequency {frequency!r} is not one of FactSet's {', '.join(FREQUENCIES)}", field="frequency"
            )
        return code

    # -- prices and bars -------------------------------------------------------------------------

    async def get_prices(
        self,
        ids: str | Sequence[str],
        *,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        interval: BarInterval = BarInterval.DAY,
        currency: str | None = None,
        adjust: str | None = None,
        batch: bool | None = None,
    ) -> dict[str, list[Bar]]:
        """Bars of every id, keyed by the id as asked; many ids run as one batch request.

        ``currency`` converts prices (ISO code; default the local trading currency); ``adjust`` is
        ``SPLIT``, ``SPINOFF``, ``DIVADJ`` or ``UNSPLIT`` (default ``connection.adjust``).

        Raises:
            PayloadRejected: bad input (no ids, a start after the end, an interval FactSet does not serve).
            NotFound: FactSet knows none of the ids.
        """
        interval = BarInterval(interval)
        if interval not in FREQUENCY_OF:
            raise NotSupported(
                f"{self.system}: FactSet serves end-of-day prices; intervals {', '.join(i.value for i in FREQUENCY_OF)}",
                capability="get_bars",
                system=self.system,
            )
        wanted = self._ids(ids)
        first, last = self._range(start, end, 365)
        adjustment = (adjust or self.settings.adjust).strip().upper()
        if adjustment not in ("SPLIT", "SPINOFF", "DIVADJ", "UNSPLIT"):
            raise PayloadRejected(
                f"adjust {adjust!r} is not SPLIT, SPINOFF, DIVADJ or UNSPLIT", field="adjust"
            )
        rows = await self.client.rows(
            "prices",
            wanted,
            {
                "startDate": first.isoformat(),
                "endDate": last.isoformat(),
                "frequency": FREQUENCY_OF[interval],
                "calendar": self.settings.calendar,
                "currency": self._currency(currency),
                "adjust": adjustment,
            },
            batch=batch,
        )
        by_id: dict[str, list[WirePrice]] = {i: [] for i in wanted}  # ids FactSet does not know get no bars
        for row in rows:
            by_id.setdefault(row.request_id.upper(), []).append(row)
        return {i: bars_from_prices(r, i, interval) for i, r in by_id.items()}

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
        """End-of-day bars oldest first (daily, weekly or monthly; ``adjusted`` adds dividend adjustment)."""
        interval = BarInterval(interval)
        if start is None and limit is not None and interval in _PERIOD_DAYS:
            last = self._day(end) or self.context.clock.now().date()
            start_day: date | datetime | None = last - timedelta(days=int(limit * _PERIOD_DAYS[interval]) + 7)
        else:
            start_day = start
        symbol = symbol.strip().upper()
        bars = (
            await self.get_prices(
                symbol,
                start=start_day,
                end=end,
                interval=interval,
                adjust="DIVADJ" if adjusted else None,
                batch=False,
            )
        )[symbol]
        if limit is not None:
            bars = bars[-limit:] if limit > 0 else []
        return bars

    # -- returns ---------------------------------------------------------------------------------

    async def get_returns(
        self,
        ids: str | Sequence[str],
        *,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        frequency: str = "D",
        currency: str | None = None,
        dividend_adjust: str | None = None,
    ) -> list[PeriodReturn]:
        """Total returns per period (``frequency``: D, W, M, AM, CQ, FQ, AY, CY, FY), per id then by date.

        ``dividend_adjust`` is FactSet's ``PRICE``, ``EXDATE``, ``PAYDATE``, ``EXDATE_C`` or ``PAYDATE_C``
        (default the API's: dividends reinvested on the ex-date, compounded).
        """
        wanted = self._ids(ids)
        first, last = self._range(start, end, 30)
        allowed = ("PRICE", "EXDATE", "PAYDATE", "EXDATE_C", "PAYDATE_C")
        if dividend_adjust is not None and dividend_adjust.upper() not in allowed:
            raise PayloadRejected(f"dividend_adjust {dividend_adjust!r} is not one of {', '.join(allowed)}")
        rows = await self.client.rows(
            "returns",
            wanted,
            {
                "startDate": first.isoformat(),
                "endDate": last.isoformat(),
                "frequency": self._frequency(frequency),
                "calendar": self.settings.calendar,
                "currency": self._currency(currency),
                "dividendAdjust": dividend_adjust.upper() if dividend_adjust else None,
            },
        )
        return returns_from_rows(rows)

    # -- shares and market value -----------------------------------------------------------------

    async def get_shares(
        self,
        ids: str | Sequence[str],
        *,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        frequency: str = "D",
    ) -> list[SharesOutstanding]:
        """Shares outstanding per period end (``frequency`` as for :meth:`get_returns`), per id then by date."""
        wanted = self._ids(ids)
        first, last = self._range(start, end, 30)
        rows = await self.client.rows(
            "shares",
            wanted,
            {"startDate": first.isoformat(), "endDate": last.isoformat(), "frequency": self._frequency(frequency),
             "calendar": self.settings.calendar},
        )  # fmt: skip
        return shares_from_rows(rows)

    async def get_market_values(
        self,
        ids: str | Sequence[str],
        *,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        frequency: str = "D",
        currency: str | None = None,
        batch: bool | None = None,
    ) -> list[MarketValue]:
        """Security and company market values per period end, per id then by date (batch for many ids)."""
        wanted = self._ids(ids)
        first, last = self._range(start, end, 30)
        rows = await self.client.rows(
            "market-value",
            wanted,
            {"startDate": first.isoformat(), "endDate": last.isoformat(), "frequency": self._frequency(frequency),
             "calendar": self.settings.calendar, "currency": self._currency(currency)},
            batch=batch,
        )  # fmt: skip
        return market_values_from_rows(rows)

    # -- corporate actions, references, overview -------------------------------------------------

    async def get_corporate_actions(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[CorporateAction]:
        """Cash and stock dividends (``/dividends``) and splits (``/splits``, whole history) by ex-date.

        Without ``start`` the last five years are asked for.
        """
        symbol = symbol.strip().upper()
        first, last = self._range(start, end, 5 * 365)
        dividends = await self.client.rows(
            "dividends", [symbol], {"startDate": first.isoformat(), "endDate": last.isoformat()}
        )
        splits = await self.client.rows("splits", [symbol])
        return corporate_actions_from_rows(dividends, splits, symbol, start=first, end=last)

    async def get_references(self, ids: str | Sequence[str]) -> dict[str, Instrument]:
        """Reference data of each id FactSet knows, keyed by the id as asked (unknown ones left out)."""
        rows = await self.client.rows("references", self._ids(ids))
        return {r.request_id.upper(): instrument_from_reference(r, r.request_id) for r in rows if r.fsym_id}

    async def resolve_ids(self, ids: str | Sequence[str]) -> dict[str, str]:
        """FactSet permanent ids of tickers (cached for ``connection.symbology_ttl_seconds``)."""
        found = await self.client.resolve(self._ids(ids))
        return {k.upper(): v for k, v in found.items()}

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """Name, exchange, country, currency, shares outstanding and market value (latest in the last 10 days).

        Raises:
            NotSupported: ``statements``: financial statements come from FactSet's Fundamentals API, which
                this connector does not cover.
        """
        if statements:
            raise NotSupported(
                f"{self.system}: financial statements are FactSet Fundamentals API data; the Prices API has none",
                capability="get_fundamentals",
                system=self.system,
            )
        symbol = symbol.strip().upper()
        references = await self.client.rows("references", [symbol])
        reference = next((r for r in references if r.fsym_id), None)
        if reference is None:
            raise NotFound(f"FactSet does not know {symbol!r}", system=self.system)
        first, last = self._range(None, None, 10)
        window = {"startDate": first.isoformat(), "endDate": last.isoformat()}
        shares = await self.client.rows("shares", [symbol], window)
        values = await self.client.rows("market-value", [symbol], window)
        return fundamentals_from_rows(reference, shares, values, symbol)
