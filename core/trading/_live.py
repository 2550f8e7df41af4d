"""The live-money guard: orders on an environment the manifest marks ``live_money`` are opt-in.

A system trades real money only when its config says ``allow_live_trading: true`` or the environment
variable ``PORTICO_ALLOW_LIVE_TRADING`` names it (comma-separated system ids; there is no wildcard, so
an operator opts in one system at a time). A mock is never live money: the runtime clears the flag on
the environment it hands a connector served by its mock.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from portico.errors import ConfigurationError
from portico.sdk import Connector

__all__ = ["LIVE_TRADING_ENV", "check_live_trading", "live_trading_systems_from_environment"]

LIVE_TRADING_ENV = "PORTICO_ALLOW_LIVE_TRADING"


def live_trading_systems_from_environment(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The system ids ``PORTICO_ALLOW_LIVE_TRADING`` opts in (``"desk_a, desk_b"``)."""
    raw = (os.environ if environ is None else environ).get(LIVE_TRADING_ENV, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def check_live_trading(system_id: str, connector: Connector, allowed: Collection[str]) -> None:
    """Refuse an order action on a live-money environment unless ``system_id`` is opted in.

    Args:
        system_id: the configured system.
        connector: its connector (its context's environment says whether real money is at stake).
        allowed: the system ids opted in by configuration; ``PORTICO_ALLOW_LIVE_TRADING`` is read too.

    Raises:
        ConfigurationError: the environment is live money and the system is not opted in.
    """
    environment = connector.context.environment
    if not environment.live_money:
        return
    if system_id in allowed or system_id in live_trading_systems_from_environment():
        return
    raise ConfigurationError(
        f"system {system_id!r} ({connector.spec.name}, environment {environment.name!r}) trades real money: "
        f"orders are refused unless systems.{system_id}.allow_live_trading is true or {LIVE_TRADING_ENV} "
        f"names {system_id}",
        path=f"systems.{system_id}.allow_live_trading",
        system=system_id,
    )
