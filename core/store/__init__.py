"""Embedded persistence behind small repository interfaces; SQLite by default, PostgreSQL to scale out."""

from __future__ import annotations

from portico.store._database import Database, default_database_url, metadata

__all__ = ["Database", "default_database_url", "metadata"]
