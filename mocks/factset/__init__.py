"""The FactSet mock: Prices API under ``/content``, batch flow, well-known document and private_key_jwt token endpoint.

``create_app(seed=0, faults=None, **options)`` returns the ASGI app; FactSet's own ``fds.sdk.FactSetPrices``
works against it unchanged with ``Configuration(host=".../content")``.
"""

from __future__ import annotations

from portico.mocks.factset._app import DEFAULT_SECURITIES, FactSetMock, create_app, error_body

__all__ = ["DEFAULT_SECURITIES", "FactSetMock", "create_app", "error_body"]
