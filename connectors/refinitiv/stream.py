"""Streaming quotes and trades over LSEG's OMM WebSocket (``tr_json2``), through portico's :class:`~portico.http.WebSocketClient`.

The flow is the one lseg-data follows on a platform session:

1. ``GET /streaming/pricing/v1/`` (with the bearer token) lists the streaming services; the first
   ``websocket`` service names ``endpoint`` and ``port`` (``wss`` on 443, ``ws`` otherwise; path ``/WebSocket``).
2. On every (re)connection the client sends a Login (``Domain: Login``, ``Key.NameType: AuthnToken``,
   ``Key.Elements.AuthenticationToken``) and then one ``MarketPrice`` item request per RIC with a ``View`` of the
   quote fields. Messages arrive as JSON arrays: ``Refresh`` (the full image), ``Update`` (changed fields),
   ``Status`` (an item or the login closed), ``Ping`` (answered ``Pong``).
3. The platform's access tokens live about five minutes: before the one the login used expires, the Login is
   sent again with the refreshed token (``Refresh: false``), as LSEG requires for long-lived connections.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from portico.auth import TokenAuth
from portico.connectors.refinitiv.mapping import SOURCE, decimal_or_none, quote_from_snapshot
from portico.connectors.refinitiv.wire import WireSnapshotMessage
from portico.errors import AuthError, ConfigurationError, NotFound, PayloadRejected, error_context
from portico.http import WebSocketClient
from portico.models import Quote, Trade

if TYPE_CHECKING:
    from portico.connectors.refinitiv.client import RefinitivClient
    from portico.sdk import ConnectorContext

__all__ = ["QUOTE_FIELDS", "TRADE_FIELDS", "PricingStream", "streaming_url"]

QUOTE_FIELDS = ("BID", "ASK", "BIDSIZE", "ASKSIZE", "TRDPRC_1", "ACVOL_1", "NETCHNG_1", "PCTCHNG", "HST_CLOSE",
                "CURRENCY", "QUOTE_DATE", "QUOTIM")  # fmt: skip
"""The fields each streaming quote item asks for (its ``View``)."""

TRADE_FIELDS = ("TRDPRC_1", "TRDVOL_1", "TRDTIM_1", "VALUE_DT1")
"""The fields each streaming trade item asks for."""

_DISCOVERY = "/streaming/pricing/v1/"
_LOGIN_ID = 1


def _utc(day: Any, clock: Any) -> datetime | None:
    if not day or not clock:
        return None
    try:
        return datetime.fromisoformat(f"{str(day)[:10]}T{clock}").replace(tzinfo=UTC)
    except ValueError:
        return None


def streaming_url(discovery: Any) -> str:
    """The WebSocket URL of the first ``websocket`` service of a discovery answer."""
    services = discovery.get("services") if isinstance(discovery, dict) else None
    for service in services or []:
        if not isinstance(service, dict) or service.get("transport") != "websocket":
            continue
        endpoint = str(service.get("endpoint") or "").strip("/")
        host, _, path = endpoint.partition("/")
        port = int(service.get("port") or 443)
        scheme = "wss" if port == 443 else "ws"
        return f"{scheme}://{host}:{port}/{path or 'WebSocket'}"
    raise PayloadRejected("LSEG's streaming discovery lists no websocket service", field="services")


class PricingStream:
    """One OMM connection streaming quotes for a set of RICs.

    Args:
        context: the connector's context (clock, system id, auth).
        client: the connector's HTTP client (for discovery).
        auth: the token source the Login uses.
    """

    def __init__(self, context: ConnectorContext, client: RefinitivClient, auth: Any) -> None:
        if not isinstance(auth, TokenAuth):
            raise ConfigurationError(
                f"{context.system_id}: streaming needs a token-based auth scheme (refinitiv_password or "
                "oauth2_client_credentials)",
                system=context.system_id,
            )
        self.context = context
        self.client = client
        self.auth: TokenAuth = auth
        self._relogin_at: Any = None

    async def _login_message(self, *, refresh: bool = True) -> dict[str, Any]:
        token = await self.auth.token()
        expires = token.expires_at
        self._relogin_at = expires - timedelta(seconds=self.auth.skew) if expires is not None else None
        message: dict[str, Any] = {
            "ID": _LOGIN_ID,
            "Domain": "Login",
            "Key": {"NameType": "AuthnToken",
                    "Elements": {"ApplicationId": "256", "Position": "127.0.0.1/portico",
                                 "AuthenticationToken": token.access_token.get_secret_value()}},
        }  # fmt: skip
        if not refresh:
            message["Refresh"] = False
        return message

    async def quotes(self, rics: list[str]) -> AsyncGenerator[Quote, None]:
        """Quotes as they change: the full image first (``Refresh``), then each ``Update`` merged into it."""
        async for ric, image in self._images(rics, QUOTE_FIELDS):
            wire = WireSnapshotMessage.model_validate(
                {"Type": "Refresh", "Key": {"Name": ric}, "Fields": image}
            )
            yield quote_from_snapshot(wire, now=self.context.clock.now())

    async def trades(self, rics: list[str]) -> AsyncGenerator[Trade, None]:
        """Each new print: an image or update whose last trade (price, size, time) differs from the one before."""
        last: dict[str, tuple[Any, ...]] = {}
        async for ric, image in self._images(rics, TRADE_FIELDS):
            price = decimal_or_none(image.get("TRDPRC_1"))
            if price is None or price <= 0:
                continue
            key = (
                image.get("TRDPRC_1"),
                image.get("TRDVOL_1"),
                image.get("TRDTIM_1"),
                image.get("VALUE_DT1"),
            )
            if last.get(ric) == key:
                continue
            last[ric] = key
            stamp = _utc(image.get("VALUE_DT1"), image.get("TRDTIM_1")) or self.context.clock.now()
            yield Trade(symbol=ric, timestamp=stamp, price=price,
                        size=decimal_or_none(image.get("TRDVOL_1")) or Decimal(0), source=SOURCE)  # fmt: skip

    async def _images(
        self, rics: list[str], view: tuple[str, ...]
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Each item's image after every Refresh or Update: ``(ric, fields)``."""
        discovery = await self.client.api.get_json(_DISCOVERY, endpoint=f"GET {_DISCOVERY}")
        url = streaming_url(discovery)
        ids = {index + 2: ric for index, ric in enumerate(rics)}
        requests = [{"ID": stream_id, "Domain": "MarketPrice", "Key": {"Name": ric}, "View": list(view),
                     "Streaming": True} for stream_id, ric in ids.items()]  # fmt: skip

        async def on_connect(socket: WebSocketClient) -> None:
            await socket.send(await self._login_message())
            await socket.send(requests)

        socket = WebSocketClient(
            url,
            system=self.context.system_id,
            clock=self.context.clock,
            subprotocols=["tr_json2"],
            on_connect=on_connect,
            decode=json.loads,
            events=self.context.emit,
        )
        images: dict[str, dict[str, Any]] = {}
        request = f"WS {url.rsplit('/', 1)[-1]}"
        try:
            await socket.connect()
            async for batch in socket:
                for message in batch if isinstance(batch, list) else [batch]:
                    if not isinstance(message, dict):
                        continue
                    kind = message.get("Type")
                    if kind == "Ping":
                        await socket.send({"Type": "Pong"})
                        continue
                    if message.get("Domain") == "Login" or message.get("ID") == _LOGIN_ID:
                        self._check_login(message, request)
                        continue
                    stream_id = message.get("ID")
                    named = str((message.get("Key") or {}).get("Name") or "")
                    ric = (ids.get(stream_id) if isinstance(stream_id, int) else None) or named
                    if kind == "Status":
                        self._check_item(message, ric, request)
                        continue
                    if kind not in ("Refresh", "Update") or ric not in rics:
                        continue
                    image = images.setdefault(ric, {})
                    if kind == "Refresh":
                        image.clear()
                    image.update(message.get("Fields") or {})
                    yield ric, dict(image)
                if self._relogin_at is not None and self.context.clock.now() >= self._relogin_at:
                    await socket.send(await self._login_message(refresh=False))
        finally:
            await socket.close()

    def _check_login(self, message: dict[str, Any], request: str) -> None:
        state = message.get("State") or {}
        if message.get("Type") == "Status" and state.get("Stream") == "Closed":
            with error_context(system=self.context.system_id, request=request):
                raise AuthError(f"LSEG refused the streaming login: {state.get('Text') or state}",
                                venue_code=state.get("Code"))  # fmt: skip

    def _check_item(self, message: dict[str, Any], ric: str, request: str) -> None:
        state = message.get("State") or {}
        if state.get("Stream") != "Closed":
            return
        code = state.get("Code") or "Closed"
        with error_context(system=self.context.system_id, request=request):
            if code == "NotEntitled":
                raise AuthError(
                    f"the LSEG account is not entitled to stream {ric}: {state.get('Text')}", venue_code=code
                )
            raise NotFound(f"LSEG closed the stream of {ric}: {state.get('Text') or code}", venue_code=code)
