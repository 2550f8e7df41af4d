"""The dead-letter queue: quarantined records, listed, shown, replayed or discarded.

A quarantined record keeps its raw source values, the mapping (name and version) it failed under, and
the load it belongs to. Replaying re-maps it with the mapping as configured *now* (so fixing the
translation table or the reference data is how a record gets out), and loads it into its original
load: a later corrected redelivery backs it out together with the rest of that load.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from portico.errors import ConfigurationError
from portico.jobs._importer import DataImporter, storage_value
from portico.jobs._mapping import MappingError, UnmappedCode
from portico.jobs._records import record_type
from portico.jobs._sinks import LoadContext, StoreSink
from portico.jobs._tables import job_tables

__all__ = ["DeadLetterQueue"]


class DeadLetterQueue:
    """Operations on quarantined records.

    Args:
        importer: the importer whose mappings, validators, sinks and store the replay uses.
    """

    def __init__(self, importer: DataImporter) -> None:
        self.importer = importer
        self.db = importer.db

    def list(self, *, status: str | None = "open", data_type: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Entries, oldest first (``status=None`` for all)."""
        import sqlalchemy as sa

        t = job_tables()["dlq"]
        stmt = sa.select(t.c.id, t.c.load_id, t.c.data_type, t.c.source_key, t.c.line, t.c.field, t.c.value, t.c.reason, t.c.status, t.c.attempts, t.c.created_at).order_by(t.c.id).limit(limit)
        if status:
            stmt = stmt.where(t.c.status == status)
        if data_type:
            stmt = stmt.where(t.c.data_type == record_type(data_type, self.importer.record_types).name)
        with self.db.begin() as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
        for row in rows:  # when it was quarantined, for the CLI and the dashboard
            row["created_at"] = row["created_at"].isoformat() if row["created_at"] else None
        return rows

    def show(self, entry_id: int) -> dict[str, Any]:
        """One entry with its raw record."""
        import sqlalchemy as sa

        t = job_tables()["dlq"]
        with self.db.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == entry_id)).mappings().first()
        if row is None:
            raise ConfigurationError(f"no dead-letter entry {entry_id}", path="id")
        out = dict(row)
        out["raw"] = json.loads(out["raw"])
        for k in ("created_at", "updated_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out

    def discard(self, entry_ids: Iterable[int], *, reason: str = "discarded by operator") -> int:
        """Mark open entries discarded (they stay on record); returns how many changed."""
        import sqlalchemy as sa

        t = job_tables()["dlq"]
        ids = list(entry_ids)
        with self.db.begin() as conn:
            result = conn.execute(
                sa.update(t).where(t.c.id.in_(ids), t.c.status == "open").values(status="discarded", reason=t.c.reason + f" [{reason}]", updated_at=self.importer.clock.now())
            )
        return int(result.rowcount or 0)

    def replay(self, entry_ids: Iterable[int] | None = None) -> dict[str, Any]:
        """Re-map and load open entries (all open ones when ``entry_ids`` is None).

        Returns ``{"replayed": [...ids], "still_failing": {id: reason}}``. Each entry is loaded in its
        own transaction together with its status change and its load's ledger counts.
        """
        import sqlalchemy as sa

        tables = job_tables()
        t, loads = tables["dlq"], tables["loads"]
        ids = list(entry_ids) if entry_ids is not None else [e["id"] for e in self.list(limit=1_000_000)]
        replayed: list[int] = []
        failing: dict[int, str] = {}
        for entry_id in ids:
            entry = self.show(entry_id)
            if entry["status"] != "open":
                failing[entry_id] = f"entry is {entry['status']}, not open"
                continue
            rt = record_type(entry["data_type"], self.importer.record_types)
            name = entry["mapping"]
            if name not in (None, "identity") and name not in self.importer.mappings:
                failing[entry_id] = f"mapping {name!r} is not configured here; add it to data_import.mappings to replay"
                continue
            mapping = self.importer.resolve_mapping(None if name in (None, "identity") and name not in self.importer.mappings else name, rt)
            reason = None
            row: tuple[Any, ...] | None = None
            try:
                values = mapping.compile(rt).map_row(entry["raw"])
                record = rt.model.model_validate({k: v for k, v in values.items() if v is not None})
                row = tuple(storage_value(getattr(record, f)) for f in rt.fields)
                for validator in self.importer.validators:
                    types = getattr(validator, "data_types", None)
                    if types and rt.name not in types:
                        continue
                    bad = validator.validate(rt.name, [dict(zip(rt.fields, row, strict=True))]) or {}
                    if bad:
                        reason = f"reference check: {next(iter(bad.values()))}"
            except (MappingError, UnmappedCode) as exc:
                reason = str(exc)
            except ValidationError as exc:
                err = exc.errors()[0]
                reason = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            now = self.importer.clock.now()
            with self.db.begin() as conn:
                if reason is not None or row is None:
                    conn.execute(sa.update(t).where(t.c.id == entry_id, t.c.status == "open").values(attempts=t.c.attempts + 1, reason=reason, updated_at=now))
                    failing[entry_id] = reason or "unknown"
                    continue
                load = conn.execute(sa.select(loads.c.status).where(loads.c.load_id == entry["load_id"])).first()
                if load is None or load.status != "committed":
                    failing[entry_id] = f"its load {entry['load_id']} is {load.status if load else 'gone'}; replay the corrected delivery instead"
                    continue
                sink = self.importer.sinks.for_destination(entry["destination"])
                if not isinstance(sink, StoreSink):
                    # a file is rendered whole from one load's rows, and an HTTP receiver got the load's
                    # closing count: adding one record would replace the file with it, or contradict the count
                    failing[entry_id] = f"its destination {entry['destination']} is written whole by each load, so one record cannot be added to it; import the corrected delivery instead"
                    continue
                # claim the entry first: of two replays running at once, only one may load it
                claimed = conn.execute(sa.update(t).where(t.c.id == entry_id, t.c.status == "open").values(status="replayed", attempts=t.c.attempts + 1, updated_at=now))
                if claimed.rowcount != 1:
                    status = conn.execute(sa.select(t.c.status).where(t.c.id == entry_id)).scalar()
                    failing[entry_id] = f"entry is {status or 'gone'}, not open"
                    continue
                session = sink.open(LoadContext(load_id=entry["load_id"], rt=rt, destination=entry["destination"], source_key=entry["source_key"], conn=conn, db=self.db, formats=self.importer.formats))
                session.write([row], [entry["line"] or 0])
                session.commit()
                conn.execute(
                    sa.update(loads).where(loads.c.load_id == entry["load_id"]).values(rows_loaded=loads.c.rows_loaded + 1, rows_quarantined=loads.c.rows_quarantined - 1)
                )
            replayed.append(entry_id)
        return {"replayed": replayed, "still_failing": failing}
