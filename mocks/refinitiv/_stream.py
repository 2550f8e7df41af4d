"""The mock's streaming pricing: the discovery document and an OMM WebSocket speaking ``tr_json2``.

``GET /streaming/pricing/v1/`` answers the services list lseg-data reads (``{"services": [{"endpoint", "port",
"transport": "websocket", "dataFormat": ["tr_json2"], "location", "provider"}]}``), naming the mock's own host and
port, so the library connects to ``ws://host:port/WebSocket`` (it picks ``wss`` only for port 443).

On the WebSocket (subprotocol ``tr_json2``), messages travel as JSON arrays:

* a Login request (``Domain: Login``, ``Key.NameType: AuthnToken``, ``Key.Elements.AuthenticationToken``) is
  answered with a Login ``Refresh`` in state ``Open`` when the token is live, else a ``Status`` with
  ``Login Rejected.`` and the stream ``Closed``;
* an item request (``{"ID", "Domain": "MarketPrice", "Key": {"Name"}, "View": [...], "Streaming"}``) is answered
  with a ``Refresh`` (``Complete: true``) holding the same fields as a pricing snapshot, or a ``Status``
  ``NotFound``; a streaming item then gets an ``Update`` with fresh bid/ask every ``update_seconds``;
* ``{"Type": "Close"}`` ends an item, ``{"Type": "Ping"}`` is answered ``{"Type": "Pong"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from portico.mocks._kit import json_response

if TYPE_CHECKING:
    from portico.mocks.refinitiv._app import RefinitivMock

__all__ = ["PricingStream"]

LOGIN_ID = 2


class PricingStream:
    """Discovery and the OMM WebSocket of one mock platform.

    Args:
        mock: the platform (its token service, prices and clock).
        update_seconds: how often a streaming item gets an Update (wall seconds).
    """

    def __init__(self, mock: RefinitivMock, *, update_seconds: float = 0.5) -> None:
        self.mock = mock
        self.update_seconds = update_seconds

    async def discovery(self, request: Request) -> Response:
        _, refused = self.mock.authorize(request)
        if refused is not None:
            return refused
        host = request.url.hostname or "127.0.0.1"
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        service = {"port": port, "location": ["us-east-1a"], "provider": "aws", "transport": "websocket",
                   "endpoint": host, "dataFormat": ["tr_json2"]}  # fmt: skip
        return json_response({"services": [service]})

    def _fields(self, name: str, view: list[str] | None) -> dict[str, Any] | None:
        found = self.mock.resolve(name)
        if found is None or name in self.mock.unpermitted:
            return None
        values = self.mock.snapshot_fields(found)
        if view:
            values = {f: values.get(f) for f in (v.upper() for v in view) if f in values}
        return values

    def _login(self, message: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        key = message.get("Key") or {}
        token = str((key.get("Elements") or {}).get("AuthenticationToken") or "")
        user, reason = self.mock.tokens.bearer(f"Bearer {token}")
        if user is None:
            return False, {"ID": message.get("ID", LOGIN_ID), "Type": "Status", "Domain": "Login",
                           "Key": {"Name": key.get("Name", "")},
                           "State": {"Stream": "Closed", "Data": "Suspect", "Code": "NotEntitled",
                                     "Text": f"Login Rejected. {reason}"}}  # fmt: skip
        return True, {"ID": message.get("ID", LOGIN_ID), "Type": "Refresh", "Domain": "Login",
                      "Key": {"Name": user, "Elements": {"ApplicationId": "256", "SingleOpen": 1,
                                                         "SupportBatchRequests": 7, "SupportViewRequests": 1}},
                      "State": {"Stream": "Open", "Data": "Ok", "Text": "Login accepted by host portico-mock."},
                      "Elements": {"PingTimeout": 30, "MaxMsgSize": 61426}}  # fmt: skip

    def _item(self, message: dict[str, Any]) -> dict[str, Any]:
        key = message.get("Key") or {}
        name = str(key.get("Name") or "")
        values = self._fields(name, message.get("View"))
        if values is None:
            return {"ID": message.get("ID"), "Type": "Status", "Key": {"Name": name},
                    "State": {"Stream": "Closed", "Data": "Suspect", "Code": "NotFound",
                              "Text": "**The record could not be found"}}  # fmt: skip
        streaming = message.get("Streaming", True) is not False
        return {"ID": message.get("ID"), "Type": "Refresh", "Domain": message.get("Domain", "MarketPrice"),
                "Key": {"Service": "ELEKTRON_DD", "Name": name},
                "State": {"Stream": "Open" if streaming else "NonStreaming", "Data": "Ok", "Text": "All is well"},
                "Qos": {"Timeliness": "Realtime", "Rate": "TickByTick"}, "Fields": values, "Complete": True}  # fmt: skip

    async def websocket(self, socket: WebSocket) -> None:
        await socket.accept(subprotocol="tr_json2")
        logged_in = False
        items: dict[Any, dict[str, Any]] = {}
        sender = asyncio.create_task(self._updates(socket, items))
        try:
            while True:
                text = await socket.receive_text()
                try:
                    parsed = json.loads(text)
                except ValueError:
                    await socket.close(code=1003)
                    return
                messages = parsed if isinstance(parsed, list) else [parsed]
                out: list[dict[str, Any]] = []
                for message in messages:
                    if not isinstance(message, dict):
                        continue
                    kind = message.get("Type")
                    if kind == "Ping":
                        out.append({"Type": "Pong"})
                    elif kind == "Pong":
                        continue
                    elif kind == "Close":
                        items.pop(message.get("ID"), None)
                    elif message.get("Domain") == "Login":
                        logged_in, answer = self._login(message)
                        out.append(answer)
                    elif not logged_in:
                        out.append({"ID": message.get("ID"), "Type": "Status",
                                    "State": {"Stream": "Closed", "Data": "Suspect", "Code": "NotEntitled",
                                              "Text": "no Login on this connection"}})  # fmt: skip
                    else:
                        answer = self._item(message)
                        out.append(answer)
                        if answer["Type"] == "Refresh" and answer["State"]["Stream"] == "Open":
                            items[message.get("ID")] = message
                if out:
                    await socket.send_text(json.dumps(out))
        except WebSocketDisconnect:
            return
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _updates(self, socket: WebSocket, items: dict[Any, dict[str, Any]]) -> None:
        while True:
            await asyncio.sleep(self.update_seconds)
            updates = []
            for stream_id, message in list(items.items()):
                name = str((message.get("Key") or {}).get("Name") or "")
                values = self._fields(name, message.get("View"))
                if values:
                    updates.append({"ID": stream_id, "Type": "Update", "UpdateType": "Quote",
                                    "Key": {"Service": "ELEKTRON_DD", "Name": name}, "Fields": values})  # fmt: skip
            if updates:
                await socket.send_text(json.dumps(updates))
