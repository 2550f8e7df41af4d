"""The ``/v1/systems`` read routes: systems and their state, accounts and positions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from portico.gateway._dependencies import Caller, ObjectId, Routes, SystemId
from portico.gateway._models import SystemOut

__all__ = ["add_system_routes"]


def add_system_routes(api: APIRouter, routes: Routes) -> None:
    """Add these routes (in the order the OpenAPI document lists them)."""
    integration = routes.integration
    need, known_system = routes.need, routes.known_system

    # -- systems, accounts, positions --------------------------------------------------------------

    async def system_out(system_id: str) -> SystemOut:
        status = await integration.get_external_system_status(system_id)
        return SystemOut.model_validate(status.model_dump(include=set(SystemOut.model_fields)))

    @api.get("/systems", response_model=list[SystemOut], tags=["systems"])
    async def list_systems(p: Caller) -> list[SystemOut]:
        """The systems the caller may read, with their state."""
        return [await system_out(sid) for sid in integration.systems if p.can("systems", sid, "read")]

    @api.get("/systems/{system}", response_model=SystemOut, tags=["systems"])
    async def get_system(system: SystemId, p: Caller) -> SystemOut:
        """One system's state."""
        known_system(p, system)
        return await system_out(system)

    @api.get("/systems/{system}/accounts/{account_id}", tags=["accounts"])
    async def get_account(system: SystemId, account_id: ObjectId, p: Caller) -> dict[str, Any]:
        """An account's balances at the venue."""
        known_system(p, system)
        need(p, "accounts", f"{system}/{account_id}", "read")
        account = await integration.get_external_account(system, account_id)
        result: dict[str, Any] = account.model_dump(mode="json")
        return result

    @api.get("/systems/{system}/accounts/{account_id}/positions", tags=["accounts"])
    async def get_positions(system: SystemId, account_id: ObjectId, p: Caller) -> list[dict[str, Any]]:
        """An account's positions at the venue."""
        known_system(p, system)
        need(p, "accounts", f"{system}/{account_id}", "read")
        positions = await integration.get_external_positions(system, account_id)
        return [pos.model_dump(mode="json") for pos in positions]
