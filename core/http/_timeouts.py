"""Timeouts for one API client."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Timeouts"]


class Timeouts(BaseModel):
    """How long each phase of one attempt may take, in seconds (``None``: no limit).

    Attributes:
        connect: opening a connection (TCP and TLS).
        read: waiting for each chunk of the response. Off by default: ``total`` already bounds every
            attempt, and on the aiohttp transport a read timer is re-armed for every chunk received,
            which costs a small call about a tenth of its client-side time. Set it when ``total`` is
            off or long (large downloads) and a stalled response must be noticed sooner.
        write: sending each chunk of the request (httpx's own transport only).
        pool: waiting for a free pooled connection (bounded by ``total`` on the aiohttp transport).
        total: the whole attempt, from the first byte sent to the last byte read.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect: float | None = Field(default=5.0, gt=0)
    read: float | None = Field(default=None, gt=0)
    write: float | None = Field(default=30.0, gt=0)
    pool: float | None = Field(default=10.0, gt=0)
    total: float | None = Field(default=30.0, gt=0)

    def httpx_extension(self) -> dict[str, Any]:
        """The per-request ``timeout`` extension httpx transports read."""
        return {"connect": self.connect, "read": self.read, "write": self.write, "pool": self.pool}
