"""Alpaca's real-time news stream (``news_stream`` URL, ``.../v1beta1/news``).

The protocol is the market data streams': ``[{"T": "success", "msg": "connected"}]`` on connect, then
``{"action": "auth", "key", "secret"}`` -> ``authenticated``, ``{"action": "subscribe", "news": [...]}``
(``"*"``: every article) -> ``subscription``; each article arrives as ``{"T": "n", "id", "headline",
"summary", "author", "created_at", "updated_at", "url", "content", "symbols", "source"}`` in an array.

One connection per iterator (news is sparse and the feed has its own connection allowance). After a
reconnect the subscription is sent again and the articles published while the stream was down are read
back by REST (``backfill``, from the newest delivered article's time on) and delivered first; an
article already delivered (by id) is not delivered twice.
A malformed article is refused alone (a ``stream.rejected`` event naming the field); an error no
reconnect can fix (auth failed, connection limit, no subscription) ends the iteration with it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime
from typing import Any

from portico.clock import Clock
from portico.connectors.alpaca.mapping import news_from_wire, parse
from portico.connectors.alpaca.wire import WireNews
from portico.errors import AuthError, PayloadRejected, PorticoError
from portico.http import WebSocketClient
from portico.models import NewsItem

__all__ = ["Backfill", "NewsStream", "news_stream_url"]

Backfill = Callable[[list[str] | None, datetime], Awaitable[list[NewsItem]]]
"""``(symbols or None for all, since) -> articles published since``, any order (REST ``/v1beta1/news``)."""

_FATAL = {401: AuthError, 402: AuthError, 404: AuthError, 406: PorticoError, 409: AuthError}
_SEEN = 10_000  # article ids remembered against repeats after a reconnect


def news_stream_url(urls: Callable[[str], str]) -> str:
    """The ``news_stream`` URL; for a configuration that names only ``data_stream`` (``.../v2``), the
    news path on that host."""
    try:
        return urls("news_stream")
    except (KeyError, LookupError, PorticoError):
        base = urls("data_stream").rstrip("/")
        return (base[: -len("/v2")] if base.endswith("/v2") else base) + "/v1beta1/news"


def _decode(message: str | bytes) -> Any:
    try:
        return json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return None


class NewsStream:
    """Live articles about ``symbols`` from one connection.

    Args:
        url: the news stream URL.
        symbols: the tickers (``["*"]``: all news).
        system: the system id.
        key_id: the API key id.
        secret_key: the API secret key.
        clock: the time source.
        emit: monitor events.
        ws_options: extra :class:`~portico.http.WebSocketClient` arguments.
        backfill: reads the articles missed while a reconnect was under way (None: none are).
    """

    def __init__(
        self,
        url: str,
        symbols: list[str],
        *,
        system: str,
        key_id: str,
        secret_key: str,
        clock: Clock,
        emit: Callable[..., None],
        ws_options: dict[str, Any] | None = None,
        backfill: Backfill | None = None,
    ) -> None:
        self.url = url
        self.symbols = sorted({s.strip().upper() if s.strip() != "*" else "*" for s in symbols if s.strip()})
        self.system = system
        self._auth = {"action": "auth", "key": key_id, "secret": secret_key}
        self._clock = clock
        self._emit = emit
        self._ws_options = dict(ws_options or {})
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._backfill = backfill
        self._connections = 0
        self._backfill_due = False
        self._newest: datetime | None = None
        self.rejected = 0
        """Articles refused as malformed."""

    async def _on_connect(self, client: WebSocketClient) -> None:
        self._connections += 1
        if self._connections > 1:
            self._backfill_due = self._backfill is not None and self._newest is not None
        await client.send(self._auth)
        await client.send({"action": "subscribe", "news": self.symbols})

    def _control(self, message: dict[str, Any]) -> None:
        kind = message.get("T")
        if kind == "subscription":
            self._emit("stream.subscribed", stream="news", symbols=list(message.get("news") or []))
        elif kind == "error":
            code = message.get("code")
            text = f"Alpaca news stream error {code}: {message.get('msg')}"
            error = _FATAL.get(code) if isinstance(code, int) else None
            if error is not None:
                raise error(text, system=self.system, venue_code=code)
            self._emit("stream.error", stream="news", code=code, message=message.get("msg"))

    def _item(self, message: dict[str, Any]) -> NewsItem | None:
        try:
            item = news_from_wire(
                parse(WireNews, message, what="news article", system=self.system), system=self.system
            )
        except PayloadRejected as exc:
            self.rejected += 1
            self._emit("stream.rejected", stream="news", severity="warning", reason=exc.message, field=exc.field,
                       rejected=self.rejected)  # fmt: skip
            return None
        return self._fresh(item)

    def _fresh(self, item: NewsItem) -> NewsItem | None:
        if item.id in self._seen:
            return None
        self._seen[item.id] = None
        if len(self._seen) > _SEEN:
            self._seen.popitem(last=False)
        if self._newest is None or item.published_at > self._newest:
            self._newest = item.published_at
        return item

    async def _backfilled(self) -> list[NewsItem]:
        """The articles published since the newest delivered one that were not delivered, oldest first."""
        self._backfill_due = False
        assert self._backfill is not None and self._newest is not None
        symbols = None if "*" in self.symbols else list(self.symbols)
        try:
            found = await self._backfill(symbols, self._newest)
        except PorticoError as exc:
            self._emit("stream.backfill_failed", stream="news", severity="warning", error=exc.message)
            return []
        out = [i for i in sorted(found, key=lambda i: (i.published_at, i.id)) if self._fresh(i) is not None]
        self._emit("stream.backfilled", stream="news", items=len(out))
        return out

    async def items(self) -> AsyncGenerator[NewsItem, None]:
        """Articles as they arrive, until the iterator is closed."""
        if not self.symbols:
            raise PayloadRejected("subscribe_news needs at least one symbol (or '*')", system=self.system)
        client = WebSocketClient(
            self.url,
            system=self.system,
            clock=self._clock,
            on_connect=self._on_connect,
            decode=_decode,
            events=self._emit,
            **self._ws_options,
        )
        await client.connect()
        try:
            while True:
                frame = await client.receive()
                if self._backfill_due:
                    for backfilled in await self._backfilled():
                        yield backfilled
                if isinstance(frame, dict):
                    frame = [frame]
                if not isinstance(frame, list):
                    self._emit("stream.rejected", stream="news", severity="warning",
                               reason="a frame that is not a JSON array", field=None)  # fmt: skip
                    continue
                for message in frame:
                    if not isinstance(message, dict):
                        continue
                    if message.get("T") == "n":
                        item = self._item(message)
                        if item is not None:
                            yield item
                    else:
                        self._control(message)
        finally:
            await client.close()
