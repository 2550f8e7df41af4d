"""Headless Chromium driven over the Chrome DevTools Protocol (websockets), for the dashboard tests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from .conftest import wait_for

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def find_chromium(
    *, which: Callable[[str], str | None] = shutil.which, candidates: Iterable[Path] = (Path("/usr/bin/chromium"),)
) -> str | None:
    """The chromium binary, or None. It only looks: installing is CI's job (``.ci/run``), never a test's."""
    found = which("chromium")
    if found:
        return found
    return next((str(path) for path in candidates if path.exists()), None)


def chromium_verdict(binary: str | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    """What the browser tests do without chromium: ``("fail", why)`` in CI (``CI=true``), where a
    missing browser is a broken setup, ``("skip", why)`` elsewhere; None when chromium is there."""
    if binary is not None:
        return None
    if env.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        return "fail", "chromium is not installed: .ci/run installs it (apt-get install -y chromium) before the tests"
    return "skip", "chromium is not installed; run `apt-get install -y chromium` (Debian) to run the browser tests"


class Page:
    """One browser tab: navigate, evaluate JavaScript, take screenshots."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a CDP command and return its result (events arriving meanwhile are skipped)."""
        msg_id = next(self._ids)
        await self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout=30))
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await wait_for(lambda: True)  # yield once; readiness is checked by the caller's conditions

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_until(self, expression: str, timeout: float = 20.0, what: str | None = None) -> Any:
        """Evaluate ``expression`` until it is truthy (what a person would eventually see)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with contextlib.suppress(RuntimeError):
                value = await self.evaluate(expression)
                if value:
                    return value
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what or expression}")
            await asyncio.sleep(0.05)

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page."""
        result = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))
        return path


@contextlib.asynccontextmanager
async def chromium_page(binary: str, profile: Path) -> AsyncIterator[Page]:
    """Start headless Chromium with a fresh profile and yield a page driven over CDP."""
    profile.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        binary,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        await wait_for(lambda: port_file.exists() and port_file.read_text().strip(), timeout=60, what="chromium to start")
        port = int(port_file.read_text().split()[0])
        async with httpx.AsyncClient() as client:
            targets = await wait_for_targets(client, port)
        page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
        async with connect(page_ws, max_size=None, open_timeout=30) as ws:
            page = Page(ws)
            await page.send("Page.enable")
            await page.send("Runtime.enable")
            yield page
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def wait_for_targets(client: httpx.AsyncClient, port: int) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        with contextlib.suppress(httpx.HTTPError):
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
            if any(t.get("type") == "page" for t in targets):
                return targets  # type: ignore[no-any-return]
        if loop.time() > deadline:
            raise AssertionError("chromium exposed no page target")
        await asyncio.sleep(0.05)
