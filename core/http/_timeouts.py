"""Timeouts for one API client."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Timeouts"]


class Timeouts(BaseModel):
    """How long each phase of one attempt may take, in seconds (``None``: no limit).

    Attributes:
        connect: opening a connection (TCP and TLS).
        read: waiting for each chunk of the response.
        write: sending each chunk of the request.
        pool: waiting for a free pooled connection.
        total: the whole attempt, from the first byte sent to the last byte read.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect: float | None = Field(default=5.0, gt=0)
    read: float | None = Field(default=30.0, gt=0)
    write: float | None = Field(default=30.0, gt=0)
    pool: float | None = Field(default=10.0, gt=0)
    total: float | None = Field(default=60.0, gt=0)

    def httpx_extension(self) -> dict[str, Any]:
        """The per-request ``timeout`` extension httpx transports read."""
        return {"connect": self.connect, "read": self.read, "write": self.write, "pool": self.pool}
