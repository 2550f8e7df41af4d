"""Inbound webhooks: HMAC-SHA256 signature per system, timestamp tolerance, replay protection.

A delivery carries ``X-Portico-Timestamp`` (Unix seconds), ``X-Portico-Delivery`` (the sender's id
for this delivery) and ``X-Portico-Signature: v1=<hex>``, the HMAC-SHA256 under the system's secret of
``"{timestamp}.{delivery}.{body}"``. A delivery older or newer than the tolerance is refused; a delivery
id seen before is acknowledged and not processed again, so a replay (or a sender's retry) acts once.
"""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portico.clock import Clock
from portico.gateway._config import WebhookConfig
from portico.gateway._tables import gateway_tables
from portico.store import Database

__all__ = ["WebhookRefused", "WebhookVerifier", "sign_webhook"]


def sign_webhook(secret: str, timestamp: str, delivery: str, body: bytes) -> str:
    """The ``X-Portico-Signature`` value a sender puts on a delivery."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{delivery}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


class WebhookRefused(Exception):
    """A delivery that is not accepted; ``reason`` says why (never the secret or the expected value)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class WebhookVerifier:
    """Checks deliveries against each system's secret and remembers the delivery ids it accepted."""

    def __init__(self, config: dict[str, WebhookConfig], db: Database, clock: Clock) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.table = gateway_tables()["deliveries"]
        db.ensure_tables(self.table)

    def verify(
        self, system: str, timestamp: str | None, delivery: str | None, signature: str | None, body: bytes
    ) -> bool:
        """Check one delivery; returns True when it is new, False when it was accepted before.

        Raises:
            WebhookRefused: no webhook for the system (404), a header missing or malformed, a timestamp
                outside the tolerance, or a signature that does not match (401).
        """
        settings = self.config.get(system)
        if settings is None:
            raise WebhookRefused(f"no webhook is configured for system {system!r}", status=404)
        if not timestamp or not delivery or not signature:
            missing = [
                n
                for n, v in (
                    ("X-Portico-Timestamp", timestamp),
                    ("X-Portico-Delivery", delivery),
                    ("X-Portico-Signature", signature),
                )
                if not v
            ]
            raise WebhookRefused(f"missing header(s): {', '.join(missing)}")
        if len(delivery) > 200:
            raise WebhookRefused("X-Portico-Delivery: at most 200 characters")
        try:
            sent = int(timestamp)
        except ValueError:
            raise WebhookRefused("X-Portico-Timestamp: expected Unix seconds (an integer)") from None
        skew = abs(self.clock.now().timestamp() - sent)
        if skew > settings.tolerance_seconds:
            raise WebhookRefused(
                f"X-Portico-Timestamp is {int(skew)} s away from this server's clock "
                f"(tolerance {settings.tolerance_seconds} s)"
            )
        expected = sign_webhook(settings.secret.get_secret_value(), timestamp, delivery, body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise WebhookRefused("X-Portico-Signature does not match the body")
        try:
            with self.db.begin() as conn:
                conn.execute(
                    self.table.insert().values(
                        system=system, delivery_id=delivery, received_at=self.clock.now().timestamp()
                    )
                )
        except IntegrityError:
            return False
        return True

    def forget(self, system: str, delivery: str) -> None:
        """Forget an accepted delivery that could not be processed, so the sender's retry is."""
        t = self.table
        with self.db.begin() as conn:
            conn.execute(t.delete().where(t.c.system == system, t.c.delivery_id == delivery))

    def seen(self, system: str, delivery: str) -> bool:
        """Whether a delivery id was accepted before."""
        t = self.table
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(t.c.delivery_id).where(t.c.system == system, t.c.delivery_id == delivery)
            ).first()
        return row is not None
