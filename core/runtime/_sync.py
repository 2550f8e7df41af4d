"""The synchronous facade: :class:`Integration` runs an :class:`~portico.runtime.AsyncIntegration` on an
event loop in a background thread and waits for each call."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from portico.models import Account, Order, Position
from portico.runtime._facade import AsyncIntegration
from portico.runtime._systems import SystemStatus
from portico.sdk import RateLimitPolicy

if TYPE_CHECKING:
    from portico.analytics import AnalyticsService, PerformanceReport, RiskReport
    from portico.auth import AuditLog, AuthenticationManager
    from portico.events import EventPublisher, OutboxPublisher
    from portico.http import RateLimiterRegistry
    from portico.jobs import JobService
    from portico.marketdata import FeedCycle, FxRateFeed, MarketDataService, RateAnswer, StoredFxRateBook
    from portico.monitor import IntegrationMonitor
    from portico.store import Database
    from portico.trading import TradingService

__all__ = ["Integration"]

T = TypeVar("T")


class _SyncCall(Generic[T]):
    """One call of the synchronous facade: the loop's thread runs the coroutine as a task and releases
    a lock the calling thread waits on. A bare lock is the cheapest hand-off between two threads in
    CPython (``run_coroutine_threadsafe`` chains a task to a ``concurrent.futures.Future`` through
    callbacks on both sides and waits on a condition), and the hop is paid on every facade call."""

    __slots__ = ("_done", "_error", "_result")

    def __init__(self) -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self._result: Any = None
        self._error: BaseException | None = None

    def start(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> None:
        try:
            task = loop.create_task(coro)
        except BaseException as exc:  # the loop is closing: the caller gets the error, not a hang
            coro.close()
            self._error = exc
            self._done.release()
            return
        task.add_done_callback(self._finish)

    def _finish(self, task: asyncio.Task[T]) -> None:
        if task.cancelled():
            self._error = asyncio.CancelledError()
        else:
            self._error = task.exception()
            if self._error is None:
                self._result = task.result()
        self._done.release()

    def wait(self) -> T:
        self._done.acquire()
        error, self._error = self._error, None
        if error is not None:
            raise error
        result: T = self._result
        return result


class Integration:
    """The synchronous facade: the same methods as :class:`AsyncIntegration`, callable without asyncio.

    It runs an :class:`AsyncIntegration` on an event loop in a background thread; callbacks given to
    :meth:`subscribe_market_data` run on that thread.
    """

    def __init__(self, config: Any = None, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="portico-runtime", daemon=True)
        self._thread.start()
        self._closed = False

        async def build() -> AsyncIntegration:
            return AsyncIntegration(config, **kwargs)

        try:
            self.runtime = self._run(build())
        except BaseException:
            # a bad configuration must not leave the loop's thread running behind the error
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()
            raise

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **kwargs: Any) -> Integration:
        """Build a runtime from a configuration file."""
        return cls(Path(path), **kwargs)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this Integration is closed")
        call: _SyncCall[T] = _SyncCall()
        try:
            # the handle copies this thread's context, so the task sees the caller's context variables
            self._loop.call_soon_threadsafe(call.start, self._loop, coro)
        except BaseException:
            coro.close()
            raise
        return call.wait()

    def __enter__(self) -> Integration:
        try:
            self.start()
        except BaseException:
            self.close()  # __exit__ does not run when __enter__ raises: stop the loop's thread here
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # other attributes (plugins, config, systems...) come from the async runtime
        if name == "runtime" or name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.runtime, name)

    # -- the runtime's services, typed (each built on first use, see AsyncIntegration) ----------------

    @property
    def instance(self) -> str:
        """See :attr:`AsyncIntegration.instance`."""
        return self.runtime.instance

    @property
    def db(self) -> Database:
        """See :attr:`AsyncIntegration.db`."""
        return self.runtime.db

    @property
    def monitor(self) -> IntegrationMonitor:
        """See :attr:`AsyncIntegration.monitor`."""
        return self.runtime.monitor

    @property
    def events(self) -> EventPublisher | OutboxPublisher | None:
        """See :attr:`AsyncIntegration.events`."""
        return self.runtime.events

    @property
    def audit(self) -> AuditLog:
        """See :attr:`AsyncIntegration.audit`."""
        return self.runtime.audit

    @property
    def auth(self) -> AuthenticationManager:
        """See :attr:`AsyncIntegration.auth`."""
        return self.runtime.auth

    @property
    def market_data(self) -> MarketDataService:
        """See :attr:`AsyncIntegration.market_data`."""
        return self.runtime.market_data

    @property
    def trading(self) -> TradingService:
        """See :attr:`AsyncIntegration.trading`."""
        return self.runtime.trading

    @property
    def fx_rates(self) -> StoredFxRateBook:
        """See :attr:`AsyncIntegration.fx_rates`."""
        return self.runtime.fx_rates

    @property
    def fx_feed(self) -> FxRateFeed | None:
        """See :attr:`AsyncIntegration.fx_feed`."""
        return self.runtime.fx_feed

    @property
    def analytics(self) -> AnalyticsService:
        """See :attr:`AsyncIntegration.analytics`."""
        return self.runtime.analytics

    @property
    def jobs(self) -> JobService:
        """See :attr:`AsyncIntegration.jobs`."""
        return self.runtime.jobs

    @property
    def limiters(self) -> RateLimiterRegistry:
        """See :attr:`AsyncIntegration.limiters`."""
        return self.runtime.limiters

    @property
    def unavailable_systems(self) -> dict[str, str]:
        """See :attr:`AsyncIntegration.unavailable_systems`."""
        return self.runtime.unavailable_systems

    def start(self, *, schedule: bool = False, require_connected: bool = True) -> None:
        """Connect every enabled system; see :meth:`AsyncIntegration.start` (it raises when none connected)."""
        self._run(self.runtime.start(schedule=schedule, require_connected=require_connected))

    def close(self) -> None:
        """Stop the runtime and its thread."""
        if self._closed:
            return
        try:
            self._run(self.runtime.stop())
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()  # its selector and self-pipe would otherwise stay open until GC

    def register_external_system(self, system_config: Any, system_id: str | None = None) -> str:
        """See :meth:`AsyncIntegration.register_external_system`."""
        return self._run(self.runtime.register_external_system(system_config, system_id))

    def connect_external_system(self, system_id: str) -> SystemStatus:
        """See :meth:`AsyncIntegration.connect_external_system`."""
        return self._run(self.runtime.connect_external_system(system_id))

    def disconnect_external_system(self, system_id: str) -> None:
        """See :meth:`AsyncIntegration.disconnect_external_system`."""
        self._run(self.runtime.disconnect_external_system(system_id))

    def get_external_system_status(self, system_id: str) -> SystemStatus:
        """See :meth:`AsyncIntegration.get_external_system_status`."""
        return self._run(self.runtime.get_external_system_status(system_id))

    def place_external_order(
        self, system_id: str, order_details: Any, *, idempotency_key: str | None = None
    ) -> str:
        """See :meth:`AsyncIntegration.place_external_order`."""
        return self._run(
            self.runtime.place_external_order(system_id, order_details, idempotency_key=idempotency_key)
        )

    def get_external_order_status(self, system_id: str, order_id: str) -> Order:
        """See :meth:`AsyncIntegration.get_external_order_status`."""
        return self._run(self.runtime.get_external_order_status(system_id, order_id))

    def cancel_external_order(self, system_id: str, order_id: str) -> None:
        """See :meth:`AsyncIntegration.cancel_external_order`."""
        self._run(self.runtime.cancel_external_order(system_id, order_id))

    def replace_external_order(
        self, system_id: str, order_id: str, changes: Mapping[str, Any], idempotency_key: str | None = None
    ) -> str:
        """See :meth:`AsyncIntegration.replace_external_order`."""
        return self._run(self.runtime.replace_external_order(system_id, order_id, changes, idempotency_key))

    def get_external_account(self, system_id: str, account_id: str | None = None) -> Account:
        """See :meth:`AsyncIntegration.get_external_account`."""
        return self._run(self.runtime.get_external_account(system_id, account_id))

    def get_external_positions(self, system_id: str, account_id: str | None = None) -> list[Position]:
        """See :meth:`AsyncIntegration.get_external_positions`."""
        return self._run(self.runtime.get_external_positions(system_id, account_id))

    def get_market_data(
        self,
        system_id: str,
        symbols: Any,
        data_type: str = "bars",
        parameters: Mapping[str, Any] | None = None,
    ) -> Any:
        """See :meth:`AsyncIntegration.get_market_data`."""
        return self._run(self.runtime.get_market_data(system_id, symbols, data_type, parameters))

    def subscribe_market_data(
        self, system_id: str, symbols: Any, data_type: str, callback: Callable[[Any], Any], **options: Any
    ) -> str:
        """See :meth:`AsyncIntegration.subscribe_market_data`."""
        return self._run(
            self.runtime.subscribe_market_data(system_id, symbols, data_type, callback, **options)
        )

    def unsubscribe_market_data(self, system_id: str, subscription_id: str) -> None:
        """See :meth:`AsyncIntegration.unsubscribe_market_data`."""
        self._run(self.runtime.unsubscribe_market_data(system_id, subscription_id))

    def import_data(self, source: str, data_type: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """See :meth:`AsyncIntegration.import_data`."""
        return self._run(self.runtime.import_data(source, data_type, parameters))

    def export_data(
        self, data_type: str, destination: str, format_options: Mapping[str, Any] | None = None
    ) -> Any:
        """See :meth:`AsyncIntegration.export_data`."""
        return self._run(self.runtime.export_data(data_type, destination, format_options))

    def get_fx_rate(self, base: str, quote: str, at: datetime | None = None) -> RateAnswer:
        """See :meth:`AsyncIntegration.get_fx_rate`."""
        return self._run(self.runtime.get_fx_rate(base, quote, at))

    def run_fx_feed_cycle(self) -> FeedCycle:
        """See :meth:`AsyncIntegration.run_fx_feed_cycle`."""
        return self._run(self.runtime.run_fx_feed_cycle())

    def get_performance(self, account: str, start: date, end: date, **options: Any) -> PerformanceReport:
        """See :meth:`AsyncIntegration.get_performance`."""
        return self._run(self.runtime.get_performance(account, start, end, **options))

    def get_risk(self, account: str, **options: Any) -> RiskReport:
        """See :meth:`AsyncIntegration.get_risk`."""
        return self._run(self.runtime.get_risk(account, **options))

    def schedule_import(self, import_config: Mapping[str, Any]) -> str:
        """See :meth:`AsyncIntegration.schedule_import`."""
        return self._run(self.runtime.schedule_import(import_config))

    def schedule_export(self, export_config: Mapping[str, Any]) -> str:
        """See :meth:`AsyncIntegration.schedule_export`."""
        return self._run(self.runtime.schedule_export(export_config))

    def list_jobs(self) -> list[dict[str, Any]]:
        """See :meth:`AsyncIntegration.list_jobs`."""
        return self._run(self.runtime.list_jobs())

    def job_history(self, job_id: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
        """See :meth:`AsyncIntegration.job_history`."""
        return self._run(self.runtime.job_history(job_id, limit=limit))

    def run_job_now(self, job_id: str) -> dict[str, Any]:
        """See :meth:`AsyncIntegration.run_job_now`."""
        return self._run(self.runtime.run_job_now(job_id))

    def reconcile(self, systems: list[str] | None = None, **options: Any) -> Any:
        """See :meth:`AsyncIntegration.reconcile`."""
        return self._run(self.runtime.reconcile(systems, **options))

    def apply_corporate_actions(self, provider: str, symbols: list[str] | str, **options: Any) -> Any:
        """See :meth:`AsyncIntegration.apply_corporate_actions`."""
        return self._run(self.runtime.apply_corporate_actions(provider, symbols, **options))

    def get_integration_metrics(self, system_id: str | None = None) -> dict[str, Any]:
        """See :meth:`AsyncIntegration.get_integration_metrics`."""
        return self._run(self.runtime.get_integration_metrics(system_id))

    def run_health_check(self, system_id: str) -> Any:
        """See :meth:`AsyncIntegration.run_health_check`."""
        return self._run(self.runtime.run_health_check(system_id))

    def set_throttling_parameters(self, system_id: str, parameters: Mapping[str, Any]) -> RateLimitPolicy:
        """See :meth:`AsyncIntegration.set_throttling_parameters`."""
        return self._run(self.runtime.set_throttling_parameters(system_id, parameters))
