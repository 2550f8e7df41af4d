"""The gateway's tables, declared on the shared :func:`portico.store.metadata` (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portico.store import metadata

__all__ = ["gateway_tables"]

_tables: dict[str, sa.Table] = {}


def gateway_tables() -> dict[str, sa.Table]:
    """The tables by short name: tokens, sessions, idempotency, events, deliveries."""
    if _tables:
        return _tables
    md = metadata()
    existing: Any = md.tables
    if "gateway_tokens" in existing:
        _tables.update(
            tokens=existing["gateway_tokens"],
            sessions=existing["gateway_sessions"],
            idempotency=existing["gateway_idempotency"],
            events=existing["gateway_events"],
            deliveries=existing["gateway_webhook_deliveries"],
        )
        return _tables
    _tables["tokens"] = sa.Table(
        "gateway_tokens",
        md,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user", sa.String(128), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    _tables["sessions"] = sa.Table(
        "gateway_sessions",
        md,
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    _tables["idempotency"] = sa.Table(
        "gateway_idempotency",
        md,
        sa.Column("principal", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("operation", sa.String(300), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    _tables["events"] = sa.Table(
        "gateway_events",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("system", sa.String(128), nullable=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    _tables["deliveries"] = sa.Table(
        "gateway_webhook_deliveries",
        md,
        sa.Column("system", sa.String(128), primary_key=True),
        sa.Column("delivery_id", sa.String(200), primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    return _tables
