"""What connector authors subclass: :class:`Connector`, and the :class:`ConnectorContext` it is given."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from portico.clock import Clock, system_clock
from portico.errors import ConfigurationError, NotFound, NotSupported
from portico.models import (
    Account,
    Bar,
    BarInterval,
    CashMovement,
    CorporateAction,
    Execution,
    Fundamentals,
    FxRate,
    Instrument,
    NewsItem,
    Order,
    OrderEvent,
    OrderRequest,
    Position,
    Quote,
    Snapshot,
    TimeInForce,
    Trade,
)
from portico.sdk._spec import Capability, ConnectionSettings, ConnectorSpec, Environment, RateLimitPolicy

if TYPE_CHECKING:
    import httpx

    from portico.http import ApiClient
    from portico.store import Database

__all__ = ["CheckResult", "Connector", "ConnectorContext", "OrderStatusFilter", "filter_orders"]

OrderStatusFilter = Literal["open", "closed", "all"]
SettingsT = TypeVar("SettingsT", bound=ConnectionSettings)


def filter_orders(
    orders: list[Order],
    *,
    status: OrderStatusFilter = "open",
    symbols: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[Order]:
    """Apply :meth:`Connector.list_orders`' filters to orders a venue returned unfiltered.

    For venues whose order listing takes no filters: keeps the status group (``open``: not terminal),
    the symbols and the submission-time range (``created_at``, else ``updated_at``), newest first, at
    most ``limit``.
    """

    def stamp(order: Order) -> datetime | None:
        return order.created_at or order.updated_at

    kept = [o for o in orders if status == "all" or (status == "open") != o.is_terminal]
    if symbols:
        wanted = {s.upper() for s in symbols}
        kept = [o for o in kept if o.symbol.upper() in wanted]
    if since is not None:
        kept = [o for o in kept if (t := stamp(o)) is None or t >= since]
    if until is not None:
        kept = [o for o in kept if (t := stamp(o)) is None or t <= until]
    floor = datetime.min.replace(tzinfo=UTC)
    kept.sort(key=lambda o: stamp(o) or floor, reverse=True)
    return kept[:limit] if limit else kept


class CheckResult(BaseModel):
    """The answer of a connectivity and auth check (``portico check``, health checks)."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    system: str
    latency_ms: float | None = None
    detail: str = ""
    checks: dict[str, bool] = {}
    """Named sub-checks (``reachable``, ``authenticated``, ``stream``...) and whether each passed."""
    rate_limited_until: datetime | None = None
    """Set when the check could not be made because the rate budget or the vendor's quota is spent:
    the system is "rate limited until" then (degraded, not down) and is not checked again before."""


ClientFactory = Callable[..., "ApiClient"]
EventSink = Callable[..., None]


class CallMeterFactory(Protocol):
    """Measures one request of a transport that is not HTTP (the runtime gives a
    :class:`portico.http.CallMeter`): ``async with meter("reqPositions", method="TWS"): ...``."""

    def __call__(self, endpoint: str, *, method: str = ...) -> AbstractAsyncContextManager[None]: ...


def _no_events(_event: str, **_data: Any) -> None:
    return None


@dataclass
class ConnectorContext:
    """Everything the runtime hands a connector: where to connect, as whom, and the shared services.

    Connectors never read config files, environment variables or the vault themselves; the runtime
    resolves all of that into this object. Tests build one with :meth:`for_testing`.

    Attributes:
        system_id: the configured system's key (``alpaca_paper``).
        spec: the connector's manifest.
        environment: the environment in use, with its URLs (pointing at the mock when ``mock: true``).
        connection: the system's ``connection`` section as configured (host, port, client_id...).
        settings: the same section validated by the manifest's ``connection_settings`` model; read it
            typed with :meth:`settings_as`.
        credentials: credential values by field name; secret ones are ``SecretStr``.
        auth_scheme: the auth scheme name chosen in config (``authentication.type``), if any.
        auth: the ``httpx.Auth`` flow the AuthenticationManager built for this system, if any.
        client_factory: builds an :class:`~portico.http.ApiClient` with this system's shared policies
            (rate limits, breaker, retry, monitoring); call it through :meth:`api_client`.
        clock: the time source.
        emit: report an event to the monitor: ``emit("stream.reconnected", attempt=2)``.
        store: the embedded database, for connectors that cache (instrument ids...).
        options: other settings (``api_version``, ``features``).
        rate_limiter: the system's shared rate limiter; HTTP clients from :meth:`api_client` use it by
            themselves, socket transports call :meth:`acquire` before each request.
        call_meter: reports a socket transport's requests to the monitor as HTTP calls are reported;
            transports use it through :meth:`measure`.
    """

    system_id: str
    spec: ConnectorSpec
    environment: Environment
    connection: Mapping[str, Any] = field(default_factory=dict)
    # repr=False: a plain-string credential (allowed, and common in tests) would print in any repr
    credentials: Mapping[str, SecretStr | str] = field(default_factory=dict, repr=False)
    auth_scheme: str | None = None
    auth: httpx.Auth | None = None
    client_factory: ClientFactory | None = None
    clock: Clock = system_clock
    emit: EventSink = _no_events
    store: Database | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    rate_limiter: Any = None
    call_meter: CallMeterFactory | None = None
    settings: ConnectionSettings = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self.settings = self.spec.connection_settings.model_validate(dict(self.connection))
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(part) for part in error["loc"])
            path = f"systems.{self.system_id}.connection" + (f".{key}" if key else "")
            what = (
                "unknown key"
                if error["type"] == "extra_forbidden"
                else error["msg"].removeprefix("Value error, ")
            )
            raise ConfigurationError(f"{path}: {what}", path=path, system=self.system_id) from None

    def settings_as(self, model: type[SettingsT]) -> SettingsT:
        """The validated ``connection`` settings as the connector's own model (its manifest's
        ``connection_settings``); a clear error when the manifest declares another model."""
        if not isinstance(self.settings, model):
            raise ConfigurationError(
                f"{self.spec.name} declares connection_settings={type(self.settings).__name__}, "
                f"not {model.__name__}",
                system=self.system_id,
            )
        return self.settings

    def measure(self, endpoint: str, *, method: str = "SOCKET") -> AbstractAsyncContextManager[None]:
        """Wrap one request of a transport that is not HTTP, so the monitor counts and times it.

        ``async with context.measure("reqPositions", method="TWS"): await ...`` reports one call record
        (the same metrics as an :class:`~portico.http.ApiClient` call) when the block ends; an error
        raised inside is recorded and passes through. Without a meter (a bare test context) it does
        nothing.
        """
        if self.call_meter is None:
            return contextlib.nullcontext()
        return self.call_meter(endpoint, method=method)

    async def acquire(self, endpoint: str | None = None, *, max_wait: float | None = None) -> float:
        """Wait for rate budget for one call to ``endpoint`` (for transports that are not HTTP, and for
        health checks, which take their budget with ``max_wait=0``: now or not at all).

        Returns the seconds waited; raises :class:`~portico.errors.RateLimited` past the bounded wait
        (the policy's ``max_wait`` unless given). Without a limiter (a bare test context) it returns at once.
        """
        if self.rate_limiter is None:
            return 0.0
        waited: float = await self.rate_limiter.acquire(
            self.rate_limiter.cost_of(endpoint), max_wait=max_wait
        )
        return waited

    def url(self, key: str) -> str:
        """The environment's base URL named ``key``; a clear error when the manifest lacks it."""
        try:
            return self.environment.urls[key]
        except KeyError:
            raise ConfigurationError(
                f"environment {self.environment.name!r} of {self.spec.name} has no {key!r} URL "
                f"(it has {sorted(self.environment.urls)})",
                system=self.system_id,
            ) from None

    def secret(self, name: str) -> str:
        """The plain value of credential ``name``; a clear error when it was not configured."""
        try:
            value = self.credentials[name]
        except KeyError:
            raise ConfigurationError(
                f"credential {name!r} is not configured for system {self.system_id!r}",
                path=f"systems.{self.system_id}.authentication.credentials.{name}",
                system=self.system_id,
            ) from None
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    def api_client(self, url_key: str = "base", **overrides: Any) -> ApiClient:
        """An API client for the environment URL ``url_key`` with the system's shared policies."""
        base_url = overrides.pop("base_url", None) or self.url(url_key)
        if self.client_factory is not None:
            return self.client_factory(base_url=base_url, **overrides)
        from portico.http import ApiClient  # lazy: cold start (httpx)

        overrides.setdefault("auth", self.auth)
        if self.rate_limiter is not None:  # a context built without the runtime: its limiter still applies
            overrides.setdefault("rate_limiter", self.rate_limiter)
        return ApiClient(base_url, system=self.system_id, clock=self.clock, **overrides)

    @classmethod
    def for_testing(
        cls,
        connector: type[Connector] | ConnectorSpec,
        *,
        urls: Mapping[str, str] | None = None,
        environment: str | None = None,
        system_id: str | None = None,
        **kwargs: Any,
    ) -> ConnectorContext:
        """A context for tests: the spec's environment with ``urls`` overriding its URLs."""
        spec = connector if isinstance(connector, ConnectorSpec) else connector.spec
        env = spec.environment(environment)
        if urls:
            env = env.model_copy(update={"urls": {**env.urls, **urls}})
        return cls(system_id=system_id or spec.name, spec=spec, environment=env, **kwargs)


class Connector:
    """Base class of every connector.

    Subclasses set :attr:`spec` and implement the methods of the capabilities the spec declares; every
    other capability method raises :class:`~portico.errors.NotSupported` naming the system and the
    capability. All network-facing methods are async. Canonical models go in and out; vendor wire
    models stay inside the connector (``wire.py`` and ``mapping.py``).

    Lifecycle: the runtime calls :meth:`open` once after construction and :meth:`close` at the end.
    A connector whose manifest is ``retired`` refuses to be built.
    """

    spec: ClassVar[ConnectorSpec]

    def __init__(self, context: ConnectorContext) -> None:
        retired = self.spec.retired
        if retired is not None:
            raise ConfigurationError(
                f"connector {self.spec.name!r} is retired ({retired.retired_on.isoformat()}): {retired.text()}",
                system=context.system_id,
            )
        self.context = context

    @property
    def system(self) -> str:
        """The configured system id this instance serves."""
        return self.context.system_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} system={self.system!r} environment={self.context.environment.name!r}>"

    def _unsupported(self, capability: Capability) -> NotSupported:
        return NotSupported(
            f"{self.system} ({self.spec.name}) does not support {capability.value}",
            capability=capability.value,
            system=self.system,
        )

    @classmethod
    def throttling_for(cls, connection: Mapping[str, Any]) -> RateLimitPolicy:
        """The default throttling for a system with this ``connection`` section.

        The manifest's policy, unless the venue's limits depend on the account (Alpha Vantage's plan
        tier): override to derive them. The configuration's ``throttling`` keys apply on top.
        """
        return cls.spec.throttling

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect: open sessions or sockets the connector keeps. Default: nothing to do."""

    async def close(self) -> None:
        """Release every connection the connector holds. Default: nothing to do."""

    async def check(self) -> CheckResult:
        """Check connectivity and authentication with one cheap call.

        The default calls :meth:`get_account` for brokers; other connectors must override it.
        """
        import time

        started = time.perf_counter()
        if self.spec.capabilities.has(Capability.GET_ACCOUNT):
            await self.get_account()
            return CheckResult(
                ok=True,
                system=self.system,
                latency_ms=(time.perf_counter() - started) * 1000,
                detail="account reachable",
                checks={"reachable": True, "authenticated": True},
            )
        raise NotImplementedError(f"{type(self).__name__} must implement check()")

    # -- accounts and positions ------------------------------------------------------------------

    async def get_account(self, account_id: str | None = None) -> Account:
        """The account's balances (the default account when ``account_id`` is None)."""
        raise self._unsupported(Capability.GET_ACCOUNT)

    async def get_positions(self, account_id: str | None = None) -> list[Position]:
        """Every open position of the account."""
        raise self._unsupported(Capability.GET_POSITIONS)

    # -- orders ----------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        """Send an order. ``request.client_order_id`` is set (the runtime fills it in) and must be sent
        to the venue as its idempotency key.

        Raises:
            VenueRejected: the venue refused the order.
            OutcomeUnknown: the order was sent and its result is not known; the caller resolves it
                with :meth:`get_order_by_client_id`.
        """
        raise self._unsupported(Capability.PLACE_ORDER)

    async def cancel_order(self, order_id: str) -> None:
        """Ask the venue to cancel an order (the cancel is confirmed by a later status)."""
        raise self._unsupported(Capability.CANCEL_ORDER)

    async def replace_order(
        self,
        order_id: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Change an open order; returns the order that now stands (a new one at venues that replace)."""
        raise self._unsupported(Capability.REPLACE_ORDER)

    async def get_order(self, order_id: str) -> Order:
        """One order by the venue's id. Raises :class:`~portico.errors.NotFound` when unknown."""
        raise self._unsupported(Capability.GET_ORDER)

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        """One order by the client order id it was placed with.

        Raises :class:`~portico.errors.NotFound` when the venue never received it. The default
        emulates the lookup through :meth:`list_orders`; override it where the venue has a direct call.
        """
        if not self.spec.capabilities.has(Capability.LIST_ORDERS):
            raise self._unsupported(Capability.GET_ORDER_BY_CLIENT_ID)
        for order in await self.list_orders(status="all"):
            if order.client_order_id == client_order_id:
                return order
        raise NotFound(f"no order with client_order_id {client_order_id!r}", system=self.system)

    async def list_orders(
        self,
        *,
        status: OrderStatusFilter = "open",
        symbols: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        """Orders filtered by status group, symbols and submission time, newest first."""
        raise self._unsupported(Capability.LIST_ORDERS)

    async def get_executions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        order_id: str | None = None,
    ) -> list[Execution]:
        """Fills in a time range, oldest first."""
        raise self._unsupported(Capability.GET_EXECUTIONS)

    # -- market data -----------------------------------------------------------------------------

    async def get_bars(
        self,
        symbol: str,
        interval: BarInterval = BarInterval.DAY,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        adjusted: bool = False,
    ) -> list[Bar]:
        """Historical OHLCV bars, oldest first."""
        raise self._unsupported(Capability.GET_BARS)

    async def get_quotes(
        self,
        symbol: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Quote]:
        """Historical quotes, oldest first."""
        raise self._unsupported(Capability.GET_QUOTES)

    async def get_trades(
        self,
        symbol: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Trade]:
        """Historical trades, oldest first."""
        raise self._unsupported(Capability.GET_TRADES)

    async def get_latest_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """The latest quote of each symbol (at most ``max_symbols_per_request`` per call)."""
        raise self._unsupported(Capability.GET_LATEST_QUOTES)

    async def get_latest_trades(self, symbols: list[str]) -> dict[str, Trade]:
        """The latest trade of each symbol."""
        raise self._unsupported(Capability.GET_LATEST_TRADES)

    async def get_snapshots(self, symbols: list[str]) -> dict[str, Snapshot]:
        """Latest trade, quote and daily bars of each symbol."""
        raise self._unsupported(Capability.GET_SNAPSHOTS)

    async def search_instruments(self, query: str, *, limit: int = 20) -> list[Instrument]:
        """Instruments matching a symbol or name fragment, best match first."""
        raise self._unsupported(Capability.SEARCH_INSTRUMENTS)

    async def get_fundamentals(self, symbol: str, *, statements: bool = False) -> Fundamentals:
        """Company overview, with income statements, balance sheets, cash flows and earnings when asked."""
        raise self._unsupported(Capability.GET_FUNDAMENTALS)

    async def get_fx_rate(self, base: str, quote: str) -> FxRate:
        """The current rate of ``base`` in ``quote``."""
        raise self._unsupported(Capability.GET_FX_RATE)

    async def get_fx_series(
        self,
        base: str,
        quote: str,
        interval: BarInterval = BarInterval.DAY,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Bar]:
        """Historical FX bars with symbol ``BASE/QUOTE``, oldest first."""
        raise self._unsupported(Capability.GET_FX_SERIES)

    async def get_corporate_actions(
        self, symbol: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[CorporateAction]:
        """Dividends, splits and other actions in a date range."""
        raise self._unsupported(Capability.GET_CORPORATE_ACTIONS)

    async def get_news(
        self,
        symbols: list[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[NewsItem]:
        """News about ``symbols`` (all news when None) published in ``[start, end]``, newest first,
        at most ``limit`` items."""
        raise self._unsupported(Capability.GET_NEWS)

    async def get_cash_movements(
        self,
        account_id: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CashMovement]:
        """Cash credited or debited to the account other than by trades (deposits, withdrawals,
        dividends, interest, fees) with a value date in ``[since, until)``, oldest first."""
        raise self._unsupported(Capability.GET_CASH_MOVEMENTS)

    # -- streams ---------------------------------------------------------------------------------

    def subscribe_quotes(self, symbols: list[str]) -> AsyncIterator[Quote]:
        """Live quotes until the iterator is closed. Reconnects and resubscribes by itself."""
        raise self._unsupported(Capability.SUBSCRIBE_QUOTES)

    def subscribe_trades(self, symbols: list[str]) -> AsyncIterator[Trade]:
        """Live trades until the iterator is closed."""
        raise self._unsupported(Capability.SUBSCRIBE_TRADES)

    def subscribe_bars(self, symbols: list[str]) -> AsyncIterator[Bar]:
        """Live minute bars until the iterator is closed."""
        raise self._unsupported(Capability.SUBSCRIBE_BARS)

    def subscribe_order_updates(self) -> AsyncIterator[OrderEvent]:
        """Order events until the iterator is closed. After a reconnect, events missed while
        disconnected are back-filled (by REST lookup) before new ones, marked ``source="poll"``."""
        raise self._unsupported(Capability.SUBSCRIBE_ORDER_UPDATES)

    def subscribe_news(self, symbols: list[str]) -> AsyncIterator[NewsItem]:
        """Live news about ``symbols`` (``["*"]``: all) until the iterator is closed."""
        raise self._unsupported(Capability.SUBSCRIBE_NEWS)
