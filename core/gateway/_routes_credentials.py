"""The ``/v1/credentials`` routes: the credential vault (names and metadata out, values only in)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from portico.gateway._dependencies import Caller, CredentialName, Routes
from portico.gateway._models import CredentialIn
from portico.gateway._problems import Problem, ProblemModel

__all__ = ["add_credential_routes"]


def add_credential_routes(api: APIRouter, routes: Routes) -> None:
    """Add these routes (in the order the OpenAPI document lists them)."""
    gateway, integration = routes.gateway, routes.integration
    need, audited = routes.need, routes.audited

    # -- credentials -------------------------------------------------------------------------------

    def vault() -> Any:
        found = getattr(integration.auth, "vault", None)
        if found is None:
            raise Problem(
                409, "Vault not configured", "set PORTICO_VAULT_PASSPHRASE to use the credential vault"
            )
        return found

    @api.get("/credentials", tags=["credentials"])
    async def list_credentials(p: Caller) -> list[dict[str, Any]]:
        """Credential names and metadata the caller may read (never their values)."""
        if not p.can_any("credentials", "read"):
            return []
        infos = vault().list() if vault().exists() else []
        out = []
        for info in infos:
            data = (
                info.model_dump(mode="json")
                if isinstance(info, BaseModel)
                else dict(getattr(info, "__dict__", {}))
            )
            data.pop("value", None)
            if p.can("credentials", str(data.get("name")), "read"):
                out.append(json.loads(json.dumps(data, default=str)))
        return out

    @api.put(
        "/credentials/{name:path}",
        status_code=204,
        tags=["credentials"],
        responses={409: {"model": ProblemModel}},
    )
    async def set_credential(name: CredentialName, body: CredentialIn, p: Caller) -> Response:
        """Store a credential in the vault (write-only: it is never answered back)."""
        need(p, "credentials", name, "write")
        gateway.monitor_redactor_add(body.value)
        store = vault()
        await audited(p, "credentials.set", asyncio.to_thread(store.set, name, body.value), name=name)
        return Response(status_code=204)
