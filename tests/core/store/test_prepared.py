"""Statements run on the DB-API cursor read and write what SQLAlchemy's own execution would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portico.store import Database
from portico.trading._tables import UtcDateTime

_meta = sa.MetaData()
_things = sa.Table(
    "prepared_things",
    _meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("kind", sa.String(16), nullable=False, default="plain"),
)
_by_name = sa.select(_things).where(_things.c.name == sa.bindparam("b_name"))
_insert = _things.insert()
_bump = (
    _things.update()
    .where(_things.c.name == sa.bindparam("b_name"))
    .values(note=_things.c.note + sa.literal("!"), at=sa.bindparam("b_at"))
)
AT = datetime(2026, 3, 2, 14, 30, 5, 123456, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    _meta.create_all(database.engine)
    yield database
    database.dispose()


def _row(**values: Any) -> dict[str, Any]:
    return {"name": "a", "at": AT, "flag": True, "note": "hi", "kind": "special", **values}


def test_a_row_written_and_read_on_the_cursor_has_the_column_types_back(db: Database) -> None:
    with db.begin() as conn:
        first = db.execute(conn, _insert, _row())
        second = db.execute(conn, _insert, _row(name="b", flag=False, note=None))
    assert first.inserted_primary_key == (1,) and second.inserted_primary_key == (2,)
    with db.begin() as conn:
        row = db.execute(conn, _by_name, {"b_name": "a"}).one()
        none = db.execute(conn, _by_name, {"b_name": "zz"}).one_or_none()
    assert none is None
    assert (row.seq, row.name, row.at, row.flag, row.note, row.kind) == (1, "a", AT, True, "hi", "special")
    assert row._mapping["at"].tzinfo is UTC and row[1] == "a"
    # what SQLAlchemy's own execution reads back from the same rows
    with db.engine.connect() as conn:
        theirs = conn.execute(_by_name, {"b_name": "b"}).one()
    with db.begin() as conn:
        ours = db.execute(conn, _by_name, {"b_name": "b"}).one()
    assert dict(ours._mapping) == dict(theirs._mapping) == {
        "seq": 2, "name": "b", "at": AT, "flag": False, "note": None, "kind": "special"
    }  # fmt: skip


def test_an_update_with_literal_values_and_a_rollback_behave_as_in_sqlalchemy(db: Database) -> None:
    later = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    with db.begin() as conn:
        db.execute(conn, _insert, _row())
    with db.begin() as conn:
        db.execute(conn, _bump, {"b_name": "a", "b_at": later})
    with pytest.raises(RuntimeError), db.begin() as conn:
        db.execute(conn, _bump, {"b_name": "a", "b_at": AT})
        raise RuntimeError("the transaction is rolled back")
    with db.begin() as conn:
        row = db.execute(conn, _by_name, {"b_name": "a"}).one()
    assert (row.note, row.at) == ("hi!", later)


def test_a_python_side_default_or_a_listener_takes_sqlalchemys_own_path(db: Database) -> None:
    with db.begin() as conn:
        db.execute(conn, _insert, {"name": "d", "at": AT, "flag": True})  # "kind" has a Python default
    seen: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *args, **kw: seen.append(args[2]))
    with db.begin() as conn:
        row = db.execute(conn, _by_name, {"b_name": "d"}).one()
    assert row.kind == "plain"
    assert len(seen) == 1 and seen[0].startswith("SELECT"), "a listener sees every statement"


def test_one_without_a_row_and_a_missing_parameter_raise_sqlalchemys_errors(db: Database) -> None:
    with db.begin() as conn, pytest.raises(sa.exc.NoResultFound):
        db.execute(conn, _by_name, {"b_name": "nobody"}).one()
    with db.begin() as conn, pytest.raises(sa.exc.StatementError):
        db.execute(conn, _by_name, {})


def test_a_transaction_begun_inside_another_on_one_thread_gets_its_own_connection(db: Database) -> None:
    with db.begin() as outer:
        db.execute(outer, _insert, _row(name="o"))
        with db.begin() as inner:
            assert inner is not outer
            assert db.execute(inner, _by_name, {"b_name": "o"}).first() is None, "saw an uncommitted row"
    with db.begin() as again:
        assert again is outer, "the thread's connection is kept between transactions"
        assert db.execute(again, _by_name, {"b_name": "o"}).one().name == "o"


def test_a_taken_key_raises_sqlalchemys_integrity_error(db: Database) -> None:
    with db.begin() as conn:
        db.execute(conn, _insert, _row(seq=7))
    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE constraint failed"), db.begin() as conn:
        db.execute(conn, _insert, _row(seq=7, name="again"))
    with db.begin() as conn:
        assert db.execute(conn, _by_name, {"b_name": "again"}).first() is None


def test_a_held_transaction_commits_rolls_back_and_mixes_with_sqlalchemy_statements(db: Database) -> None:
    with db.begin() as conn:
        db.execute(conn, _insert, _row(name="raw"))
        conn.execute(_things.insert().values(name="core", at=AT, flag=True, kind="k"))  # SQLAlchemy's path
    with pytest.raises(KeyError), db.begin() as conn:
        db.execute(conn, _insert, _row(name="gone"))
        raise KeyError("rolled back")
    with pytest.raises(KeyError), db.begin() as conn:
        db.execute(conn, _insert, _row(name="gone too"))
        conn.execute(_things.insert().values(name="gone three", at=AT, flag=True, kind="k"))
        raise KeyError("rolled back, SQLAlchemy's transaction too")
    with db.engine.connect() as other:
        names = other.execute(sa.select(_things.c.name).order_by(_things.c.seq)).scalars().all()
    assert names == ["raw", "core"]
