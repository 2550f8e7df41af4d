"""Size limits that keep a hostile delivery from taking the process's memory or time.

A decompression bomb is a small file that expands enormously: a 2 MB gzip holding one 2 GB line, an
XLSX whose shared-string table holds a 1 GB string or twenty million tiny ones. Every limit here is
enforced *while* the bytes stream, before a value is built from them, so memory stays bounded by a
limit and never by the input.

The limits are format options (``data_import.formats.<format>.<name>``, like ``delimiter``), with
defaults that no ordinary delivery comes near:

=============================  ==============  ===========================================================
option                         default         what it bounds
=============================  ==============  ===========================================================
``max_decompressed_bytes``     4 GiB           bytes a compressed delivery (gzip) may expand to
``max_compression_ratio``      500             expanded / compressed bytes, checked once 16 MiB are out
``max_record_chars``           1 MiB           characters of one record (a CSV/JSONL/fixed-width line or
                                               quoted multi-line record, an XML record's text)
``max_xml_token_bytes``        1 MiB           bytes of one XML tag, comment or instruction
``max_part_bytes``             512 MiB         uncompressed bytes of one XLSX part (a sheet, the strings)
``max_shared_strings``         1,000,000       entries of an XLSX shared-string table
``max_shared_strings_bytes``   128 MiB         uncompressed bytes of that table (all strings together)
=============================  ==============  ===========================================================

Past a delivery-wide limit the whole delivery is refused (:class:`FileRejected`, nothing loaded);
past ``max_record_chars`` only that record is rejected and the rest of the file is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from portico.errors import ConfigurationError

__all__ = ["RATIO_CHECK_AFTER", "ReadLimits"]

RATIO_CHECK_AFTER = 16 * 1024 * 1024
"""Decompressed bytes after which the compression ratio is checked: small files may compress very well."""


@dataclass(frozen=True)
class ReadLimits:
    """The size limits of one read, from a format's options (see the module docstring for each)."""

    max_decompressed_bytes: int = 4 * 1024**3
    max_compression_ratio: int = 500
    max_record_chars: int = 1024 * 1024
    max_xml_token_bytes: int = 1024 * 1024
    max_part_bytes: int = 512 * 1024 * 1024
    max_shared_strings: int = 1_000_000
    max_shared_strings_bytes: int = 128 * 1024 * 1024

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, format_name: str | None = None) -> ReadLimits:
        """The limits given in ``options`` (others keep their defaults).

        Raises:
            ConfigurationError: a limit is not a positive whole number (the path names the option).
        """
        given: dict[str, int] = {}
        for f in fields(cls):
            if f.name not in options or options[f.name] is None:
                continue
            value = options[f.name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                where = f"data_import.formats.{format_name}.{f.name}" if format_name else f.name
                raise ConfigurationError(f"{f.name} must be a positive whole number, got {value!r}", path=where)
            given[f.name] = value
        return cls(**given)
