"""A running runtime (two Alpaca systems on their mocks) with the gateway in front, for the gateway tests.

The runtime and the gateway run on their own event loop in a background thread, so synchronous clients
(schemathesis, the TypeScript client's process) and asynchronous ones alike talk to a real server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from portico.gateway import Gateway, hash_password
from portico.home import portico_home
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration

T = TypeVar("T")

# one salt per user keeps the test configuration deterministic; the hash is still a real scrypt hash
PASSWORDS = {
    "root": "root-pw-0",
    "alice": "alice-pw-1",
    "bob": "bob-pw-2",
    "carol": "carol-pw-3",
    "dave": "dave-pw-4",
    "erin": "erin-pw-5",
}
_HASHES = {user: hash_password(pw, salt=user.encode().ljust(16, b".")) for user, pw in PASSWORDS.items()}
WEBHOOK_SECRET = "whsec-test-0123456789"


def _alpaca(seed: int) -> dict[str, Any]:
    return {
        "type": "brokerage",
        "connector": "alpaca",
        "mock": True,
        "mock_seed": seed,
        "authentication": {
            "type": "api_key_pair",
            "credentials": {"api_key_id": "PKTEST", "api_secret_key": "alpaca-secret-xyz"},
        },
    }


def gateway_section() -> dict[str, Any]:
    """Users x groups: root may do everything; alice reads everything; bob trades alpaca_a only; carol runs jobs (and reads
    systems); dave has no group; erin manages credentials."""
    return {
        "enabled": True,
        "users": {
            "root": {"password_hash": _HASHES["root"], "groups": ["admins"]},
            "alice": {"password_hash": _HASHES["alice"], "groups": ["readers"]},
            "bob": {"password_hash": _HASHES["bob"], "groups": ["traders_a"]},
            "carol": {"password_hash": _HASHES["carol"], "groups": ["ops"]},
            "dave": {"password_hash": _HASHES["dave"], "groups": []},
            "erin": {"password_hash": _HASHES["erin"], "groups": ["secops"]},
        },
        "groups": {
            "admins": {
                "grants": [
                    {"resource": r, "permission": "READ_WRITE"}
                    for r in ("systems", "accounts", "jobs", "credentials")
                ]
            },
            "readers": {
                "grants": [
                    {"resource": "systems", "permission": "READ"},
                    {"resource": "accounts", "permission": "READ"},
                    {"resource": "jobs", "permission": "READ"},
                    {"resource": "credentials", "permission": "READ"},
                ]
            },
            "traders_a": {
                "grants": [
                    {"resource": "systems", "match": "alpaca_a", "permission": "READ_WRITE"},
                    {"resource": "accounts", "match": "alpaca_a/*", "permission": "READ_WRITE"},
                ]
            },
            "ops": {
                "grants": [
                    {"resource": "jobs", "permission": "READ_WRITE"},
                    {"resource": "systems", "permission": "READ"},
                ]
            },
            "secops": {"grants": [{"resource": "credentials", "permission": "READ_WRITE"}]},
        },
        "webhooks": {"alpaca_a": {"secret": WEBHOOK_SECRET, "tolerance_seconds": 300}},
    }


def config(**overrides: Any) -> dict[str, Any]:
    section = gateway_section()
    section.update(overrides)
    return {"systems": {"alpaca_a": _alpaca(1), "alpaca_b": _alpaca(2)}, "gateway": section}


@dataclass
class Stack:
    """The running runtime and gateway, and a bearer token per user (full scopes of their groups)."""

    integration: AsyncIntegration
    gateway: Gateway
    loop: asyncio.AbstractEventLoop
    home: Path = field(default_factory=portico_home)
    """The PORTICO_HOME the runtime started under."""
    tokens: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Per user: the session cookie and its CSRF token."""

    @property
    def url(self) -> str:
        return self.gateway.url

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the stack's loop (to read the runtime or the mock's venue)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def client(self, user: str | None = None, *, session: bool = False, **kwargs: Any) -> httpx.Client:
        """A client authenticated as ``user`` by API token (or by session cookie and CSRF header)."""
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        if user and session:
            cookie, csrf = self.sessions[user]
            cookies["portico_session"] = cookie
            headers["X-CSRF-Token"] = csrf
        elif user:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        return httpx.Client(base_url=self.url, headers=headers, cookies=cookies, timeout=30.0, **kwargs)

    def venue_orders(self, system: str) -> list[Any]:
        async def read() -> list[Any]:
            return list(self.integration.systems[system].mock.app.venue.orders.values())

        return self.run(read())


@contextmanager
def running_stack(**overrides: Any) -> Iterator[Stack]:
    """Start the runtime and the gateway on 127.0.0.1 (a free port) in a thread; stop both after."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="gateway-test-loop", daemon=True)
    thread.start()

    async def start() -> Stack:
        integration = AsyncIntegration(config(**overrides), plugins=PluginManager())
        await integration.start()
        for system_id in integration.systems:  # /health is ready once every system was checked
            await integration.run_health_check(system_id)
        gateway = Gateway(integration, port=0)
        await gateway.start()
        return Stack(integration, gateway, loop)

    stack = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    try:
        with httpx.Client(base_url=stack.url, timeout=30.0) as http:
            for user, scopes in _full_scopes().items():
                login = http.post("/v1/auth/login", json={"username": user, "password": PASSWORDS[user]})
                assert login.status_code == 200, login.text
                stack.sessions[user] = (login.cookies["portico_session"], login.json()["csrf_token"])
                http.cookies.clear()
                if not scopes:
                    continue
                with stack.client(user, session=True) as as_user:
                    made = as_user.post("/v1/tokens", json={"name": f"{user}-test", "scopes": scopes})
                assert made.status_code == 201, made.text
                stack.tokens[user] = made.json()["token"]
                http.cookies.clear()
        yield stack
    finally:

        async def stop() -> None:
            await stack.gateway.stop()
            await stack.integration.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _full_scopes() -> dict[str, list[dict[str, str]]]:
    section = gateway_section()
    out: dict[str, list[dict[str, str]]] = {}
    for user, entry in section["users"].items():
        grants = [g for group in entry["groups"] for g in section["groups"][group]["grants"]]
        out[user] = grants  # dave has none, so no token: he is tested with his session
    return out
