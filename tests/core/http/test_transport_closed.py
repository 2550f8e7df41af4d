"""A closed aiohttp transport opens nothing new: a late call must not leave a session for the GC."""

from __future__ import annotations

import httpx
import pytest

from portico.http import AiohttpTransport


async def test_a_call_after_close_is_refused_and_opens_no_session() -> None:
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport):
        pass  # closing the client closes its transport
    with pytest.raises(httpx.ConnectError, match="transport is closed"):
        await transport.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/late-health-check"))
    # the conftest's unclosed-session check fails this test if the late call created a session
