"""A TCP proxy whose replies can be held back: one client's calls outlast its timeout while the server
(and every other client) carries on, as when that process's event loop is held on a loaded machine."""

from __future__ import annotations

import asyncio
import contextlib


class HoldingProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; while :attr:`holding`, server bytes wait in the proxy."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._released = asyncio.Event()
        self._released.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def holding(self) -> bool:
        return not self._released.is_set()

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, held: bool) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await reader.read(65536):
                    if held:
                        await self._released.wait()
                    writer.write(data)
                    await writer.drain()
            writer.close()

        up = asyncio.ensure_future(pipe(client_r, server_w, held=False))
        down = asyncio.ensure_future(pipe(server_r, client_w, held=True))
        self._tasks |= {up, down}
        await asyncio.gather(up, down, return_exceptions=True)

    async def stop(self) -> None:
        self.release()
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
