"""The public surface of portico.jobs, and the duplicate-key index's confirmation of hash hits."""

from __future__ import annotations

import polars as pl

import portico.jobs
from portico.jobs._importer import _KeyIndex


def test_public_surface_is_pinned() -> None:
    assert sorted(portico.jobs.__all__) == sorted(
        [
            "RECORD_TYPES",
            "DataExportConfig",
            "DataExporter",
            "DataImportConfig",
            "DataImporter",
            "DeadLetterQueue",
            "ExportResult",
            "FieldMapping",
            "FieldRule",
            "FileRejected",
            "FileWatch",
            "Format",
            "FormatRegistry",
            "ImportResult",
            "JobService",
            "JobsConfig",
            "LoadContext",
            "MappingError",
            "RawChunk",
            "RecordType",
            "ScheduledExport",
            "ScheduledImport",
            "Sink",
            "SinkRegistry",
            "SinkSession",
            "SmtpSettings",
            "Stage",
            "Trigger",
            "UnmappedCode",
            "escape_formula",
            "record_type",
        ]
    )
    for name in portico.jobs.__all__:
        assert getattr(portico.jobs, name) is not None


def _keys(*values: str) -> pl.DataFrame:
    return pl.DataFrame({"k": list(values)})


def test_key_index_finds_duplicates_within_and_across_chunks() -> None:
    index = _KeyIndex()
    assert index.check(_keys("a", "b", "a"), [2, 3, 4]) == {2: 2}
    assert index.check(_keys("c", "b", "d"), [5, 6, 7]) == {1: 3}
    assert index.check(_keys(*[f"x{i}" for i in range(5000)]), list(range(8, 5008))) == {}
    assert index.check(_keys("x4999", "a"), [9000, 9001]) == {0: 5007, 1: 2}


def test_key_index_hash_hit_not_confirmed_is_not_a_duplicate() -> None:
    index = _KeyIndex()
    index.check(_keys("a"), [2])
    asked: list[tuple[int, int]] = []

    def confirm(pos: int, earlier: int) -> bool:
        asked.append((pos, earlier))
        return False  # as if the stored record at line 2 had a different key: a hash collision

    assert index.check(_keys("a"), [3], confirm) == {}
    assert asked == [(0, 2)]
