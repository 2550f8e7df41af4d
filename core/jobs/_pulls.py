"""Imports pulled from a connector: bars and quotes by symbol, reference data, and files read in place.

:class:`ConnectorPulls` is that part of :class:`~portico.jobs.JobService`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from portico.errors import ConfigurationError, PorticoError
from portico.jobs._importer import ImportResult
from portico.jobs._reference_pull import REFERENCE_TYPES, pull_reference_records
from portico.jobs._service_parts import JobServiceParts
from portico.models import BarInterval

__all__ = ["ConnectorPulls"]


class ConnectorPulls(JobServiceParts):
    """The jobs service's imports from files and connectors (a part of :class:`~portico.jobs.JobService`)."""

    def _import_file(
        self, source: str, data_type: str, params: Mapping[str, Any], *, run_id: str | None = None
    ) -> ImportResult:
        path = source[len("file://") :] if source.startswith("file://") else source
        unknown = set(params) - {
            "format",
            "mapping",
            "destination",
            "source_key",
            "options",
            "dry_run",
            "expected_checksum",
            "feed",
            "row_change_tolerance",
        }
        if unknown:
            raise ConfigurationError(f"unknown import parameters {sorted(unknown)}", path="parameters")
        return self.importer.import_file(
            path,
            data_type,
            format=params.get("format"),
            mapping=params.get("mapping"),
            destination=params.get("destination", "store"),
            source_key=params.get("source_key"),
            options=params.get("options"),
            dry_run=bool(params.get("dry_run", False)),
            expected_checksum=params.get("expected_checksum"),
            run_id=run_id,
            feed=params.get("feed"),
            row_change_tolerance=float(params.get("row_change_tolerance", 0.10)),
        )

    async def _pull(
        self, source: str, data_type: str, params: dict[str, Any], *, run_id: str | None = None
    ) -> ImportResult:
        from portico.jobs._records import record_type

        rt = record_type(data_type, self.importer.record_types)
        if rt.name in REFERENCE_TYPES:
            return await self._pull_reference(source, rt.name, params, run_id=run_id)
        if rt.name != "prices":
            raise ConfigurationError(
                f"connector imports support prices (daily_prices), {', '.join(sorted(REFERENCE_TYPES))}; not {data_type!r}",
                path="data_type",
            )
        connector = self._connector(source)
        symbols = list(params.get("symbols") or [])
        if not symbols:
            raise ConfigurationError("a connector import needs symbols", path="symbols")
        limit = int(params.get("limit", 1))
        records: list[dict[str, Any]] = []
        for symbol in symbols:
            bars = await connector.get_bars(
                symbol, BarInterval.DAY, start=params.get("start"), end=params.get("end"), limit=limit
            )
            listing_currency = params.get("currency")
            if listing_currency is None and any(b.currency is None for b in bars):
                cache_key = (source, symbol)
                if cache_key not in self._listing_currencies:
                    self._listing_currencies[cache_key] = await self._listing_currency(connector, symbol)
                listing_currency = self._listing_currencies[cache_key]
            for bar in list(bars)[-limit:]:
                records.append(
                    {
                        "symbol": bar.symbol,
                        "date": bar.timestamp.date().isoformat(),
                        "open": bar.open,
                        "high": bar.high,
                        "low": bar.low,
                        "close": bar.close,
                        "volume": bar.volume,
                        # never a silent default: without a known currency the record is quarantined
                        "currency": bar.currency or listing_currency,
                        "source": source,
                    }
                )
        as_of = self.clock.now().date().isoformat()
        key = f"{source}:{rt.name}:{','.join(sorted(symbols))}:{as_of}"
        return await asyncio.to_thread(
            self.importer.import_records,
            records,
            rt.name,
            source_key=key,
            destination=params.get("destination", "store"),
            mapping=params.get("mapping"),
            run_id=run_id,
            source=source,
        )

    async def _pull_reference(
        self, source: str, data_type: str, params: dict[str, Any], *, run_id: str | None = None
    ) -> ImportResult:
        """A connector import of corporate actions, news, fundamentals or cash movements."""
        connector = self._connector(source)
        records, already = await pull_reference_records(
            connector, data_type, params, source=source, db=self.db
        )
        symbols = ",".join(sorted(str(s).upper() for s in params.get("symbols") or []))
        key = f"{source}:{data_type}:{symbols}:{self.clock.now().date().isoformat()}"
        if not records and already:
            # every article was stored before, from this provider or another: nothing new, nothing failed
            return ImportResult(run_id=run_id or uuid.uuid4().hex, data_type=data_type, source=source, source_key=key,
                                destination=params.get("destination", "store"), status="duplicate",
                                control_totals={"already_stored": already})  # fmt: skip
        return await asyncio.to_thread(
            self.importer.import_records, records, data_type, source_key=key,
            destination=params.get("destination", "store"), mapping=params.get("mapping"), run_id=run_id, source=source,
        )  # fmt: skip

    @staticmethod
    async def _listing_currency(connector: Any, symbol: str) -> str | None:
        """The currency the vendor lists ``symbol`` in (its instrument search), or None when it cannot say."""
        search = getattr(connector, "search_instruments", None)
        if search is None:
            return None
        try:
            found = await search(symbol, limit=10)
        except PorticoError:
            return None
        exact = [i for i in found if i.symbol.upper() == symbol.upper() and i.currency]
        return exact[0].currency if exact else None
