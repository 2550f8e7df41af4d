"""Stripe-style ``Idempotency-Key``: the same key and body replay the first answer; another body is 409.

Keys belong to the caller (the user): two users never see each other's answers. The first answer is
stored with a hash of the operation and the canonical request body; a retry with the same key and the
same body gets that answer again (same status, same body), whatever happened since.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portico.clock import Clock
from portico.gateway._tables import gateway_tables
from portico.store import Database

__all__ = ["IdempotencyStore", "StoredAnswer", "request_hash"]


def request_hash(operation: str, body: Any) -> str:
    """A hash of the operation and the request body in canonical form (key order does not matter)."""
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{operation}\n{canon}".encode()).hexdigest()


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given for a key."""

    operation: str
    request_hash: str
    status_code: int
    body: Any


class IdempotencyStore:
    """Stored answers by (principal, key)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.table = gateway_tables()["idempotency"]
        db.ensure_tables(self.table)

    def get(self, principal: str, key: str) -> StoredAnswer | None:
        """The stored answer for the key, or None."""
        t = self.table
        with self.db.begin() as conn:
            row = (
                conn.execute(sa.select(t).where(t.c.principal == principal, t.c.key == key))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return StoredAnswer(
            row["operation"], row["request_hash"], row["status_code"], json.loads(row["body"])
        )

    def put(self, principal: str, key: str, answer: StoredAnswer) -> StoredAnswer:
        """Store the answer unless one is stored already; returns the one that stands."""
        try:
            with self.db.begin() as conn:
                conn.execute(
                    self.table.insert().values(
                        principal=principal,
                        key=key,
                        operation=answer.operation,
                        request_hash=answer.request_hash,
                        status_code=answer.status_code,
                        body=json.dumps(answer.body, default=str),
                        created_at=self.clock.now().timestamp(),
                    )
                )
        except IntegrityError:
            stored = self.get(principal, key)
            if stored is not None:
                return stored
            raise
        return answer
