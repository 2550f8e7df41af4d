"""A scripted FIX 4.4 counterparty for the acceptance cases: raw messages out, expected messages in.

Like QuickFIX's acceptance suite, a case is a script of messages sent (built here, with correct or
deliberately wrong sequence numbers, checksums and fields) and messages expected back, checked field by
field. It runs against the FIX mock's acceptor, whose session layer is QuickFIX's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

SOH = "\x01"

__all__ = ["ScriptClient", "encode"]


def _time(offset: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def encode(
    msg_type: str,
    seq: int,
    fields: Sequence[tuple[int, str]] = (),
    *,
    sender: str = "SCRIPT",
    target: str = "VENUE",
    header: Sequence[tuple[int, str]] = (),
    checksum_offset: int = 0,
    sending_time_offset: float = 0.0,
) -> bytes:
    """One FIX 4.4 message with BodyLength and CheckSum computed (CheckSum shifted by ``checksum_offset``)."""
    parts = [(35, msg_type), (49, sender), (56, target), (34, str(seq)), (52, _time(sending_time_offset))]
    parts += [*header, *fields]
    body = "".join(f"{tag}={value}{SOH}" for tag, value in parts)
    head = f"8=FIX.4.4{SOH}9={len(body.encode())}{SOH}"
    data = (head + body).encode()
    checksum = (sum(data) + checksum_offset) % 256
    return data + f"10={checksum:03d}{SOH}".encode()


def decode(raw: bytes) -> dict[int, str]:
    """The first value of each tag of one raw message."""
    out: dict[int, str] = {}
    for part in raw.decode().split(SOH):
        tag, _, value = part.partition("=")
        if tag.isdigit():
            out.setdefault(int(tag), value)
    return out


class ScriptClient:
    """One TCP connection to the acceptor, speaking as ``SCRIPT``.

    Every wait has a deadline: :meth:`expect` fails the test when the message does not come in time.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = b""
        self.seq = 1
        self.received: list[dict[int, str]] = []

    @classmethod
    async def connect(cls, host: str, port: int) -> ScriptClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        return cls(reader, writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(
        self,
        msg_type: str,
        fields: Sequence[tuple[int, str]] = (),
        *,
        seq: int | None = None,
        **options: object,
    ) -> int:
        """Send one message (the next sequence number unless ``seq`` is given); returns the number used."""
        number = self.seq if seq is None else seq
        await self.send_raw(encode(msg_type, number, list(fields), **options))  # type: ignore[arg-type]
        if seq is None:
            self.seq += 1
        return number

    async def logon(
        self, *, heartbeat: int = 30, seq: int | None = None, extra: Sequence[tuple[int, str]] = ()
    ) -> dict[int, str]:
        """Send a Logon and return the acceptor's Logon."""
        await self.send("A", [(98, "0"), (108, str(heartbeat)), *extra], seq=seq)
        return await self.expect("A")

    async def read(self, timeout: float = 5.0) -> dict[int, str] | None:
        """The next message, or None when the connection closed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            end = self.buffer.find(b"\x0110=")
            if end >= 0 and len(self.buffer) >= end + 8:
                raw, self.buffer = self.buffer[: end + 8], self.buffer[end + 8 :]
                message = decode(raw)
                self.received.append(message)
                return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no complete message within {timeout}s (buffer {self.buffer[:200]!r})")
            chunk = await asyncio.wait_for(self.reader.read(65536), remaining)
            if not chunk:
                return None
            self.buffer += chunk

    async def expect(self, msg_type: str, timeout: float = 5.0, **_: object) -> dict[int, str]:
        """The next message that is not a Heartbeat (unless one is expected); fails on another type."""
        while True:
            message = await self.read(timeout)
            assert message is not None, f"connection closed while expecting 35={msg_type}"
            if message.get(35) == "0" and msg_type != "0":
                continue
            assert message.get(35) == msg_type, f"expected 35={msg_type}, got {message}"
            return message

    async def expect_closed(self, timeout: float = 5.0) -> list[dict[int, str]]:
        """Read until the acceptor closes the connection; returns what came before."""
        seen = []
        while True:
            message = await self.read(timeout)
            if message is None:
                return seen
            seen.append(message)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            await asyncio.wait_for(self.writer.wait_closed(), 2)
