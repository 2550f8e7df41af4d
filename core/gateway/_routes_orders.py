"""The order routes: place (idempotent), list, get, cancel and replace (idempotent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from portico.errors import OutcomeUnknown, PorticoError
from portico.gateway._dependencies import (
    Caller,
    IdempotencyKey,
    ObjectId,
    Routes,
    SystemId,
    cursor_decode,
    cursor_encode,
)
from portico.gateway._models import CancelAnswer, OrderIn, OrderOut, OrderPage, ReplaceAnswer, ReplaceIn
from portico.gateway._problems import Problem, ProblemModel, problem_for_error
from portico.models import OrderStatus

__all__ = ["add_order_routes"]


def add_order_routes(api: APIRouter, routes: Routes) -> None:
    """Add these routes (in the order the OpenAPI document lists them)."""
    integration = routes.integration
    known_system, audited = routes.known_system, routes.audited

    @api.post(
        "/systems/{system}/orders",
        status_code=201,
        response_model=OrderOut,
        tags=["orders"],
        responses={409: {"model": ProblemModel, "description": "Idempotency-Key reused with another body"}},
    )
    async def place_order(
        system: SystemId, body: OrderIn, p: Caller, idempotency_key: IdempotencyKey = None
    ) -> Response:
        """Place an order. With ``Idempotency-Key``, the same key and body replay the first answer, and
        the same key with another body is 409."""
        write = routes.write(p, system, "orders.place", idempotency_key)
        write.account(body.account_id)
        replayed = write.replay(
            f"POST /v1/systems/{system}/orders", body.model_dump(mode="json", exclude_none=True)
        )
        if replayed is not None:
            return replayed
        try:
            client_order_id = await integration.place_external_order(
                system, body.to_request(), idempotency_key=write.trading_key()
            )
            record = integration.trading.get_order(client_order_id, system_id=system)
            status, answer = 201, OrderOut.of(record).model_dump(mode="json")
            write.audit("success", order_id=record.id, status=record.status.value)
        except PorticoError as exc:
            problem = problem_for_error(exc)
            write.audit("failed", error=type(exc).__name__)
            if problem.status >= 500 or idempotency_key is None:
                raise  # not definitive: a retry with the same key may still succeed, so nothing is stored
            status, answer = problem.status, problem.body(f"/v1/systems/{system}/orders")
        return write.answer(status, answer)

    @api.get("/orders", response_model=OrderPage, tags=["orders"])
    async def list_orders(
        p: Caller,
        system: Annotated[str | None, Query(max_length=128)] = None,
        status: Annotated[list[str] | None, Query(max_length=20)] = None,
        symbol: Annotated[str | None, Query(max_length=32)] = None,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> OrderPage:
        """Orders of the systems the caller may read, oldest first, a page at a time."""
        statuses = None
        if status:
            valid = {s.value for s in OrderStatus}
            bad = [s for s in status if s not in valid]
            if bad:
                raise Problem(
                    422,
                    "Invalid request",
                    f"status: {bad[0]!r} is not one of {', '.join(sorted(valid))}",
                    kind="invalid-request",
                    field="query.status",
                )
            statuses = status
        records = integration.trading.list_orders(system_id=system, statuses=statuses)
        records = [
            r
            for r in records
            if p.can("systems", r.system, "read") and (symbol is None or r.request.symbol == symbol.upper())
        ]
        if cursor is not None:
            after = cursor_decode(cursor)
            ids = [r.id for r in records]
            records = records[ids.index(after) + 1 :] if after in ids else []
        page = records[:limit]
        next_cursor = cursor_encode(page[-1].id) if len(records) > limit else None
        return OrderPage(items=[OrderOut.of(r) for r in page], next_cursor=next_cursor)

    @api.get("/systems/{system}/orders/{order_id}", response_model=OrderOut, tags=["orders"])
    async def get_order(system: SystemId, order_id: ObjectId, p: Caller) -> OrderOut:
        """One order (by portico id, client order id or venue id), looked up at the venue when unresolved."""
        known_system(p, system)
        record = await integration.trading.get_order_status(system, order_id)
        return OrderOut.of(record)

    @api.post(
        "/systems/{system}/orders/{order_id}/cancel",
        status_code=202,
        response_model=CancelAnswer,
        tags=["orders"],
    )
    async def cancel_order(system: SystemId, order_id: ObjectId, p: Caller) -> CancelAnswer:
        """Ask the venue to cancel; the order is ``pending_cancel`` until the venue confirms."""
        routes.write(p, system, "orders.cancel")
        integration.trading.get_order(order_id, system_id=system)  # 404 before anything is audited as sent
        await audited(
            p,
            "orders.cancel",
            integration.cancel_external_order(system, order_id),
            system=system,
            order_id=order_id,
        )
        return CancelAnswer(order=OrderOut.of(integration.trading.get_order(order_id, system_id=system)))

    @api.post(
        "/systems/{system}/orders/{order_id}/replace",
        status_code=201,
        response_model=ReplaceAnswer,
        tags=["orders"],
        responses={
            409: {
                "model": ProblemModel,
                "description": "Idempotency-Key reused with another body, or the order cannot be replaced "
                "(filled, cancelled, replaced, or a replace of it is still unresolved)",
            }
        },
    )
    async def replace_order(
        system: SystemId,
        order_id: ObjectId,
        body: ReplaceIn,
        p: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        """Replace an open order (new quantity, limit or stop price, time in force): the replace is stored
        before it is sent and the answer names the order that now stands. With ``Idempotency-Key``, the
        same key and body replay the first answer, and the same key with another body is 409."""
        write = routes.write(p, system, "orders.replace", idempotency_key)
        original = integration.trading.get_order(order_id, system_id=system)  # 404 before anything is audited
        write.account(original.account_id)
        replayed = write.replay(f"POST /v1/systems/{system}/orders/{original.id}/replace", body.canonical())
        if replayed is not None:
            return replayed
        try:
            client_order_id = await integration.replace_external_order(
                system, original.id, body.changes(), idempotency_key=write.trading_key()
            )
            record = integration.trading.get_order(client_order_id, system_id=system)
            replaced = integration.trading.get_order(original.id)
            status = 201
            answer = ReplaceAnswer(order=OrderOut.of(record), replaced=OrderOut.of(replaced)).model_dump(
                mode="json"
            )
            write.audit("success", order_id=record.id, replaces=original.id, status=record.status.value)
        except PorticoError as exc:
            problem = problem_for_error(exc)
            write.audit("failed", replaces=original.id, error=type(exc).__name__)
            from portico.trading import OrderNotReplaceable  # lazy: on use, as the trading service is loaded

            # not definitive: a retry with the same key may still succeed (the original's outcome or an
            # earlier replace is resolved meanwhile), so nothing is stored under the key
            transient = isinstance(exc, OutcomeUnknown | OrderNotReplaceable)
            if problem.status >= 500 or idempotency_key is None or transient:
                raise
            status, answer = problem.status, problem.body(f"/v1/systems/{system}/orders/{order_id}/replace")
        return write.answer(status, answer)
