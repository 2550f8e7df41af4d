"""The state the parts of :class:`~portico.jobs.JobService` share, declared once.

The service is assembled from parts, each in the module its job names: imports from files and
connectors (:mod:`._pulls`), scheduled runs and their records (:mod:`._job_runs`), file watches
(:mod:`._watches`), and :mod:`._service` for construction, the facade and the scheduler's lifecycle.
:class:`JobServiceParts` declares what they read across, so each part type-checks on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portico.jobs._config import DataExportConfig, DataImportConfig
    from portico.jobs._exporter import DataExporter
    from portico.jobs._feeds import SecureFeed
    from portico.jobs._importer import DataImporter, ImportResult

__all__ = ["DEFAULT_INSTANCE", "JobServiceParts", "ReconcileRunner"]

ReconcileRunner = Callable[[], Awaitable[Any]]
"""Runs one reconciliation on the runtime's loop; returns a report with ``summary() -> dict`` (holding
``breaks``, the break count) or such a dict."""

DEFAULT_INSTANCE = "default"
"""The instance of a service built without one (and of jobs stored before instances existed)."""


class JobServiceParts:
    """Declarations only: the service's shared state and the methods its parts call across."""

    db: Any
    clock: Any
    monitor: Any
    instance: str
    import_config: DataImportConfig
    export_config: DataExportConfig
    importer: DataImporter
    exporter: DataExporter
    feed: SecureFeed
    _scheduler: Any
    _key: str
    _reconcilers: dict[str, tuple[Any, ReconcileRunner]]
    _loop: asyncio.AbstractEventLoop | None
    _listing_currencies: dict[tuple[str, str], str | None]

    def _emit(self, event: str, *, severity: str = "info", **data: Any) -> None:
        raise NotImplementedError

    def _connector(self, source: str, *, required: bool = True) -> Any:
        raise NotImplementedError

    def _import_file(
        self, source: str, data_type: str, params: Mapping[str, Any], *, run_id: str | None = None
    ) -> ImportResult:
        raise NotImplementedError

    async def _pull(
        self, source: str, data_type: str, params: dict[str, Any], *, run_id: str | None = None
    ) -> ImportResult:
        raise NotImplementedError

    def check_watch(self, watch_id: str) -> str:
        raise NotImplementedError
