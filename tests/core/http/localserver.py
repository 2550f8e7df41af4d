"""A real aiohttp server on an ephemeral loopback port, for transport and client tests."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


def build_app(hang: asyncio.Event) -> web.Application:
    async def quote(request: web.Request) -> web.Response:
        return web.json_response({"symbol": "AAPL", "bid": "187.24"})

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "body": body.decode(),
                "query": dict(request.query),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "correlation_ids": request.headers.getall("X-Correlation-ID", []),
            }
        )

    async def compressed(request: web.Request) -> web.Response:
        payload = gzip.compress(json.dumps({"compressed": True}).encode())
        return web.Response(body=payload, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(5):
            await response.write(f"chunk-{i};".encode())
        await response.write_eof()
        return response

    async def slow(request: web.Request) -> web.Response:
        await hang.wait()
        return web.json_response({})

    async def drop(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.close()
        await hang.wait()
        return web.json_response({})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/v2/quote")

    async def cookie(request: web.Request) -> web.Response:
        response = web.json_response({"seen": request.cookies.get("session")})
        response.set_cookie("session", "s-1")
        return response

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        headers = {"Retry-After": request.query["retry_after"]} if "retry_after" in request.query else None
        return web.json_response({"message": f"status {code}", "code": code * 100}, status=code, headers=headers)

    app = web.Application()
    app.router.add_get("/v2/quote", quote)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/gzip", compressed)
    app.router.add_get("/stream", stream)
    app.router.add_get("/slow", slow)
    app.router.add_get("/drop", drop)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/cookie", cookie)
    app.router.add_get("/status/{code}", status)
    return app


@asynccontextmanager
async def serve() -> AsyncIterator[str]:
    """Serve the app; yields its base URL. Requests left hanging are released on exit."""
    hang = asyncio.Event()
    runner = web.AppRunner(build_app(hang), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        hang.set()
        await runner.cleanup()
