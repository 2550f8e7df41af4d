"""The Interactive Brokers mock app: the Client Portal Web API (REST + WebSocket) under ``/v1/api``, and
a TWS socket server started beside it, both on one simulated venue.

What a real gateway does that the mock reproduces:

* the brokerage session: ``iserver/auth/status``, ``tickle`` (which also keeps it alive),
  ``reauthenticate``, ``ssodh/init``, ``logout``; an idle session lapses after ``session_timeout``
  simulated seconds without requests, and ``/__mock__/ib/session`` expires it or fakes a competing login;
* pacing: 10 requests per second overall and IB's per-endpoint limits, answered with 429;
* order questions (``[{"id", "message", "messageIds"}]``) answered through ``iserver/reply/{id}``,
  with configurable warnings;
* the empty first ("pre-flight") answer of a market data snapshot for a contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import FaultRule, MockApp, MockClock, MockFaultSource, json_response
from portico.mocks.interactive_brokers._venue import DEFAULT_ACCOUNT, IbVenue

__all__ = ["DEFAULT_QUESTIONS", "IbMockApp", "OrderQuestionRule", "create_app"]

PACING: dict[str, tuple[int, float]] = {
    # path prefix (under /v1/api): (requests, per seconds)
    "/iserver/marketdata/snapshot": (10, 1.0),
    "/iserver/account/orders": (1, 5.0),
    "/portfolio/accounts": (1, 5.0),
    "/portfolio/subaccounts": (1, 5.0),
    "/tickle": (1, 1.0),
    "/iserver/account/trades": (1, 5.0),
    "/iserver/marketdata/history": (5, 1.0),
}
GLOBAL_PACING = (10, 1.0)


@dataclass(frozen=True)
class OrderQuestionRule:
    """A warning the venue asks the client to confirm before it accepts an order.

    ``when`` is ``always``, ``limit_away`` (a limit price more than 3% from the market) or ``market``
    (market orders).
    """

    message_id: str
    text: str
    when: str = "always"


DEFAULT_QUESTIONS: tuple[OrderQuestionRule, ...] = (
    OrderQuestionRule(
        "o163",
        "The following order exceeds the price percentage limit. Are you sure you want to submit this order?",
        "limit_away",
    ),
    OrderQuestionRule(
        "o354",
        "You are submitting an order without market data. We strongly recommend against this as it may "
        "result in erroneous and unexpected trades. Are you sure you want to submit this order?",
        "market",
    ),
)


@dataclass
class SessionState:
    """The gateway's login: the SSO session (browser login) and the brokerage (iserver) session."""

    sso: bool = True
    authenticated: bool = True
    competing: bool = False
    session_id: str = field(default_factory=lambda: secrets.token_hex(16))
    last_activity: datetime | None = None
    user_id: int = 99996016


@dataclass
class PendingOrder:
    """An order waiting for its questions to be confirmed."""

    account: str
    body: dict[str, Any]
    questions: list[OrderQuestionRule]
    modify_of: int | None = None


class IbMockApp(MockApp):
    """The IB mock. See the module docstring.

    Attributes:
        venue: the IB view of the simulated venue.
        session: the gateway session state.
        questions: the order warnings asked.
        pacing: whether IB's pacing limits are enforced (429).
        tws: the TWS socket server once the app runs (None when ``tws_port`` is None).
        extra_urls: URLs of servers the app runs beside its HTTP routes (``tws``), for ``start_mock``.
    """

    def __init__(
        self,
        routes: Sequence[Any],
        *,
        venue: IbVenue,
        questions: Sequence[OrderQuestionRule],
        pacing: bool,
        session_timeout: float,
        tws_port: int | None,
        tws_host: str,
        tws_faults: Mapping[str, Any],
        tick_interval: float,
        heartbeat_interval: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(routes, lifespan=self._lifespan, **kwargs)
        self.venue = venue
        self.session = SessionState(last_activity=venue.now())
        self.questions = list(questions)
        self.suppressed: set[str] = set()
        self.pacing = pacing
        self.session_timeout = session_timeout
        self.pending: dict[str, PendingOrder] = {}
        self.preflight_done: set[int] = set()
        self.ws_subscriptions: dict[int, int] = {}
        """conid -> number of WebSocket market data subscriptions (the ticker steps those)."""
        self.tick_interval = tick_interval
        self.heartbeat_interval = heartbeat_interval
        self.tws_port = tws_port
        self.tws_host = tws_host
        self.tws_faults = dict(tws_faults)
        self.tws: Any = None
        self.extra_urls: dict[str, str] = {}
        self._calls: dict[str, deque[float]] = {}
        # the Flex Web Service (see _flex), set by create_app
        self.started_at: datetime = venue.now()
        self.funding = Decimal(0)
        self.flex_tokens: set[str] | None = None
        self.flex_pending = 0
        self.flex_references: Iterator[int] = itertools.count(1)
        self.flex_statements: dict[str, int] = {}
        """Reference code -> fetches still answered "in progress"."""

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        if self.tws_port is not None:
            from portico.mocks.interactive_brokers.tws import TwsMockServer

            # the app's ticker moves the market for both protocols, so the TWS server has none of its own
            self.tws = await TwsMockServer(
                self.venue, seed=self.seed, faults=self.tws_faults, tick_interval=0
            ).start(self.tws_host, self.tws_port)
            self.extra_urls["tws"] = self.tws.url
        ticker = asyncio.create_task(self._tick_loop()) if self.tick_interval > 0 else None
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            if self.tws is not None:
                await self.tws.stop()
                self.tws = None

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            conids = {c for c, n in self.ws_subscriptions.items() if n > 0}
            if self.tws is not None:
                conids |= {listing.conid for s in self.tws._sessions for listing in s.ticks.values()}
            conids |= {o.listing.conid for o in self.venue.orders.values() if o.is_open}
            if conids or self.venue.clock.realtime:
                self.venue.step(sorted(conids) or None)

    # -- session -----------------------------------------------------------------------------------

    def touch(self) -> None:
        """Count a request as activity; lapse the brokerage session first if it sat idle too long."""
        now = self.venue.now()
        last = self.session.last_activity
        if last is not None and (now - last).total_seconds() > self.session_timeout:
            self.session.authenticated = False
        self.session.last_activity = now

    def auth_status(self) -> dict[str, Any]:
        """The ``iserver/auth/status`` body."""
        s = self.session
        return {
            "authenticated": s.authenticated and not s.competing,
            "competing": s.competing,
            "connected": s.sso,
            "message": "",
            "MAC": "02:42:AC:11:00:02",
            "fail": "" if s.sso else "not logged in",
            "hardware_info": "mock|02:42:AC:11:00:02",
            "serverInfo": {"serverName": "PorticoMock", "serverVersion": "Build 10.30.1, portico mock"},
        }

    # -- pacing ------------------------------------------------------------------------------------

    def paced(self, path: str) -> float | None:
        """Count a request to ``path``; the seconds to wait when it breaks IB's pacing, else None."""
        if not self.pacing:
            return None
        now = time.monotonic()
        waits = [self._take("*", GLOBAL_PACING, now)]
        for prefix, limit in PACING.items():
            if path.startswith(prefix):
                waits.append(self._take(prefix, limit, now))
                break
        worst = max(w for w in waits)
        return worst if worst > 0 else None

    def _take(self, key: str, limit: tuple[int, float], now: float) -> float:
        count, period = limit
        window = self._calls.setdefault(key, deque())
        while window and window[0] <= now - period:
            window.popleft()
        if len(window) >= count:
            return period - (now - window[0])
        window.append(now)
        return 0.0

    # -- error shapes ------------------------------------------------------------------------------

    def rate_limited_response(self, retry_after: str, rule: FaultRule) -> Response:
        return json_response(
            {"error": "Too many requests", "statusCode": 429}, 429, {"Retry-After": retry_after}
        )

    def error_response(self, rule: FaultRule) -> Response:
        if rule.body is not None:
            return super().error_response(rule)  # type: ignore[return-value]
        return json_response({"error": "Internal Server Error", "statusCode": rule.status}, rule.status)


async def _session_admin(request: Request) -> Response:
    """``/__mock__/ib/session``: GET the session; POST ``{"authenticated": false}``, ``{"competing": true}``,
    ``{"logged_out": true}`` or ``{"idle": seconds}`` (move the last activity back) to change it."""
    app: IbMockApp = request.app
    if request.method == "POST":
        data = await request.json()
        if "authenticated" in data:
            app.session.authenticated = bool(data["authenticated"])
        if "competing" in data:
            app.session.competing = bool(data["competing"])
        if data.get("logged_out"):
            app.session.sso = False
            app.session.authenticated = False
        if "questions" in data:
            app.questions = [OrderQuestionRule(**q) for q in data["questions"]]
    s = app.session
    return json_response(
        {
            "authenticated": s.authenticated,
            "competing": s.competing,
            "sso": s.sso,
            "session": s.session_id,
            "questions": [q.__dict__ for q in app.questions],
        }
    )


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    realtime: bool = False,
    start: datetime | None = None,
    cash: Decimal | float = Decimal("1000000.00"),
    questions: Sequence[OrderQuestionRule] = DEFAULT_QUESTIONS,
    pacing: bool = True,
    session_timeout: float = 360.0,
    tws_port: int | None = 0,
    tws_host: str = "127.0.0.1",
    tws_faults: Mapping[str, Any] | None = None,
    tick_interval: float = 0.25,
    heartbeat_interval: float = 10.0,
    positions: Mapping[str, tuple[Decimal, Decimal]] | None = None,
    flex_tokens: Sequence[str] | None = None,
    flex_pending: int = 0,
) -> IbMockApp:
    """Build the IB mock.

    Args:
        seed: seeds prices, ids and fault decisions.
        faults: fault rules for the HTTP and WebSocket routes (file path, rules as data, or a plan).
        realtime: whether simulated time runs with the wall clock (``portico mock`` does this).
        start: simulated time at start.
        cash: the paper account's starting cash.
        questions: the order warnings the venue asks to confirm.
        pacing: enforce IB's pacing limits with 429 answers.
        session_timeout: simulated seconds without a request before the brokerage session lapses.
        tws_port: port of the TWS socket server started with the app (0: any free port; None: none).
        tws_host: interface of the TWS socket server.
        tws_faults: fault settings of the TWS server (``{"drop_order_ack": 0.3}``...).
        tick_interval: real seconds between market moves pushed to streaming subscribers.
        heartbeat_interval: real seconds between WebSocket heartbeats.
        positions: starting positions, symbol -> (quantity, average cost).
        flex_tokens: the Flex Web Service tokens accepted (None: any non-empty token).
        flex_pending: how many fetches of each Flex statement answer "generation in progress" first.
    """
    from portico.mocks.interactive_brokers._flex import flex_routes
    from portico.mocks.interactive_brokers._portal import portal_routes
    from portico.mocks.interactive_brokers._portal_ws import portal_socket

    clock = MockClock(start, realtime=realtime)
    venue = IbVenue(seed=seed, clock=clock, cash=Decimal(str(cash)))
    for symbol, (quantity, cost) in (positions or {}).items():
        venue.seed_position(
            DEFAULT_ACCOUNT, venue.listing(symbol=symbol).conid, Decimal(quantity), Decimal(cost)
        )
    from starlette.routing import WebSocketRoute

    app = IbMockApp(
        [
            *portal_routes(),
            *flex_routes(),
            WebSocketRoute("/v1/api/ws", portal_socket),
            Route("/__mock__/ib/session", _session_admin, methods=["GET", "POST"]),
        ],
        venue=venue,
        questions=questions,
        pacing=pacing,
        session_timeout=session_timeout,
        tws_port=tws_port,
        tws_host=tws_host,
        tws_faults=tws_faults or {},
        tick_interval=tick_interval,
        heartbeat_interval=heartbeat_interval,
        name="interactive_brokers",
        seed=seed,
        faults=faults,
        clock=clock,
    )
    app.started_at = clock.now()
    app.funding = Decimal(str(cash))
    app.flex_tokens = set(flex_tokens) if flex_tokens is not None else None
    app.flex_pending = flex_pending
    app.flex_references = itertools.count(1)
    app.flex_statements = {}
    return app
