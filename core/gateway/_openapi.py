"""The gateway's OpenAPI document, generated from its routes and models without a running runtime.

``python -m portico.gateway.openapi FILE`` writes it (the docs publish ``sdk-docs/reference/gateway-openapi.json``,
from which the TypeScript client in ``clients/typescript`` is generated); a test keeps the two equal.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from portico.gateway._api import build_app

__all__ = ["openapi_document", "openapi_text"]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the gateway serves at ``/v1/openapi.json``."""
    # the routes read the runtime and the security store only when a request comes: none comes here
    unserved: Any = SimpleNamespace(integration=None, security=None)
    document: dict[str, Any] = build_app(unserved).openapi()
    return document


def openapi_text() -> str:
    """The document as stable, indented JSON (sorted keys, a final newline)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
