"""Batch jobs: DataImporter, DataExporter, formats, mappings, the dead-letter queue and the scheduler."""

from __future__ import annotations

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
