"""The push routes: signed inbound webhooks (``/v1/webhooks/{system}``) and the WebSocket event stream
(``/v1/stream``), which resumes after a given event with nothing missed and nothing doubled."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Header, Request, WebSocket
from starlette.websockets import WebSocketDisconnect

from portico.errors import PorticoError
from portico.gateway._dependencies import SESSION_COOKIE, Routes, SystemId
from portico.gateway._events import TOPICS, GatewayEvent
from portico.gateway._problems import Problem, ProblemModel
from portico.gateway._security import Principal
from portico.gateway._webhooks import WebhookRefused

if TYPE_CHECKING:
    from portico.gateway._server import Gateway

__all__ = ["add_event_routes"]


def add_event_routes(app: FastAPI, routes: Routes) -> None:
    """Add these routes (in the order the OpenAPI document lists them)."""
    gateway, integration, security = routes.gateway, routes.integration, routes.security

    # -- inbound webhooks --------------------------------------------------------------------------

    @app.post(
        "/v1/webhooks/{system}",
        tags=["webhooks"],
        responses={401: {"model": ProblemModel}, 404: {"model": ProblemModel}, 422: {"model": ProblemModel}},
    )
    async def webhook(
        system: SystemId,
        request: Request,
        x_portico_timestamp: Annotated[str | None, Header(max_length=20)] = None,
        x_portico_delivery: Annotated[str | None, Header(max_length=200)] = None,
        x_portico_signature: Annotated[str | None, Header(max_length=200)] = None,
    ) -> dict[str, Any]:
        """A vendor's push (order update, file ready), signed with the system's HMAC secret; a delivery
        seen before is acknowledged and not processed again."""
        body = await request.body()
        try:
            fresh = gateway.webhooks.verify(
                system, x_portico_timestamp, x_portico_delivery, x_portico_signature, body
            )
        except WebhookRefused as exc:
            integration.audit.append(
                system, "webhook", "gateway.webhook", "refused", detail={"reason": exc.reason}
            )
            raise Problem(exc.status, "Webhook refused", exc.reason) from None
        if not fresh:
            return {"status": "duplicate", "delivery": x_portico_delivery}
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError:
            gateway.webhooks.forget(system, str(x_portico_delivery))
            raise Problem(
                422, "Invalid request", "body: expected a JSON object", kind="invalid-request", field="body"
            ) from None
        try:
            outcome = await gateway.handle_webhook(system, str(x_portico_delivery), payload)
        except Exception:
            gateway.webhooks.forget(system, str(x_portico_delivery))  # not processed: the sender's retry is
            raise
        integration.audit.append(
            system,
            "webhook",
            "gateway.webhook",
            "accepted",
            detail={"delivery": x_portico_delivery, "kind": payload.get("type")},
        )
        return {"status": "accepted", "delivery": x_portico_delivery, **outcome}

    # -- the event stream --------------------------------------------------------------------------

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        """Order events, market data, alerts and webhooks; ``?topics=orders,alerts&last_event_id=N``
        resumes after event N with nothing missed and nothing doubled."""
        found: Principal | None = None
        header = websocket.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            found = security.token_principal(header[7:].strip())
        elif websocket.cookies.get(SESSION_COOKIE):
            origin = websocket.headers.get("origin")
            if origin is None or origin in gateway.same_origins():
                found = security.session_principal(websocket.cookies[SESSION_COOKIE])
        if found is None:
            # accepted then closed, so the client reads why (a refused handshake is a bare 403)
            await websocket.accept()
            await websocket.close(code=4401, reason="authentication required")
            return
        p = found
        topics_param = websocket.query_params.get("topics", ",".join(TOPICS))
        topics = [t for t in topics_param.split(",") if t]
        try:
            last = int(websocket.query_params.get("last_event_id", "0"))
        except ValueError:
            last = -1
        if last < 0 or not topics or any(t not in TOPICS for t in topics):
            await websocket.accept()
            await websocket.close(
                code=4422,
                reason="topics: a comma list of " + ",".join(TOPICS) + "; last_event_id: an integer >= 0",
            )
            return
        await websocket.accept()

        def visible(event: GatewayEvent) -> bool:
            if event.topic not in topics:
                return False
            if event.system is None:
                return p.can_any("systems", "read")
            return p.can("systems", event.system, "read")

        subscriptions: list[tuple[str, str]] = []
        try:
            with gateway.events.subscribe(visible) as live:
                while True:  # the backlog, page by page (live events queue up meanwhile)
                    page = gateway.events.since(last, topics)
                    for event in page:
                        if visible(event):
                            await websocket.send_json(event.to_json())
                        last = event.id
                    if len(page) < 1000:
                        break
                receiver = asyncio.create_task(_client_messages(websocket, p, gateway, subscriptions))
                try:
                    while True:
                        getter = asyncio.create_task(live.queue.get())
                        done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                        if receiver in done:
                            getter.cancel()
                            receiver.result()
                            return
                        event = getter.result()
                        if event.id <= last:
                            continue
                        await websocket.send_json(event.to_json())
                        last = event.id
                        if live.overflowed and live.queue.empty():
                            await websocket.close(
                                code=1013, reason="too far behind: reconnect with last_event_id"
                            )
                            return
                finally:
                    receiver.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await receiver
        except WebSocketDisconnect:
            return
        finally:
            for system, sub_id in subscriptions:
                with contextlib.suppress(Exception):
                    await integration.unsubscribe_market_data(system, sub_id)


async def _client_messages(
    websocket: WebSocket, p: Principal, gateway: Gateway, subscriptions: list[tuple[str, str]]
) -> None:
    """Handle what a stream client sends: ``{"action": "subscribe_market_data", "system": ..., "symbols": [...]}``."""
    while True:
        try:
            message = await websocket.receive_json()
        except (WebSocketDisconnect, RuntimeError):
            return
        except ValueError:
            await websocket.send_json({"error": "expected a JSON object"})
            continue
        if not isinstance(message, dict) or message.get("action") != "subscribe_market_data":
            await websocket.send_json({"error": "action: expected 'subscribe_market_data'"})
            continue
        system, symbols = message.get("system"), message.get("symbols")
        data_type = message.get("data_type", "latest_quote")
        if (
            not isinstance(system, str)
            or system not in gateway.integration.systems
            or not p.can("systems", system, "read")
        ):
            await websocket.send_json({"error": f"system: no system {system!r}"})
            continue
        if (
            not isinstance(symbols, list)
            or not symbols
            or not all(isinstance(s, str) and 0 < len(s) <= 32 for s in symbols)
        ):
            await websocket.send_json({"error": "symbols: expected a list of 1 to 50 symbols"})
            continue
        try:
            sub_id = await gateway.subscribe_market_data(system, symbols[:50], str(data_type))
        except PorticoError as exc:
            await websocket.send_json({"error": exc.message})
            continue
        subscriptions.append((system, sub_id))
        await websocket.send_json({"subscribed": sub_id, "system": system, "symbols": symbols[:50]})
