"""The facade's operations: each delegates to a runtime service (trading, market data, jobs, analytics,
monitor) or to the system's connector through its declared capabilities; none is a stub.

A call flows: facade -> service -> Connector -> ApiClient (correlation id -> monitor -> circuit breaker ->
rate limiter -> retry -> auth -> transport) -> the vendor API or its mock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from portico.config import ThrottlingConfig
from portico.context import correlation_scope
from portico.errors import ConfigurationError, NotSupported, PayloadRejected
from portico.models import Account, Order, OrderRequest, Position
from portico.runtime._connections import Connections
from portico.runtime._systems import symbol_list
from portico.sdk import Capability, CheckResult, Connector, RateLimitPolicy

if TYPE_CHECKING:
    from portico.analytics import PerformanceReport, RiskReport
    from portico.marketdata import FeedCycle, RateAnswer

__all__ = ["AsyncIntegration"]


class AsyncIntegration(Connections):
    """The portico runtime, for asyncio applications.

    Args:
        config: an :class:`~portico.config.IntegrationConfig`, a dict in the plan's format, or a path.
        plugins: the plugin manager (default: a fresh one loading entry points).
        clock: the time source (a :class:`~portico.clock.FakeClock` in tests).
        database_url: the store's SQLAlchemy URL (default from config, else SQLite under ``PORTICO_HOME``).
        transport: an ``httpx`` async transport every API client uses (tests route calls in-process).

    Use as ``async with AsyncIntegration(config) as integration:`` or call :meth:`start`/:meth:`stop`.
    """

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **kwargs: Any) -> AsyncIntegration:
        """Build a runtime from a configuration file."""
        return cls(Path(path), **kwargs)

    async def __aenter__(self) -> AsyncIntegration:
        await self.start()  # stops what it started when it raises
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _connector(self, system_id: str, capability: Capability) -> Connector:
        system = self._system(system_id)
        if not system.spec.capabilities.has(capability):
            raise NotSupported(
                f"{system_id} ({system.spec.name}) does not support {capability.value}",
                capability=capability.value,
                system=system_id,
            )
        if capability in system.disabled:
            flags = [f for f, caps in system.spec.feature_flags.items() if capability in caps]
            raise NotSupported(
                f"{capability.value} is switched off for {system_id} by features.{flags[0] if flags else '?'}: false",
                capability=capability.value,
                system=system_id,
            )
        if system.connector is None:
            raise ConfigurationError(
                f"system {system_id!r} is {system.state}; call connect_external_system first",
                system=system_id,
            )
        return system.connector

    def _check_live_trading(self, system_id: str, connector: Connector) -> None:
        """The live-money guard at the facade too, before anything is validated, stored or built."""
        # imported on use, like every service: portico.trading pulls SQLAlchemy into `import portico`
        from portico.trading import check_live_trading  # lazy: cold start (SQLAlchemy)

        check_live_trading(system_id, connector, self._live_trading)

    # -- trading ---------------------------------------------------------------------------------

    async def place_external_order(
        self,
        system_id: str,
        order_details: OrderRequest | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> str:
        """Validate, record and send an order; returns its client order id (the durable key).

        The intent is stored before it is sent. The same ``idempotency_key`` returns the existing order.
        A lost response leaves the order ``unknown`` until resolved, never rejected.
        """
        connector = self._connector(system_id, Capability.PLACE_ORDER)
        self._check_live_trading(system_id, connector)
        if not isinstance(order_details, OrderRequest | Mapping):
            raise PayloadRejected(
                f"order_details must be an OrderRequest or a mapping of its fields, got {type(order_details).__name__}",
                field="order_details",
                system=system_id,
            )
        with correlation_scope():
            record = await self.trading.place_order(system_id, order_details, idempotency_key=idempotency_key)
        return str(record.client_order_id)

    async def get_external_order_status(self, system_id: str, order_id: str) -> Order:
        """The order's current state, by client order id or the venue's order id."""
        # the trading service looks an order up by the venue's id or by its client order id (FIX: ClOrdID)
        lookup = Capability.GET_ORDER
        if not self._system(system_id).spec.capabilities.has(lookup):
            lookup = Capability.GET_ORDER_BY_CLIENT_ID
        self._connector(system_id, lookup)
        with correlation_scope():
            record = await self.trading.get_order_status(system_id, order_id)
        order: Order = record.to_order()
        return order

    async def cancel_external_order(self, system_id: str, order_id: str) -> None:
        """Ask the venue to cancel an order (by client order id or venue id)."""
        connector = self._connector(system_id, Capability.CANCEL_ORDER)
        self._check_live_trading(system_id, connector)
        with correlation_scope():
            await self.trading.cancel_order(system_id, order_id)

    async def replace_external_order(
        self,
        system_id: str,
        order_id: str,
        changes: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> str:
        """Change an open order (``quantity``, ``limit_price``, ``stop_price``, ``time_in_force``); returns
        the client order id of the order that now stands (the replacement's).

        The replace is stored under ``idempotency_key`` before it is sent; the same key returns the same
        replacement. A filled, cancelled or already replaced order is refused; a lost answer leaves the
        replacement ``unknown`` until a look at the venue resolves it, never a second replace.
        """
        connector = self._connector(system_id, Capability.REPLACE_ORDER)
        self._check_live_trading(system_id, connector)
        with correlation_scope():
            record = await self.trading.replace_order(
                system_id, order_id, changes, idempotency_key=idempotency_key
            )
        return str(record.client_order_id)

    async def get_external_account(self, system_id: str, account_id: str | None = None) -> Account:
        """The account's balances at the venue (cash, buying power, equity)."""
        connector = self._connector(system_id, Capability.GET_ACCOUNT)
        with correlation_scope():
            return await connector.get_account(account_id)

    async def get_external_positions(self, system_id: str, account_id: str | None = None) -> list[Position]:
        """The account's positions at the venue."""
        connector = self._connector(system_id, Capability.GET_POSITIONS)
        with correlation_scope():
            return await connector.get_positions(account_id)

    async def _brokerage_positions(self) -> list[tuple[str, Position]]:
        """The positions of every enabled brokerage system that reports them (the portfolio summary).

        A system whose ``position_reporting`` is switched off is left out; one never connected is
        connected now; one that cannot be reached fails the call (a summary silently missing a broker
        would understate the portfolio).
        """
        held: list[tuple[str, Position]] = []
        for system_id, system in self.systems.items():
            if not system.config.enabled or system.config.type.value != "brokerage":
                continue
            if (
                not system.spec.capabilities.has(Capability.GET_POSITIONS)
                or Capability.GET_POSITIONS in system.disabled
            ):
                continue
            if system.state == "registered":
                # never connected (an export run from the command line): connect now, as a run would have
                await self.connect_external_system(system_id)
            held.extend((system_id, p) for p in await self.get_external_positions(system_id))
        return held

    # -- market data -----------------------------------------------------------------------------

    async def get_market_data(
        self,
        system_id: str,
        symbols: list[str] | str,
        data_type: str = "bars",
        parameters: Mapping[str, Any] | None = None,
    ) -> Any:
        """Market data as canonical models (with fallback, quality checks and caching).

        Args:
            data_type: ``bars``, ``quotes``, ``latest_quote``, ``latest_trade``, ``snapshot``,
                ``fundamentals``, ``fx_rate``, ``fx_series``, ``search``, ``corporate_actions``, ``news``...
        """
        self._system(system_id)
        symbols = symbol_list(symbols)
        with correlation_scope():
            return await self.market_data.get_market_data(
                system_id, symbols, data_type, dict(parameters or {})
            )

    async def subscribe_market_data(
        self,
        system_id: str,
        symbols: list[str] | str,
        data_type: str,
        callback: Callable[[Any], Any],
        **options: Any,
    ) -> str:
        """Deliver live data to ``callback`` (native stream, or polling paced by the throttle).

        Returns:
            A subscription id for :meth:`unsubscribe_market_data`.
        """
        self._system(system_id)
        symbols = symbol_list(symbols)
        result: str = await self.market_data.subscribe_market_data(
            system_id, symbols, data_type, callback, **options
        )
        return result

    async def unsubscribe_market_data(self, system_id: str, subscription_id: str) -> None:
        """Stop a subscription and release its budget."""
        self._system(system_id)
        await self.market_data.unsubscribe_market_data(subscription_id)

    # -- data import / export --------------------------------------------------------------------

    async def import_data(
        self, source: str, data_type: str, parameters: Mapping[str, Any] | None = None
    ) -> Any:
        """Import a file or a connector's data (see :class:`portico.jobs.JobService`)."""
        return await self._maybe(self.jobs, "import_data", source, data_type, dict(parameters or {}))

    async def export_data(
        self, data_type: str, destination: str, format_options: Mapping[str, Any] | None = None
    ) -> Any:
        """Export data to a destination URL."""
        return await self._maybe(self.jobs, "export_data", data_type, destination, dict(format_options or {}))

    # -- FX rates --------------------------------------------------------------------------------

    async def get_fx_rate(self, base: str, quote: str, at: datetime | None = None) -> RateAnswer:
        """The FX feed's rate of ``base`` in ``quote`` known at ``at`` (latest when None): direct, inverse,
        or triangulated through USD (``how`` and ``via`` say which, ``legs`` where each came from).

        Raises:
            NotFound: no such rate, directly, inverted or through USD.
        """
        return self.fx_rates.get_fx_rate(base, quote, at)

    async def run_fx_feed_cycle(self) -> FeedCycle:
        """Run one cycle of the configured FX feed now (``portico run`` runs them on its schedule)."""
        feed = self.fx_feed
        if feed is None:
            raise ConfigurationError(
                "no FX feed is configured (market_data.fx_feed)", path="market_data.fx_feed"
            )
        return await feed.run_cycle()

    # -- analytics -------------------------------------------------------------------------------

    async def get_performance(
        self, account: str, start: date, end: date, **options: Any
    ) -> PerformanceReport:
        """Performance of a book account from ``start`` to ``end``: daily valuations, time- and
        money-weighted returns, and benchmark and active return when ``benchmark=`` names one (see
        :meth:`portico.analytics.AnalyticsService.performance` for the options)."""
        return await asyncio.to_thread(self.analytics.performance, account, start, end, **options)

    async def get_risk(self, account: str, **options: Any) -> RiskReport:
        """RiskMetrics-method risk of a book account: exposures, EWMA volatility, parametric and
        historical VaR and expected shortfall, and a scenario's P&L when ``scenario=`` names one (see
        :meth:`portico.analytics.AnalyticsService.risk`)."""
        return await asyncio.to_thread(self.analytics.risk, account, **options)

    async def schedule_import(self, import_config: Mapping[str, Any]) -> str:
        """Schedule a recurring import; returns the job id."""
        result: str = await self._maybe(self.jobs, "schedule_import", dict(import_config))
        return result

    async def schedule_export(self, export_config: Mapping[str, Any]) -> str:
        """Schedule a recurring export; returns the job id."""
        result: str = await self._maybe(self.jobs, "schedule_export", dict(export_config))
        return result

    async def list_jobs(self) -> list[dict[str, Any]]:
        """Scheduled jobs with their next run and last status."""
        result: list[dict[str, Any]] = await self._maybe(self.jobs, "list_jobs")
        return result

    async def job_history(self, job_id: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
        """Runs of a job (or of all jobs), newest first: start, end, status, counts and manifest."""
        result: list[dict[str, Any]] = await self._maybe(self.jobs, "history", job_id)
        return result[:limit]

    async def run_job_now(self, job_id: str) -> dict[str, Any]:
        """Run a scheduled job now (never twice at once); returns the run's record."""
        result: dict[str, Any] = await self._maybe(self.jobs, "run_now", job_id)
        return result

    # -- reconciliation ---------------------------------------------------------------------------

    async def reconcile(self, systems: list[str] | None = None, **options: Any) -> Any:
        """Reconcile positions, trades and cash against the internal book; returns the breaks report.

        Options: ``book`` (a :class:`~portico.trading.PositionBook`, default the hook's or the store's),
        ``since``/``until`` (the trade window), ``tolerance``.
        """
        with correlation_scope():
            return await self.trading.reconcile(systems, **options)

    async def apply_corporate_actions(
        self,
        provider: str,
        symbols: list[str] | str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        systems: list[str] | None = None,
        as_of: date | None = None,
    ) -> Any:
        """Fetch ``symbols``' corporate actions from ``provider`` (with its fallbacks) and apply them to the
        store book of ``systems`` (default: all) and the stored price history; book dividends due.

        Applying the same actions again changes nothing; a corrected action replaces its earlier
        effects. Returns a :class:`~portico.trading.CorporateActionOutcome`.
        """
        from portico.trading import CorporateActionProcessor  # lazy: cold start (SQLAlchemy)

        self._system(provider)
        wanted = symbol_list(symbols)
        with correlation_scope():
            params: dict[str, Any] = {"cache": False}
            if start is not None:
                params["start"] = start
            if end is not None:
                params["end"] = end
            result = await self.market_data.get_market_data(provider, wanted, "corporate_actions", params)
        actions = [a for symbol in wanted for a in (result.data.get(symbol) or [])]
        processor = CorporateActionProcessor(
            self.trading, adjust_history=self.market_data.adjust_history_for_split
        )
        return processor.apply(actions, systems=systems, as_of=as_of)

    # -- monitoring and control ------------------------------------------------------------------

    async def get_integration_metrics(self, system_id: str | None = None) -> dict[str, Any]:
        """Counts, errors, latency percentiles, throttling and breaker state (one system or all)."""
        if system_id is None:
            return {sid: await self.get_integration_metrics(sid) for sid in self.systems}
        system = self._system(system_id)
        metrics: dict[str, Any] = dict(self.monitor.metrics(system_id) or {})
        breaker = getattr(system.breaker, "state", None)
        metrics["breaker_state"] = getattr(breaker, "value", breaker)
        if system.limiter is not None and hasattr(system.limiter, "remaining"):
            remaining = system.limiter.remaining()
            metrics["rate_limit_remaining"] = await remaining if asyncio.iscoroutine(remaining) else remaining
        metrics["state"] = system.state
        return metrics

    async def run_health_check(self, system_id: str) -> Any:
        """Run the system's health check now; returns its report."""
        system = self._system(system_id)
        if system.connector is None:
            return CheckResult(ok=False, system=system_id, detail=f"system is {system.state}")
        run = getattr(self.monitor, "run_health_check", None)
        if run is not None:
            with contextlib.suppress(KeyError):
                return await run(system_id)
            self.monitor.register_health_check(system_id, system.connector.check)
            return await run(system_id)
        return await system.connector.check()

    async def set_throttling_parameters(
        self, system_id: str, parameters: Mapping[str, Any]
    ) -> RateLimitPolicy:
        """Change a system's throttling at run time (the plan's keys); returns the policy now in force."""
        system = self._system(system_id)
        if not isinstance(parameters, Mapping):
            raise ConfigurationError(
                f"throttling parameters must be a mapping of the throttling keys, got {type(parameters).__name__}",
                path="throttling",
            )
        try:
            overrides = ThrottlingConfig.model_validate(dict(parameters))
        except ValidationError as exc:
            err = exc.errors()[0]
            path = ".".join(str(p) for p in err["loc"])
            raise ConfigurationError(f"throttling.{path}: {err['msg']}", path=f"throttling.{path}") from None
        system.policy = overrides.apply(system.policy)
        if system.limiter is not None:
            system.limiter.update_windows(
                system.policy.windows,
                max_wait=system.policy.max_wait,
                endpoint_costs=system.policy.endpoint_costs,
            )
        for client in list(system.clients):
            client.retry = system.policy.retry
        self._emit("throttling.changed", system=system_id, windows=[str(w) for w in system.policy.windows])
        return system.policy
