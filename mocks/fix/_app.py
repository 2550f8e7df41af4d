"""The FIX mock as served by ``portico mock fix``: admin HTTP routes beside the FIX acceptor."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import MockApp, MockClock, MockFaultSource, SimulatedVenue, json_response
from portico.mocks.fix._acceptor import FixFaults, FixMockServer

__all__ = ["FixMockApp", "create_app"]


class FixMockApp(MockApp):
    """The FIX mock app.

    Attributes:
        venue: the simulated venue.
        fix: the FIX acceptor once the app runs.
        extra_urls: ``fix`` -> ``tcp://host:port`` of the acceptor, for ``start_mock``.
    """

    def __init__(
        self,
        *,
        venue: SimulatedVenue,
        fix_port: int,
        fix_host: str,
        fix_faults: FixFaults,
        credentials: dict[str, tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(
            [Route("/__mock__/fix/faults", _faults, methods=["GET", "PUT"])],
            lifespan=self._lifespan,
            **kwargs,
        )
        self.venue = venue
        self.fix_port = fix_port
        self.fix_host = fix_host
        self.fix_faults = fix_faults
        self.credentials = credentials
        self.fix: FixMockServer | None = None
        self.extra_urls: dict[str, str] = {}

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        self.fix = await FixMockServer(
            self.venue, seed=self.seed, faults=self.fix_faults, credentials=self.credentials
        ).start(self.fix_host, self.fix_port)
        self.extra_urls["fix"] = self.fix.url
        try:
            yield
        finally:
            await self.fix.stop()
            self.fix = None


async def _faults(request: Request) -> Response:
    app: FixMockApp = request.app
    if request.method == "PUT":
        try:
            faults = FixFaults.from_mapping(await request.json())
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, status=400)
        app.fix_faults = faults
        if app.fix is not None:
            app.fix.faults = faults
    current = app.fix.faults if app.fix is not None else app.fix_faults
    hits = dict(app.fix.fault_hits) if app.fix is not None else {}
    return json_response({"faults": vars(current), "hits": hits})


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    realtime: bool = False,
    fix_port: int = 0,
    fix_host: str = "127.0.0.1",
    fix_faults: dict[str, Any] | None = None,
    credentials: dict[str, tuple[str, str]] | None = None,
    starting_cash: Decimal | float = Decimal(1_000_000),
) -> FixMockApp:
    """Build the FIX mock.

    Args:
        seed: seeds prices, ids and fault decisions.
        faults: fault rules of the admin HTTP routes (the FIX faults are ``fix_faults``).
        realtime: whether simulated time runs with the wall clock (``portico mock`` does this).
        fix_port: port of the FIX acceptor's relay (0: any free port).
        fix_host: interface of the relay.
        fix_faults: FIX fault probabilities (see :class:`FixFaults`); also settable at run time with
            ``PUT /__mock__/fix/faults``.
        credentials: ``{SenderCompID: (username, password)}`` the acceptor checks on Logon.
        starting_cash: the venue account's cash.
    """
    clock = MockClock(realtime=realtime)
    venue = SimulatedVenue(seed, clock=clock, starting_cash=Decimal(str(starting_cash)))
    return FixMockApp(
        venue=venue,
        fix_port=fix_port,
        fix_host=fix_host,
        fix_faults=FixFaults.from_mapping(fix_faults),
        credentials=dict(credentials or {}),
        name="fix",
        seed=seed,
        faults=faults,
        clock=clock,
        url_keys={"admin": ""},
    )
