"""The merge of a distributed import's staged rows into the store under one load: through the store
sink with duplicate keys rejected in Python (SQLite), or in SQL on PostgreSQL, paging the staged rows."""

from __future__ import annotations

import json
from typing import Any

from portico.jobs._distributed_staging import distributed_tables
from portico.jobs._tables import data_table, job_tables

__all__ = ["merge_rows_python", "merge_rows_sql"]


def merge_rows_python(conn: Any, import_id: str, rt: Any, session: Any, load_id: str) -> tuple[int, int]:
    """Write the staged rows through the store sink, rejecting duplicate keys across chunks (SQLite)."""
    rejects = job_tables()["rejects"]
    key_pos = [rt.fields.index(k) for k in rt.key]
    seen: dict[tuple[Any, ...], int] = {}
    batch_rows: list[tuple[Any, ...]] = []
    batch_lines: list[int] = []
    dup_rejects: list[dict[str, Any]] = []
    for line, raw in _staged_rows(conn, import_id):
        row = tuple(json.loads(raw))
        key = tuple(row[p] for p in key_pos)
        first = seen.get(key)
        if first is not None:
            shown = ", ".join(f"{k}={v}" for k, v in zip(rt.key, key, strict=True))
            dup_rejects.append(
                {
                    "load_id": load_id,
                    "line": line,
                    "field": None,
                    "reason": f"duplicate record ({shown}) of line {first}",
                    "raw": json.dumps(dict(zip(rt.fields, row, strict=True))),
                }
            )
            continue
        seen[key] = line
        batch_rows.append(row)
        batch_lines.append(line)
        if len(batch_rows) >= 5_000:
            session.write(batch_rows, batch_lines)
            batch_rows, batch_lines = [], []
    session.write(batch_rows, batch_lines)
    if dup_rejects:
        conn.execute(rejects.insert(), dup_rejects)
    return len(seen), len(dup_rejects)


def merge_rows_sql(conn: Any, import_id: str, rt: Any, load_no: int, load_id: str) -> tuple[int, int]:
    """The same in one pass of SQL on PostgreSQL: no row travels to the process and back."""
    import sqlalchemy as sa

    table, staged = data_table(rt), distributed_tables()["staged"]

    def value(i: int, name: str) -> str:
        text = f"(s.row ->> {i})"
        return f"{text}::integer" if isinstance(table.c[name].type, sa.Integer) else text

    # each staged row parsed once (jsonb), not once per field and key: the merge is the serial part
    parsed = f"SELECT line, row::jsonb AS row FROM {staged.name} WHERE import_id = :import_id"
    keys = ", ".join(f"(s.row ->> {rt.fields.index(k)})" for k in rt.key)
    ranked = (
        f"SELECT s.line, s.row, row_number() OVER (PARTITION BY {keys} ORDER BY s.line) AS n, "
        f"min(s.line) OVER (PARTITION BY {keys}) AS first_line FROM ({parsed}) s"
    )
    columns = ", ".join(["load_no", "line", *rt.fields])
    values = ", ".join(value(i, f) for i, f in enumerate(rt.fields))
    loaded = conn.execute(
        sa.text(
            f"INSERT INTO {table.name} ({columns}) SELECT :load_no, s.line, {values} FROM ({ranked}) s WHERE s.n = 1"
        ),
        {"import_id": import_id, "load_no": load_no},
    ).rowcount
    staged_rows = conn.execute(
        sa.select(sa.func.count()).select_from(staged).where(staged.c.import_id == import_id)
    ).scalar_one()
    if int(staged_rows) == int(loaded):
        return int(loaded), 0  # no key twice: the ranking need not run again for the duplicates
    shown = " || ', ' || ".join(f"'{k}=' || coalesce(s.row ->> {rt.fields.index(k)}, 'None')" for k in rt.key)
    raw = ", ".join(f"'{f}', s.row -> {i}" for i, f in enumerate(rt.fields))
    duplicates = conn.execute(
        sa.text(
            f"INSERT INTO {job_tables()['rejects'].name} (load_id, line, field, reason, raw) "
            f"SELECT :load_id, s.line, NULL, 'duplicate record (' || {shown} || ') of line ' || s.first_line, "
            f"json_build_object({raw})::text FROM ({ranked}) s WHERE s.n > 1"
        ),
        {"import_id": import_id, "load_id": load_id},
    ).rowcount
    return int(loaded), int(duplicates)


def _staged_rows(conn: Any, import_id: str, page: int = 10_000) -> Any:
    """The staged rows of ``import_id`` in line order, a page at a time (no server-side cursor: the
    same connection writes the load meanwhile)."""
    import sqlalchemy as sa

    staged = distributed_tables()["staged"]
    last = -1
    while True:
        rows = conn.execute(
            sa.select(staged.c.line, staged.c.row)
            .where(staged.c.import_id == import_id, staged.c.line > last)
            .order_by(staged.c.line)
            .limit(page)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].line
