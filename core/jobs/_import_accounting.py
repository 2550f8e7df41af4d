"""Record accounting of an import: counts, sums, rejects and quarantined records (:class:`_Accounting`), and the natural keys seen so far (:class:`_KeyIndex`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from portico.jobs._import_result import _SAMPLE, ImportResult, _raw_json
from portico.jobs._sinks import exact_sum
from portico.jobs._tables import job_tables

if TYPE_CHECKING:
    import numpy.typing as npt
    import polars as pl
    import sqlalchemy as sa

    from portico.jobs._import_state import _ImporterState


class _Accounting:
    """Counts, sums, samples, and the batched writes of rejects and quarantined records."""

    def __init__(
        self, importer: _ImporterState, conn: sa.Connection | None, result: ImportResult, ctx: dict[str, Any]
    ) -> None:
        self.imp = importer
        self.conn = conn
        self.result = result
        self.ctx = ctx
        self.sums: dict[str, Decimal] = {}
        self._rejects: list[dict[str, Any]] = []
        self._dlq: list[dict[str, Any]] = []

    def reject(self, line: int | None, fieldname: str | None, reason: str, raw: Any) -> None:
        self.result.rejected += 1
        entry = {"line": line, "field": fieldname, "reason": reason}
        if len(self.result.rejects) < _SAMPLE:
            self.result.rejects.append(entry)
        if self.conn is not None:
            self._rejects.append({"load_id": self.ctx["load_id"], **entry, "raw": _raw_json(raw)})
            if len(self._rejects) >= 5000:
                self.flush()

    def quarantine(self, line: int | None, fieldname: str | None, value: Any, reason: str, raw: Any) -> None:
        self.result.quarantined += 1
        entry = {
            "line": line,
            "field": fieldname,
            "value": None if value is None else str(value),
            "reason": reason,
        }
        if len(self.result.quarantine) < _SAMPLE:
            self.result.quarantine.append(entry)
        if self.conn is not None:
            now = self.imp.clock.now()
            self._dlq.append(
                {
                    "load_id": self.ctx["load_id"],
                    "data_type": self.result.data_type,
                    "destination": self.result.destination,
                    "source_key": self.result.source_key,
                    **entry,
                    "raw": _raw_json(raw),
                    "mapping": self.result.mapping,
                    "mapping_version": self.result.mapping_version,
                    "status": "open",
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(self._dlq) >= 5000:
                self.flush()

    def flush(self) -> None:
        if self.conn is None:
            return
        tables = job_tables()
        if self._rejects:
            self.conn.execute(tables["rejects"].insert(), self._rejects)
            self._rejects = []
        if self._dlq:
            self.conn.execute(tables["dlq"].insert(), self._dlq)
            self._dlq = []

    def add_sums(self, sums: Mapping[str, Decimal]) -> None:
        for k, v in sums.items():
            self.sums[k] = exact_sum((v,), self.sums.get(k, Decimal(0)))


class _KeyIndex:
    """Natural keys seen so far in this file, as 64-bit hashes with their first line.

    The hashes live in 256 sorted buckets (by their top byte): a chunk is checked with binary
    searches and merged into small arrays, so the cost per chunk stays flat as the file grows, and
    memory is 12 bytes per record. A hash hit is confirmed against the actual key values (in the
    chunk, or read back from the destination when it can), so a collision never rejects a record.
    """

    _BUCKETS = 256

    def __init__(self) -> None:
        import numpy as np

        self.hashes = [np.empty(0, dtype=np.uint64) for _ in range(self._BUCKETS)]
        self.lines = [np.empty(0, dtype=np.int32) for _ in range(self._BUCKETS)]

    def check(
        self,
        keys: pl.DataFrame,
        lines: Sequence[int] | npt.NDArray[Any],
        confirm: Callable[[int, int], bool] | None = None,
    ) -> dict[int, int]:
        """Positions (in ``keys``) of duplicates -> the line of the first occurrence.

        Args:
            keys: the chunk's key columns as text.
            lines: each row's line (a list or an integer array).
            confirm: ``confirm(pos, earlier_line)`` says whether row ``pos`` really has the key of the
                earlier line's record (from a previous chunk); without it a hash hit counts.
        """
        import numpy as np

        if keys.height == 0:
            return {}
        h = keys.hash_rows(seed=11).to_numpy()
        ln = np.asarray(lines, dtype=np.int32)
        order = np.argsort(h, kind="stable")
        sorted_h = h[order]
        dups: dict[int, int] = {}
        repeats = np.nonzero(sorted_h[1:] == sorted_h[:-1])[0]
        if repeats.size:
            rows = keys.rows()
            for i in repeats.tolist():
                later = int(order[i + 1])
                # walk back through the run of equal hashes to a row with equal key values
                j = i
                while j >= 0 and sorted_h[j] == sorted_h[i + 1]:
                    earlier = int(order[j])
                    if rows[earlier] == rows[later] and earlier not in dups:
                        dups[later] = int(ln[earlier])
                        break
                    j -= 1
        bounds = np.searchsorted(sorted_h >> np.uint64(56), np.arange(self._BUCKETS + 1, dtype=np.uint64))
        for b in range(self._BUCKETS):
            lo, hi = int(bounds[b]), int(bounds[b + 1])
            if lo == hi or not self.hashes[b].size:
                continue
            bucket = self.hashes[b]
            idx = np.minimum(np.searchsorted(bucket, sorted_h[lo:hi]), bucket.size - 1)
            for k in np.nonzero(bucket[idx] == sorted_h[lo:hi])[0].tolist():
                pos = int(order[lo + k])
                earlier_line = int(self.lines[b][idx[k]])
                if pos not in dups and (confirm is None or confirm(pos, earlier_line)):
                    dups[pos] = earlier_line
        keep = np.ones(h.size, dtype=bool)
        if dups:
            keep[list(dups)] = False
        kept_sorted = keep[order]
        new_h, new_l = sorted_h[kept_sorted], ln[order][kept_sorted]
        bounds = np.searchsorted(new_h >> np.uint64(56), np.arange(self._BUCKETS + 1, dtype=np.uint64))
        for b in range(self._BUCKETS):
            lo, hi = int(bounds[b]), int(bounds[b + 1])
            if lo == hi:
                continue
            merged = np.concatenate([self.hashes[b], new_h[lo:hi]])
            merged_lines = np.concatenate([self.lines[b], new_l[lo:hi]])
            o = np.argsort(merged, kind="stable")
            self.hashes[b], self.lines[b] = merged[o], merged_lines[o]
        return dups
