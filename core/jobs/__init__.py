"""Batch jobs: DataImporter, DataExporter, formats, mappings, the dead-letter queue and the scheduler."""

from __future__ import annotations
