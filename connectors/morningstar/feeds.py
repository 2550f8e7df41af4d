"""Morningstar file feeds: versioned field mappings for Direct's exports, for the import pipeline.

Morningstar data also arrives as files exported from Direct (holdings, return indexes) rather than through
the API. Each mapping here is a YAML file beside this module (``feed_<name>.yaml``), loadable by name or by path::

    portico import holdings.csv --type positions --mapping <path of morningstar_holdings.yaml>

or in Python ``importer.import_file(path, "positions", mapping=feed_mapping("morningstar_holdings"))``.
A currency Direct names in words and the mapping does not know is quarantined by the pipeline (never
guessed); every load records the mapping's name and version.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from portico.errors import ConfigurationError
from portico.jobs import FieldMapping

__all__ = ["FEEDS", "feed_mapping", "mapping_path"]

_DIR = Path(__file__).parent  # feed_<name>.yaml, shipped as package data

FEEDS: dict[str, str] = {
    "morningstar_holdings": "positions",
    "morningstar_return_index": "prices",
}
"""Each feed mapping and the record type it loads."""


def mapping_path(name: str) -> Path:
    """The YAML file of feed mapping ``name``."""
    if name not in FEEDS:
        raise ConfigurationError(
            f"unknown Morningstar feed mapping {name!r}; known: {sorted(FEEDS)}", path="mapping"
        )
    return _DIR / f"feed_{name}.yaml"


@cache
def feed_mapping(name: str) -> FieldMapping:
    """Feed mapping ``name`` as a :class:`~portico.jobs.FieldMapping`."""
    data = yaml.safe_load(mapping_path(name).read_text(encoding="utf-8"))
    return FieldMapping.model_validate(data)
