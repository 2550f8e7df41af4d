"""A scripted httpx transport: answers (or failures) in order, every request recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

Step = httpx.Response | Exception | Callable[[httpx.Request], Any]


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Plays ``steps`` in order, one per request; the last step repeats once the script runs out.

    A step is a response, an exception to raise, or a callable (sync or async) taking the request.
    """

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests), len(self.steps)) - 1
        step = self.steps[index]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        result = step(request)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    @property
    def calls(self) -> int:
        return len(self.requests)


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)
