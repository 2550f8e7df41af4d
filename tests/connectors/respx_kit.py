"""Connectors on a respx router instead of a socket: unit tests of error mapping and retry decisions.

The connector is built exactly as the runtime builds it (its own ``api_client`` overrides: error
mapper, idempotency header, auth headers) but every ApiClient it asks for talks to ``router`` through
an ``httpx.MockTransport``, on a fake clock whose sleeps return at once and are recorded.
"""

from __future__ import annotations

from typing import Any

import httpx
import respx

from portico.clock import FakeClock
from portico.http import ApiClient
from portico.sdk import Connector, ConnectorContext, RetryPolicy

__all__ = ["respx_connector"]


def respx_connector(
    connector_class: type[Connector],
    router: respx.Router,
    *,
    urls: dict[str, str],
    clock: FakeClock,
    retry: RetryPolicy | None = None,
    **context: Any,
) -> Connector:
    """A ``connector_class`` whose HTTP calls go to ``router``."""
    system = connector_class.spec.name

    def client_factory(base_url: str, **overrides: Any) -> ApiClient:
        overrides.setdefault("retry", retry or RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0))
        return ApiClient(
            base_url,
            system=system,
            transport=httpx.MockTransport(router.async_handler),
            clock=clock,
            **overrides,
        )

    ctx = ConnectorContext.for_testing(connector_class, urls=urls, clock=clock, client_factory=client_factory, **context)
    return connector_class(ctx)
