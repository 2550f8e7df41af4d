"""The services a command works with: from the config file's runtime, or standalone on the default store.

Here, in the command line (the top layer), because building a runtime from a config file is the
runtime's job: the jobs service itself never imports the runtime.
"""

from __future__ import annotations

from typing import Any

from portico.clock import system_clock
from portico.jobs import JobService
from portico.plugins import PluginManager
from portico.store import Database

__all__ = ["jobs_service"]


def jobs_service(config_file: str | None = None, **overrides: Any) -> JobService:
    """A jobs service for a command: the config file's (when given) or one on the default store.

    With a config file the runtime is built from it, so connectors and the monitor are available.
    Without one the installed plugins are loaded (their formats, sinks and export types apply).

    Args:
        config_file: the configuration file, or None.
        overrides: arguments of :class:`~portico.jobs.JobService` for the standalone service.
    """
    if config_file:
        # imported only with a config file: a standalone service needs no runtime, and loads faster
        from portico.runtime import AsyncIntegration  # lazy: only with a config file

        integration = AsyncIntegration.from_config(config_file)
        service: JobService = integration.jobs
        return service
    overrides.setdefault("db", Database())
    overrides.setdefault("clock", system_clock)
    overrides.setdefault("plugins", PluginManager())
    return JobService(**overrides)
