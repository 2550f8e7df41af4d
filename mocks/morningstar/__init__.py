"""The Morningstar mock: the Morningstar Data API functions ``morningstar-data`` calls under ``/md-api/v1``,
its task flow and signed result files, and the JWKS that verifies the tokens it issues.

``create_app(seed=0, faults=None, **options)`` returns the ASGI app; ``morningstar_data`` works against it
unchanged with ``MD_API=<mock>/md-api/``, ``UIM_DECODE_KEY=<mock>/.well-known/jwks.json`` and
``MD_AUTH_TOKEN`` set to a token from ``app.state.mock.issue_token()``.
"""

from __future__ import annotations

from portico.mocks.morningstar._app import USER_ID_CLAIM, MorningstarMock, create_app, error_body
from portico.mocks.morningstar._universe import DEFAULT_INVESTMENTS, MockInvestment, Universe

__all__ = [
    "DEFAULT_INVESTMENTS",
    "USER_ID_CLAIM",
    "MockInvestment",
    "MorningstarMock",
    "Universe",
    "create_app",
    "error_body",
]
