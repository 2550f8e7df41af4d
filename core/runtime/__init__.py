"""The facade apps embed: :class:`AsyncIntegration`, and :class:`Integration`, its synchronous twin.

The method names are the original plan's API. Each delegates to a runtime service (trading, market data,
jobs, monitor) or to the system's connector through its declared capabilities; none is a stub.

The package is split by job: ``_builders`` builds each service from the dependencies it needs,
``_composition`` holds the typed service slots (each built on first use),
``_connections`` connects the systems and starts and stops the runtime, ``_facade`` holds
the operations, ``_sync`` the synchronous wrapper and ``_systems`` the per-system state.
"""

from __future__ import annotations

from portico.runtime._facade import AsyncIntegration
from portico.runtime._sync import Integration
from portico.runtime._systems import SystemState, SystemStatus

__all__ = ["AsyncIntegration", "Integration", "SystemState", "SystemStatus"]
