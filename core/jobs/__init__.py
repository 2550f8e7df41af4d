"""Batch jobs: DataImporter, DataExporter, formats, mappings, the dead-letter queue and the scheduler."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.jobs._config import (
        DataExportConfig,
        DataImportConfig,
        FileWatch,
        JobsConfig,
        ScheduledExport,
        ScheduledImport,
        SmtpSettings,
        Trigger,
    )
    from portico.jobs._dlq import DeadLetterQueue
    from portico.jobs._exporter import DataExporter, ExportResult
    from portico.jobs._formats import FileRejected, Format, RawChunk, escape_formula
    from portico.jobs._importer import DataImporter, ImportResult, Stage
    from portico.jobs._mapping import FieldMapping, FieldRule, MappingError, UnmappedCode
    from portico.jobs._records import RECORD_TYPES, RecordType, record_type
    from portico.jobs._registry import FormatRegistry, SinkRegistry
    from portico.jobs._service import JobService
    from portico.jobs._sinks import LoadContext, Sink, SinkSession

# Loaded on first use: ``portico.config`` needs the record types and the jobs' settings models, not the
# importer, the exporter, the scheduler or their database tables, so loading a config stays cheap.
_LAZY: dict[str, str] = {
    "DataExportConfig": "portico.jobs._config",
    "DataExporter": "portico.jobs._exporter",
    "DataImportConfig": "portico.jobs._config",
    "DataImporter": "portico.jobs._importer",
    "DeadLetterQueue": "portico.jobs._dlq",
    "ExportResult": "portico.jobs._exporter",
    "FieldMapping": "portico.jobs._mapping",
    "FieldRule": "portico.jobs._mapping",
    "FileRejected": "portico.jobs._formats",
    "FileWatch": "portico.jobs._config",
    "Format": "portico.jobs._formats",
    "FormatRegistry": "portico.jobs._registry",
    "ImportResult": "portico.jobs._importer",
    "JobService": "portico.jobs._service",
    "JobsConfig": "portico.jobs._config",
    "LoadContext": "portico.jobs._sinks",
    "MappingError": "portico.jobs._mapping",
    "RECORD_TYPES": "portico.jobs._records",
    "RawChunk": "portico.jobs._formats",
    "RecordType": "portico.jobs._records",
    "ScheduledExport": "portico.jobs._config",
    "ScheduledImport": "portico.jobs._config",
    "Sink": "portico.jobs._sinks",
    "SinkRegistry": "portico.jobs._registry",
    "SinkSession": "portico.jobs._sinks",
    "SmtpSettings": "portico.jobs._config",
    "Stage": "portico.jobs._importer",
    "Trigger": "portico.jobs._config",
    "UnmappedCode": "portico.jobs._mapping",
    "escape_formula": "portico.jobs._formats",
    "record_type": "portico.jobs._records",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'portico.jobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
