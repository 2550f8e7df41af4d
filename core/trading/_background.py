"""The trading service's background work: following each system's order stream, and rounds that
resolve unknown outcomes, fetch fill details an order status announced, and poll systems without a
stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from decimal import Decimal

from portico.errors import PorticoError
from portico.sdk import Capability
from portico.trading._core import ServiceCore, log

__all__ = ["BackgroundLoops"]

_FILL_LOOKUPS = 3
"""Background lookups of an order's fill details per filled quantity (see ``_catch_up_fills``)."""


class BackgroundLoops(ServiceCore):
    """The stream and resolver loops (part of :class:`~portico.trading.TradingService`)."""

    _fill_lookups: dict[str, tuple[Decimal, int]]

    async def _stream_loop(self, system_id: str) -> None:
        connector = self.connectors[system_id]
        delay = self.config.stream_backoff
        while self._running:
            try:
                # while the stream runs, pre-trade checks may reuse account state within its age limit
                self._streams_up.add(system_id)
                async for event in connector.subscribe_order_updates():
                    delay = self.config.stream_backoff
                    try:
                        await self.apply_event(system_id, event)
                    except PorticoError as exc:
                        log.warning("order event for %s not applied: %s", system_id, exc)
                if not self._running:
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._emit(
                    "trading.stream.disconnected", system=system_id, severity="warning", error=str(exc)
                )
            finally:
                # down: every check reads the venue again until the stream is back
                self._streams_up.discard(system_id)
                self.snapshots.forget(system_id)
            await self._pause(delay)
            delay = min(max(delay, 0.05) * 2, 30.0)
            # events missed while disconnected: poll the open orders
            with contextlib.suppress(Exception):
                await self.poll(system_id)

    async def _resolver_loop(self) -> None:
        last_poll = self.clock.monotonic()
        while self._running:
            await self._pause(self.config.resolve_interval)
            try:
                await self.resolve_pending()
                await self._catch_up_fills()
                if self.clock.monotonic() - last_poll >= self.config.poll_interval:
                    last_poll = self.clock.monotonic()
                    for system_id, connector in self.connectors.items():
                        if not connector.spec.capabilities.has(Capability.SUBSCRIBE_ORDER_UPDATES):
                            await self.poll(system_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("trading resolver round failed")

    async def _catch_up_fills(self) -> None:
        """One background round of :meth:`record_missing_fills` over the last day's orders.

        An order whose fills the venue does not report (yet) is asked about again only when its filled
        quantity moves, at most :data:`_FILL_LOOKUPS` times per quantity, so a venue's pacing budget is
        not spent round after round; reconciliation always asks.
        """
        since = self.clock.now() - timedelta(days=1)
        short: set[str] = set()
        for system_id in list(self.connectors):
            due = []
            for record in self.repo.unrecorded_fills(system_id, since=since):
                short.add(record.id)
                filled, tries = self._fill_lookups.get(record.id, (record.filled_quantity, 0))
                if filled != record.filled_quantity:
                    tries = 0
                if tries < _FILL_LOOKUPS:
                    self._fill_lookups[record.id] = (record.filled_quantity, tries + 1)
                    due.append(record)
            if not due:
                continue
            # a day before the oldest order bounds the venue's answer yet tolerates its clock's skew
            window = min(r.created_at for r in due) - timedelta(days=1)
            try:
                await self.record_missing_fills(system_id, since=window, orders=due)
            except Exception as exc:  # best effort: reconciliation records what is still missing
                log.warning("fills of %s not recorded yet: %s", system_id, exc)
        # forget orders whose fills are recorded (or that left the window)
        self._fill_lookups = {k: v for k, v in self._fill_lookups.items() if k in short}

    async def _pause(self, seconds: float) -> None:
        """Wait between background rounds. A fake clock that advances itself on every sleep would turn
        the background loops into busy loops, so with one they wait in real time instead (tests drive
        rounds with :meth:`resolve_pending` and :meth:`poll`)."""
        if getattr(self.clock, "auto_advance", False):
            await asyncio.sleep(seconds)
        else:
            await self.clock.sleep(seconds)
