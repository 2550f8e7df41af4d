"""An asyncio TCP server speaking the TWS socket API, trading on the simulated IB venue.

What it answers: the handshake, startApi (nextValidId + managedAccounts), positions, open and completed
orders, account updates (single and multi), account summary, executions with commission reports,
contract details, market data ticks (streaming and snapshot), historical bars, place/modify/cancel
orders with order status, reqIds and the current time; news providers, historical news, news articles
and fundamental data snapshots (see ``_reference``). Anything else gets error 10000-style text
naming the message id, never a silent hang.

Fault injection (for the "response lost after commit" tests): ``faults={"drop_order_ack": 0.3}`` makes
the server accept an order and then, with that probability (seeded), send nothing about it to the
placing connection; ``faults={"disconnect_after_commit": 0.1}`` closes the socket right after the order
is committed. Lookups (open/completed orders, executions) still show such orders, as at the real venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from portico.mocks._kit._news import NewsSource
from portico.mocks.interactive_brokers._venue import IbVenue, Listing, VenueError, VenueEvent, VenueOrder
from portico.mocks.interactive_brokers.tws import _reference as ref
from portico.mocks.interactive_brokers.tws import _wire as w

__all__ = ["TwsMockServer", "start_tws_mock"]

_log = logging.getLogger("portico.mocks.interactive_brokers.tws")

# Tick types (IB "tick_types"): prices 1 bid, 2 ask, 4 last, 6 high, 7 low, 9 close, 14 open;
# sizes 0 bid, 3 ask, 5 last, 8 volume.
_PRICE_TICKS = ((1, "bid", "bid_size"), (2, "ask", "ask_size"), (4, "last", "last_size"))
_STAT_TICKS = ((6, "high"), (7, "low"), (9, "close"), (14, "open"))


@dataclass
class _Session:
    """One connected API client."""

    server: TwsMockServer
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    client_id: int | None = None
    ticks: dict[int, Listing] = field(default_factory=dict)
    """Streaming market data subscriptions: reqId -> listing."""
    positions: bool = False
    account_updates: str | None = None
    muted_orders: set[int] = field(default_factory=set)
    """perm ids whose updates are dropped (fault injection)."""
    closed: bool = False

    def send(self, fields: list[w.Field]) -> None:
        if self.closed:
            return
        self.writer.write(w.frame(fields))

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(w.encode_error(req_id, code, text))


class TwsMockServer:
    """The TWS mock: ``await start()`` then connect any TWS API client to ``host:port``.

    Args:
        venue: the simulated venue (a fresh seeded one by default).
        seed: seeds a default venue and the fault dice.
        faults: fault injection settings (see the module docstring).
        tick_interval: seconds between price steps pushed to market data subscribers; ``0`` disables
            the background ticker (tests then call :meth:`IbVenue.step` themselves).
    """

    def __init__(
        self,
        venue: IbVenue | None = None,
        *,
        seed: int = 0,
        faults: Mapping[str, Any] | None = None,
        tick_interval: float = 0.5,
    ) -> None:
        self.venue = venue or IbVenue(seed=seed)
        self.faults = dict(faults or {})
        self._dice = random.Random(seed ^ 0x7A5)
        self.tick_interval = tick_interval
        self._server: asyncio.base_events.Server | None = None
        self._sessions: list[_Session] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._next_ids: dict[int, int] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._unsubscribe = self.venue.subscribe(self._on_venue)
        self.host = "127.0.0.1"
        self.port = 0
        self.news = NewsSource(self.venue.seed)
        self.journal: list[tuple[int | None, list[str]]] = []
        """Every message received: (client id, fields)."""

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> TwsMockServer:
        """Listen on ``host:port`` (an ephemeral port when 0); returns self with :attr:`port` set."""
        self._server = await asyncio.start_server(self._serve, host, port)
        sock = self._server.sockets[0].getsockname()
        self.host, self.port = sock[0], sock[1]
        if self.tick_interval > 0:
            self._ticker = asyncio.create_task(self._tick_loop())
        return self

    @property
    def url(self) -> str:
        """``tcp://host:port``."""
        return f"tcp://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Close every session and stop listening."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for session in list(self._sessions):
            self._close(session)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._unsubscribe()

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        assert self._server is not None, "call start() first"
        await self._server.serve_forever()

    async def __aenter__(self) -> TwsMockServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            conids = sorted({listing.conid for s in self._sessions for listing in s.ticks.values()})
            resting = sorted({o.listing.conid for o in self.venue.orders.values() if o.is_open})
            wanted = sorted(set(conids) | set(resting))
            if wanted:
                self.venue.step(wanted)
                await self._flush()

    async def _flush(self) -> None:
        for session in list(self._sessions):
            if not session.closed:
                with contextlib.suppress(ConnectionError):
                    await session.writer.drain()

    def _close(self, session: _Session) -> None:
        session.closed = True
        with contextlib.suppress(Exception):
            session.writer.close()
        if session in self._sessions:
            self._sessions.remove(session)

    # -- connection ---------------------------------------------------------------------------------

    async def _read_frame(self, reader: asyncio.StreamReader) -> list[str]:
        size = int.from_bytes(await reader.readexactly(4), "big")
        payload = (await reader.readexactly(size)).decode(errors="backslashreplace")
        fields = payload.split("\0")
        if fields and fields[-1] == "":
            fields.pop()
        return fields

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            prefix = await reader.readexactly(4)
            if prefix != b"API\0":
                _log.warning("not a TWS API client (prefix %r); closing", prefix)
                return
            (hello,) = await self._read_frame(reader) or [""]
            low, high, _options = w.parse_handshake(hello)
            if high < w.SERVER_VERSION or low > w.SERVER_VERSION:
                _log.warning("client versions %s..%s exclude server version %s", low, high, w.SERVER_VERSION)
                return
            session.send([w.SERVER_VERSION, w.format_time(self.venue.now())])
            await writer.drain()
            self._sessions.append(session)
            while not session.closed:
                fields = await self._read_frame(reader)
                self.journal.append((session.client_id, fields))
                try:
                    self._dispatch(session, fields)
                except (ValueError, IndexError, InvalidOperation) as exc:
                    session.error(-1, 320, f"Error reading request. Unable to parse data. {exc}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.CancelledError):
            pass
        finally:
            self._close(session)

    # -- dispatch -----------------------------------------------------------------------------------

    def _dispatch(self, s: _Session, f: list[str]) -> None:
        msg = int(f[0])
        if s.client_id is None and msg != 71:
            s.error(-1, 321, "Error validating request: the API is not started (send startApi first).")
            return
        handler = _HANDLERS.get(msg)
        if handler is None:
            s.error(-1, 10000, f"The mock TWS does not implement request message id {msg}.")
            return
        handler(self, s, f)

    def _start_api(self, s: _Session, f: list[str]) -> None:
        client_id = int(f[2])
        if any(o.client_id == client_id for o in self._sessions if o is not s and not o.closed):
            s.error(
                -1,
                326,
                "Unable to connect as the client id is already in use. Retry with a unique client id.",
            )
            self._close(s)
            return
        s.client_id = client_id
        s.send([9, 1, self._next_id(client_id)])
        s.send([15, 1, ",".join(self.venue.accounts)])

    def _next_id(self, client_id: int) -> int:
        used = [o.order_id for o in self.venue.orders.values() if o.client_id == client_id]
        return max([self._next_ids.get(client_id, 1), *(i + 1 for i in used)])

    def _req_ids(self, s: _Session, f: list[str]) -> None:
        assert s.client_id is not None
        s.send([9, 1, self._next_id(s.client_id)])

    def _current_time(self, s: _Session, f: list[str]) -> None:
        s.send([49, 1, int(self.venue.now().timestamp())])

    def _managed_accounts(self, s: _Session, f: list[str]) -> None:
        s.send([15, 1, ",".join(self.venue.accounts)])

    def _market_data_type(self, s: _Session, f: list[str]) -> None:
        """reqMarketDataType: the mock has live data only; nothing to answer."""

    # -- positions and accounts ---------------------------------------------------------------------

    def _positions(self, s: _Session, f: list[str]) -> None:
        s.positions = True
        for account in self.venue.accounts:
            for conid, (qty, cost) in self.venue.positions(account).items():
                s.send(w.encode_position(account, self.venue.listings[conid], qty, cost))
        s.send([62, 1])

    def _cancel_positions(self, s: _Session, f: list[str]) -> None:
        s.positions = False

    def _account_values(self, account: str) -> list[tuple[str, str, str]]:
        rows = [(tag, str(value), "USD") for tag, value in self.venue.account_values(account).items()]
        rows += [
            ("AccountType", "INDIVIDUAL", ""),
            ("Currency", "USD", "USD"),
            ("CashBalance", rows[1][1], "BASE"),
        ]
        return rows

    def _account_updates(self, s: _Session, f: list[str]) -> None:
        subscribe, account = f[2] == "1", f[3] or self.venue.accounts[0]
        if not subscribe:
            s.account_updates = None
            return
        try:
            rows = self._account_values(account)
        except VenueError as exc:
            s.error(-1, exc.code, exc.message)
            return
        s.account_updates = account
        self._send_account_download(s, account, rows)

    def _send_account_download(
        self, s: _Session, account: str, rows: list[tuple[str, str, str]], *, end: bool = True
    ) -> None:
        for tag, value, currency in rows:
            s.send([6, 2, tag, value, currency, account])
        for conid, (qty, cost) in self.venue.positions(account).items():
            s.send(
                w.encode_portfolio(account, self.venue.listings[conid], qty, cost, self.venue.quotes[conid])
            )
        s.send([8, 1, self.venue.now().strftime("%H:%M")])
        if end:
            s.send([54, 1, account])

    def _account_updates_multi(self, s: _Session, f: list[str]) -> None:
        req_id, account, model = int(f[2]), f[3], f[4]
        accounts = self.venue.accounts if account in {"", "All"} else [account]
        for acct in accounts:
            try:
                rows = self._account_values(acct)
            except VenueError as exc:
                s.error(req_id, exc.code, exc.message)
                return
            for tag, value, currency in rows:
                s.send([73, 1, req_id, acct, model, tag, value, currency])
        s.send([74, 1, req_id])

    def _account_summary(self, s: _Session, f: list[str]) -> None:
        req_id, tags = int(f[2]), {t for t in f[4].split(",") if t}
        for account in self.venue.accounts:
            for tag, value, currency in self._account_values(account):
                if not tags or tag in tags:
                    s.send([63, 1, req_id, account, tag, value, currency])
        s.send([64, 1, req_id])

    # -- orders -------------------------------------------------------------------------------------

    def _open_orders(self, s: _Session, f: list[str], *, every_client: bool = False) -> None:
        for order in self.venue.orders.values():
            if order.is_open and (every_client or order.client_id == s.client_id or s.client_id == 0):
                s.send(w.encode_open_order(order))
                s.send(w.encode_order_status(order))
        s.send([53, 1])

    def _all_open_orders(self, s: _Session, f: list[str]) -> None:
        self._open_orders(s, f, every_client=True)

    def _completed_orders(self, s: _Session, f: list[str]) -> None:
        for order in self.venue.orders.values():
            if not order.is_open:
                s.send(w.encode_completed_order(order))
        s.send([102])

    def _auto_open_orders(self, s: _Session, f: list[str]) -> None:
        if s.client_id != 0:
            s.error(
                -1, 321, "Error validating request.-'bA' : cause - Auto bind is only allowed for client id 0"
            )

    def _executions(self, s: _Session, f: list[str]) -> None:
        req_id = int(f[2])
        client_id, account, since, symbol, sec_type, exchange, side = f[3:10]
        since_at = _parse_ib_time(since) if since else None
        for order in self.venue.orders.values():
            if client_id not in {"", "0"} and str(order.client_id) != client_id:
                continue
            if account and order.account != account:
                continue
            if symbol and order.listing.symbol != symbol.upper():
                continue
            if sec_type and order.listing.sec_type != sec_type.upper():
                continue
            if exchange and exchange.upper() not in {"SMART", order.listing.exchange}:
                continue
            if side and side.upper() not in {order.action, "BOT" if order.action == "BUY" else "SLD"}:
                continue
            for fill in order.fills:
                if since_at is not None and fill.time < since_at:
                    continue
                s.send(w.encode_exec_details(req_id, order, fill))
                s.send(w.encode_commission_report(fill, order.listing.currency, None))
        s.send([55, 1, req_id])

    def _place_order(self, s: _Session, f: list[str]) -> None:
        assert s.client_id is not None
        order_id = int(f[1])
        contract = w.parse_contract(f, 2)
        action, qty_text, order_type = f[16], f[17], f[18]
        limit_text, aux_text, tif, account, order_ref = f[19], f[20], f[21] or "DAY", f[23], f[26]
        outside_rth = f[33] == "1" if len(f) > 33 else False
        existing = self.venue.find_order(client_id=s.client_id, order_id=order_id)
        limit = Decimal(limit_text) if limit_text else None
        aux = Decimal(aux_text) if aux_text else None
        try:
            if existing is not None:
                if not existing.is_open:
                    raise VenueError(103, "Duplicate order id")
                if order_type.upper() != existing.order_type:
                    raise VenueError(329, "Order modify failed. Cannot change to the new order type.")
                order = self.venue.modify(
                    existing, quantity=Decimal(qty_text), limit_price=limit, stop_price=aux, tif=tif
                )
                return
            if self._next_ids.get(s.client_id, 0) <= order_id:
                self._next_ids[s.client_id] = order_id + 1
            listing = self.venue.listing(conid=contract.con_id, symbol=contract.symbol)
            drop = self._roll("drop_order_ack")
            disconnect = self._roll("disconnect_after_commit")
            if drop or disconnect:
                # Mute before committing, so not even the first status of the order reaches this client.
                s.muted_orders.add(-order_id)
            order = self.venue.place(
                client_id=s.client_id,
                order_id=order_id,
                account=account or None,
                listing=listing,
                action=action,
                quantity=Decimal(qty_text),
                order_type=order_type,
                tif=tif,
                limit_price=limit,
                stop_price=aux,
                order_ref=order_ref,
                outside_rth=outside_rth,
            )
            if drop or disconnect:
                s.muted_orders.add(order.perm_id)
                s.muted_orders.discard(-order_id)
            if disconnect:
                self._close(s)
        except VenueError as exc:
            s.muted_orders.discard(-order_id)
            s.error(order_id, exc.code, exc.message)

    def _roll(self, fault: str) -> bool:
        rate = float(self.faults.get(fault, 0) or 0)
        return rate > 0 and self._dice.random() < rate

    def _cancel_order(self, s: _Session, f: list[str]) -> None:
        assert s.client_id is not None
        order_id = int(f[2])
        order = self.venue.find_order(client_id=s.client_id, order_id=order_id)
        if order is None:
            s.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.")
            return
        try:
            self.venue.cancel(order)
        except VenueError as exc:
            s.error(order_id, exc.code, exc.message)
            return
        s.error(order_id, 202, "Order Canceled - reason:")

    def _global_cancel(self, s: _Session, f: list[str]) -> None:
        for order in list(self.venue.orders.values()):
            if order.is_open:
                self.venue.cancel(order)

    # -- contracts and market data ------------------------------------------------------------------

    def _contract_details(self, s: _Session, f: list[str]) -> None:
        req_id = int(f[2])
        contract = w.parse_contract(f, 3)
        if contract.sec_type and contract.sec_type.upper() != "STK":
            s.error(req_id, 200, "No security definition has been found for the request")
            return
        try:
            listing = self.venue.listing(conid=contract.con_id, symbol=contract.symbol)
        except VenueError as exc:
            s.error(req_id, exc.code, exc.message)
            return
        if contract.currency and contract.currency.upper() != listing.currency:
            s.error(req_id, 200, "No security definition has been found for the request")
            return
        s.send(w.encode_contract_details(req_id, listing))
        s.send([52, 1, req_id])

    def _market_data(self, s: _Session, f: list[str]) -> None:
        req_id = int(f[2])
        contract = w.parse_contract(f, 3)
        snapshot = f[17] == "1" if len(f) > 17 else False
        try:
            listing = self.venue.listing(conid=contract.con_id, symbol=contract.symbol)
        except VenueError as exc:
            s.error(req_id, exc.code, exc.message)
            return
        s.send([58, 1, req_id, 1])
        self._send_quote(s, req_id, listing, full=True)
        if snapshot:
            s.send([57, 1, req_id])
        else:
            s.ticks[req_id] = listing

    def _send_quote(self, s: _Session, req_id: int, listing: Listing, *, full: bool) -> None:
        quote = self.venue.quotes[listing.conid]
        for tick, price_attr, size_attr in _PRICE_TICKS:
            # tickPrice: version 6, reqId, tickType, price, size, attribute mask
            s.send([1, 6, req_id, tick, getattr(quote, price_attr), getattr(quote, size_attr), 0])
            s.send([2, 6, req_id, {1: 0, 2: 3, 4: 5}[tick], getattr(quote, size_attr)])
        s.send([2, 6, req_id, 8, quote.volume])
        if full:
            for tick, attr in _STAT_TICKS:
                s.send([1, 6, req_id, tick, getattr(quote, attr), 0, 0])
        else:
            s.send([1, 6, req_id, 6, quote.high, 0, 0])
            s.send([1, 6, req_id, 7, quote.low, 0, 0])

    def _matching_symbols(self, s: _Session, f: list[str]) -> None:
        """reqMatchingSymbols (81: reqId, pattern) -> symbolSamples (79), with description and issuer (>= 176)."""
        req_id, pattern = int(f[1]), f[2]
        found = self.venue.search(pattern)[:16]
        fields: list[w.Field] = [79, req_id, len(found)]
        for listing in found:
            fields += [listing.conid, listing.symbol, listing.sec_type, listing.exchange, listing.currency, 0]
            fields += [listing.name, ""]
        s.send(fields)

    def _cancel_market_data(self, s: _Session, f: list[str]) -> None:
        s.ticks.pop(int(f[2]), None)

    def _historical_data(self, s: _Session, f: list[str]) -> None:
        req_id = int(f[1])
        contract = w.parse_contract(f, 2)
        end_text, bar_size, duration, _rth, what, date_format = f[15], f[16], f[17], f[18], f[19], f[20]
        try:
            listing = self.venue.listing(conid=contract.con_id, symbol=contract.symbol)
            end = _parse_ib_time(end_text) if end_text else self.venue.now()
            span = _parse_duration(duration)
            seconds = _bar_seconds(bar_size)
            bars = self.venue.bars(listing, bar_size, start=end - span, end=end)[-5000:]
        except VenueError as exc:
            s.error(req_id, exc.code, exc.message)
            return
        except ValueError as exc:
            s.error(req_id, 321, f"Error validating request.-'bP' : cause - {exc}")
            return
        if what.upper() not in {"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST"}:
            s.error(req_id, 321, f"Error validating request.-'bP' : cause - Invalid what to show {what}")
            return
        start_text = w.format_time(end - span)
        s.send(
            w.encode_bars(
                req_id,
                bars,
                start_text,
                w.format_time(end),
                date_format=int(date_format or 1),
                daily=seconds >= 86400,
            )
        )

    def _cancel_historical(self, s: _Session, f: list[str]) -> None:
        """Historical requests answer at once; nothing to cancel."""

    # -- news and fundamentals (see _reference) -----------------------------------------------------

    def _news_providers(self, s: _Session, f: list[str]) -> None:
        fields: list[w.Field] = [85, len(ref.NEWS_PROVIDERS)]
        for code, name, _publisher in ref.NEWS_PROVIDERS:
            fields += [code, name]
        s.send(fields)

    def _historical_news(self, s: _Session, f: list[str]) -> None:
        req_id, conid, codes_text, start_text, end_text, total_text = f[1], f[2], f[3], f[4], f[5], f[6]
        known = {code for code, _name, _publisher in ref.NEWS_PROVIDERS}
        codes = {c for c in codes_text.split("+") if c}
        if not codes or codes - known:
            s.error(
                int(req_id), 10276, f"News feed is not allowed: {'+'.join(sorted(codes - known)) or '(none)'}"
            )
            return
        try:
            listing = self.venue.listing(conid=int(conid or 0))
            start = _parse_ib_time(start_text) if start_text else None
            end = _parse_ib_time(end_text) if end_text else None
            total = int(total_text or 10)
        except VenueError as exc:
            s.error(int(req_id), exc.code, exc.message)
            return
        if not 1 <= total <= 300:
            s.error(int(req_id), 321, "Error validating request.-'cC' : cause - totalResults must be 1..300")
            return
        rows, more = ref.historical_news(
            self.venue, self.news, listing, codes, start=start, end=end, total=total
        )
        for row in rows:
            s.send([86, req_id, *row])
        s.send([87, req_id, more])

    def _news_article(self, s: _Session, f: list[str]) -> None:
        req_id, code, wanted = int(f[1]), f[2], f[3]
        text = ref.article_text(self.venue, self.news, code, wanted)
        if text is None:
            s.error(req_id, 10172, f"Failed to request news article: No data available for {wanted}")
            return
        s.send([83, req_id, 0, text])

    def _fundamental_data(self, s: _Session, f: list[str]) -> None:
        req_id, conid, symbol, report = int(f[2]), f[3], f[4], f[10]
        try:
            listing = self.venue.listing(
                conid=int(conid) if conid and conid != "0" else None, symbol=symbol or None
            )
        except VenueError as exc:
            s.error(req_id, exc.code, exc.message)
            return
        if report != "ReportSnapshot":
            s.error(
                req_id,
                430,
                "We are sorry, but fundamentals data for the security specified is not available.",
            )
            return
        s.send([51, 1, req_id, ref.fundamentals_xml(self.venue, listing)])

    # -- venue events -------------------------------------------------------------------------------

    def _on_venue(self, event: VenueEvent) -> None:
        if event.kind == "tick" and event.listing is not None:
            for session in self._sessions:
                for req_id, listing in session.ticks.items():
                    if listing.conid == event.listing.conid:
                        self._send_quote(session, req_id, listing, full=False)
            return
        order = event.order
        if order is None:
            return
        for session in list(self._sessions):
            if session.closed:
                continue
            if event.kind == "position":
                if session.positions:
                    self._send_position(session, order)
                if session.account_updates == order.account:
                    self._send_account_download(
                        session, order.account, self._account_values(order.account), end=False
                    )
                continue
            if session.client_id not in {order.client_id, 0} or self._muted(session, order):
                continue
            if event.kind == "order":
                session.send(w.encode_open_order(order))
                session.send(w.encode_order_status(order))
            elif event.kind == "fill" and event.fill is not None:
                session.send(w.encode_exec_details(-1, order, event.fill))
                session.send(w.encode_commission_report(event.fill, order.listing.currency, None))

    @staticmethod
    def _muted(session: _Session, order: VenueOrder) -> bool:
        """Whether updates of ``order`` are dropped for ``session`` (fault injection)."""
        if order.perm_id in session.muted_orders:
            return True
        if session.client_id == order.client_id and -order.order_id in session.muted_orders:
            session.muted_orders.add(order.perm_id)
            return True
        return False

    def _send_position(self, session: _Session, order: VenueOrder) -> None:
        qty, cost = self.venue.positions(order.account).get(order.listing.conid, (Decimal(0), Decimal(0)))
        session.send(w.encode_position(order.account, order.listing, qty, cost))


def _parse_ib_time(text: str) -> datetime:
    """``20250101 10:00:00 UTC``, ``20250101-10:00:00``, ``20250101 10:00:00`` (UTC) or ``20250101``."""
    text = text.strip()
    if len(text) == 8:
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
    head = text.replace("-", " ", 1) if text[8:9] == "-" else text
    parts = head.split(" ")
    stamp = datetime.strptime(parts[0] + " " + parts[1], "%Y%m%d %H:%M:%S")
    if len(parts) > 2 and parts[2] not in {"UTC", "GMT"}:
        from zoneinfo import ZoneInfo

        return stamp.replace(tzinfo=ZoneInfo(parts[2])).astimezone(UTC)
    return stamp.replace(tzinfo=UTC)


def _parse_duration(text: str) -> timedelta:
    """IB duration strings: ``"30 D"``, ``"3600 S"``, ``"2 W"``, ``"1 M"``, ``"1 Y"``."""
    amount, _, unit = text.strip().partition(" ")
    days = {"S": 1 / 86400, "D": 1, "W": 7, "M": 30, "Y": 365}.get(unit.upper())
    if days is None or not amount.isdigit():
        raise ValueError(f"Invalid duration {text!r}")
    return timedelta(days=int(amount) * days)


def _bar_seconds(bar_size: str) -> int:
    from portico.mocks.interactive_brokers._venue import _BAR_SIZES

    try:
        return _BAR_SIZES[bar_size.strip()][1]
    except KeyError:
        raise VenueError(
            321, f"Error validating request.-'bQ' : cause - Invalid bar size '{bar_size}'"
        ) from None


_HANDLERS = {
    1: TwsMockServer._market_data,
    2: TwsMockServer._cancel_market_data,
    3: TwsMockServer._place_order,
    4: TwsMockServer._cancel_order,
    5: TwsMockServer._open_orders,
    6: TwsMockServer._account_updates,
    7: TwsMockServer._executions,
    8: TwsMockServer._req_ids,
    9: TwsMockServer._contract_details,
    15: TwsMockServer._auto_open_orders,
    16: TwsMockServer._all_open_orders,
    17: TwsMockServer._managed_accounts,
    20: TwsMockServer._historical_data,
    25: TwsMockServer._cancel_historical,
    49: TwsMockServer._current_time,
    52: TwsMockServer._fundamental_data,
    53: lambda self, s, f: None,
    58: TwsMockServer._global_cancel,
    59: TwsMockServer._market_data_type,
    61: TwsMockServer._positions,
    62: TwsMockServer._account_summary,
    64: TwsMockServer._cancel_positions,
    71: TwsMockServer._start_api,
    76: TwsMockServer._account_updates_multi,
    77: lambda self, s, f: None,
    81: TwsMockServer._matching_symbols,
    84: TwsMockServer._news_article,
    85: TwsMockServer._news_providers,
    86: TwsMockServer._historical_news,
    99: TwsMockServer._completed_orders,
}


async def start_tws_mock(
    *,
    seed: int = 0,
    faults: Mapping[str, Any] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    venue: IbVenue | None = None,
    tick_interval: float = 0.5,
) -> TwsMockServer:
    """Start a TWS mock server and return it (``.port``, ``.url``, ``await .stop()``)."""
    server = TwsMockServer(venue, seed=seed, faults=faults, tick_interval=tick_interval)
    return await server.start(host, port)
