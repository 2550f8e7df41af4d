"""Metric history in the embedded store, downsampled, so trend charts survive a restart.

Raw samples (one per system and metric every ``history.sample_interval``) are kept for
``raw_retention``; older ones are rolled up into ``rollup_interval`` averages kept for
``rollup_retention``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from portico.monitor._config import HistoryConfig

if TYPE_CHECKING:
    import sqlalchemy as sa

    from portico.store import Database

__all__ = ["MetricHistory", "history_table"]

_table: Any = None


def history_table() -> sa.Table:
    """The ``monitor_metric_history`` table (declared once on the shared metadata)."""
    global _table
    if _table is None:
        import sqlalchemy as sa

        from portico.store import metadata  # lazy: cold start (SQLAlchemy)

        meta = metadata()
        existing = meta.tables.get("monitor_metric_history")
        _table = (
            existing
            if existing is not None
            else sa.Table(
                "monitor_metric_history",
                meta,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("system", sa.String(128), nullable=False),
                sa.Column("metric", sa.String(64), nullable=False),
                sa.Column("resolution", sa.Integer, nullable=False),
                sa.Column("ts", sa.Float, nullable=False),
                sa.Column("value", sa.Float, nullable=False),
                sa.Column("samples", sa.Integer, nullable=False, default=1),
                sa.Index("ix_monitor_metric_history_lookup", "system", "metric", "ts"),
            )
        )
    return _table  # type: ignore[no-any-return]


class MetricHistory:
    """Writes samples and reads series; every method is synchronous (call it in a worker thread).

    Args:
        db: the embedded database.
        config: sampling and retention settings.
    """

    def __init__(self, db: Database, config: HistoryConfig) -> None:
        self.db = db
        self.config = config
        self.table = history_table()
        db.ensure_tables(self.table)

    def write(self, when: datetime, samples: Mapping[str, Mapping[str, float | None]]) -> int:
        """Store one sample per ``system -> metric -> value`` (None values are skipped). Returns rows written."""
        ts = when.timestamp()
        resolution = int(self.config.sample_interval)
        rows = [
            {
                "system": system,
                "metric": metric,
                "resolution": resolution,
                "ts": ts,
                "value": float(value),
                "samples": 1,
            }
            for system, metrics in samples.items()
            for metric, value in metrics.items()
            if value is not None
        ]
        if rows:
            with self.db.begin() as conn:
                conn.execute(self.table.insert(), rows)
        return len(rows)

    def downsample(self, now: datetime) -> int:
        """Roll raw samples older than ``raw_retention`` into averages; drop expired rollups. Returns rows rolled."""
        import sqlalchemy as sa

        t = self.table
        raw_res = int(self.config.sample_interval)
        roll = int(self.config.rollup_interval)
        cutoff = now.timestamp() - self.config.raw_retention
        expiry = now.timestamp() - self.config.rollup_retention
        bucket = sa.func.floor(t.c.ts / roll) * roll
        with self.db.begin() as conn:
            grouped = conn.execute(
                sa.select(
                    t.c.system,
                    t.c.metric,
                    bucket.label("bucket"),
                    sa.func.sum(t.c.value * t.c.samples).label("weighted"),
                    sa.func.sum(t.c.samples).label("n"),
                )
                .where(t.c.resolution == raw_res, t.c.ts < cutoff)
                .group_by(t.c.system, t.c.metric, bucket)
            ).all()
            rows = [
                {
                    "system": g.system,
                    "metric": g.metric,
                    "resolution": roll,
                    "ts": float(g.bucket),
                    "value": float(g.weighted) / int(g.n),
                    "samples": int(g.n),
                }
                for g in grouped
            ]
            if rows:
                conn.execute(t.insert(), rows)
            conn.execute(t.delete().where(t.c.resolution == raw_res, t.c.ts < cutoff))
            conn.execute(t.delete().where(t.c.resolution == roll, t.c.ts < expiry))
        return len(rows)

    def series(
        self, system: str, metric: str, *, since: datetime, limit: int = 500
    ) -> list[tuple[datetime, float]]:
        """``(time, value)`` points of one metric since ``since``, oldest first (rollups then raw samples)."""
        import sqlalchemy as sa

        t = self.table
        with self.db.begin() as conn:
            result = conn.execute(
                sa.select(t.c.ts, t.c.value)
                .where(t.c.system == system, t.c.metric == metric, t.c.ts >= since.timestamp())
                .order_by(t.c.ts.desc())
                .limit(limit)
            ).all()
        return [(datetime.fromtimestamp(ts, UTC), value) for ts, value in reversed(result)]
