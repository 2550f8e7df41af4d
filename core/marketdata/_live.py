"""The market data service's live subscriptions: native streams where the connector has one, paced
polling of any other type inside the system's throttle, and their start, restart and stop.

:class:`LiveSubscriptions` is that part of :class:`~portico.marketdata.MarketDataService`; the
subscription itself (queue, overflow, counters) is :class:`~portico.marketdata.Subscription`.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from portico.errors import ConfigurationError, NotFound, NotSupported, PorticoError
from portico.marketdata._requests import normalize_request
from portico.marketdata._subscriptions import Subscription
from portico.models import BarInterval

if TYPE_CHECKING:
    from portico.clock import Clock
    from portico.marketdata._config import MarketDataConfig
    from portico.marketdata._result import MarketDataResult
    from portico.sdk import Connector, RateLimitPolicy

__all__ = ["LiveSubscriptions"]

_SUBSCRIPTION_TYPES = {
    "quotes": "latest_quote",
    "quote": "latest_quote",
    "latest_quote": "latest_quote",
    "latest_quotes": "latest_quote",
    "trades": "latest_trade",
    "latest_trade": "latest_trade",
    "latest_trades": "latest_trade",
    "bars": "bars",
    "minute_bars": "bars",
}
_STREAM_METHODS = {
    "latest_quote": "subscribe_quotes",
    "latest_trade": "subscribe_trades",
    "bars": "subscribe_bars",
}


class LiveSubscriptions:
    """Streamed and polled subscriptions (a part of :class:`~portico.marketdata.MarketDataService`)."""

    if TYPE_CHECKING:
        clock: Clock
        config: MarketDataConfig
        counters: Counter[str]
        _subscriptions: dict[str, Subscription]
        _poll_cost: defaultdict[str, float]
        _ids: itertools.count[int]

        def _emit(
            self, event: str, *, system: str | None = None, severity: str = "info", **data: Any
        ) -> None: ...

        def _connector(self, system: str) -> Connector: ...

        def policy_for(self, system: str) -> RateLimitPolicy: ...

        async def get_market_data(
            self,
            system_id: str,
            symbols: list[str] | str,
            data_type: str = "bars",
            parameters: Mapping[str, Any] | None = None,
        ) -> MarketDataResult: ...

    # -- subscriptions -----------------------------------------------------------------------------

    async def subscribe_market_data(
        self,
        system_id: str,
        symbols: list[str] | str,
        data_type: str,
        callback: Callable[[Any], Any],
        *,
        overflow: str | None = None,
        queue_size: int | None = None,
        poll_interval: float | None = None,
        **parameters: Any,
    ) -> str:
        """Deliver live ``data_type`` (``quotes``, ``trades``, ``bars``, or any polled type) to ``callback``.

        A connector that streams the type natively is read through its stream; any other is polled, paced
        so every polling subscription on the system together uses at most ``poll_budget_share`` of its
        throttle. Items reach ``callback`` through a bounded queue (``overflow``: ``drop_oldest`` or
        ``block``), so a slow callback never blocks the feed.

        Returns:
            The subscription id for :meth:`unsubscribe_market_data`.
        """
        name = _SUBSCRIPTION_TYPES.get(data_type.strip().lower(), data_type)
        if name == "bars":
            parameters.setdefault("interval", BarInterval.MIN_1)
        request = normalize_request(name, parameters)
        cfg = self.config.subscriptions
        policy = overflow or cfg.overflow
        if policy not in ("drop_oldest", "block"):
            raise ConfigurationError(
                f"overflow must be 'drop_oldest' or 'block', got {policy!r}", path="overflow"
            )
        wanted = [symbols] if isinstance(symbols, str) else list(symbols)
        wanted = list(dict.fromkeys(s.strip().upper() for s in wanted if s.strip()))
        if not wanted:
            raise ConfigurationError("give at least one symbol", path="symbols")
        connector = self._connector(system_id)
        kind = request.kind
        native = kind.stream is not None and kind.stream in connector.spec.streams
        if not native and not connector.spec.capabilities.has(kind.capability):
            raise NotSupported(capability=kind.capability.value, system=system_id)
        subscription_id = f"md-{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        subscription = Subscription(
            subscription_id,
            system=system_id,
            symbols=wanted,
            data_type=kind.name,
            mode="stream" if native else "poll",
            callback=callback,
            queue_size=queue_size or cfg.queue_size,
            overflow=policy,  # type: ignore[arg-type]
            # drops in the subscription's queue or the stream's: a warning to the monitor, at most once a second
            on_drops=lambda new, total: self._emit(
                "marketdata.dropped",
                system=system_id,
                severity="warning",
                subscription=subscription_id,
                dropped=new,
                total_dropped=total,
            ),
            monotonic=self.clock.monotonic,
        )
        self._subscriptions[subscription.id] = subscription
        if native:
            subscription.start(lambda sub: self._stream(sub, connector))
        else:
            calls = (
                math.ceil(len(wanted) / max(1, connector.spec.capabilities.max_symbols_per_request))
                if kind.batched
                else len(wanted)
            )
            subscription.poll_cost = float(calls)
            self._poll_cost[system_id] += subscription.poll_cost
            explicit = poll_interval or cfg.poll_interval
            params = dict(parameters)
            if kind.name == "bars":
                params.setdefault("limit", 2)
            subscription.start(lambda sub: self._poll(sub, request.kind.name, params, explicit))
        self.counters["subscriptions"] += 1
        self._emit("marketdata.subscribed", system=system_id, subscription=subscription.id, mode=subscription.mode,
                   data_type=kind.name, symbols=wanted)  # fmt: skip
        return subscription.id

    async def _stream(self, sub: Subscription, connector: Connector) -> None:
        method = getattr(connector, _STREAM_METHODS[sub.data_type])
        failures = 0
        while not sub.closed:
            iterator = method(list(sub.symbols))
            sub.attach_iterator(iterator)
            error: str = "the stream ended"
            received = sub.stats.received
            try:
                batches = getattr(iterator, "batches", None)
                if batches is not None:
                    # a StreamFeed hands over a frame's items at once
                    put_many = sub.put_many
                    async for batch in batches():
                        await put_many(batch)
                else:
                    put = sub.put
                    async for item in iterator:
                        await put(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = str(exc)
            # connectors reconnect by themselves; a stream that still ends or fails is restarted with backoff
            failures = 1 if sub.stats.received > received else failures + 1
            sub.stats.stream_restarts += 1
            self._emit("marketdata.stream_error", system=sub.system, severity="warning", subscription=sub.id,
                       error=error, restarts=sub.stats.stream_restarts)  # fmt: skip
            await self.clock.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))

    def poll_interval(self, system: str, explicit: float | None = None) -> float:
        """Seconds between polls on ``system`` so its polling subscriptions stay inside their budget share."""
        cfg = self.config.subscriptions
        policy = self.policy_for(system)
        total = self._poll_cost.get(system, 0.0)
        derived = max(
            (total * w.period / (w.limit * cfg.poll_budget_share) for w in policy.windows), default=0.0
        )
        return max(cfg.min_poll_interval, explicit or 0.0, derived)

    async def _poll(
        self, sub: Subscription, data_type: str, params: dict[str, Any], explicit: float | None
    ) -> None:
        seen: dict[str, dict[Any, Any]] = defaultdict(dict)
        while not sub.closed:
            delay = self.poll_interval(sub.system, explicit)
            sub.poll_interval = delay
            try:
                result = await self.get_market_data(
                    sub.system, sub.symbols, data_type, {**params, "cache": False}
                )
            except PorticoError as exc:
                sub.stats.poll_errors += 1
                self._emit("marketdata.poll_error", system=sub.system, severity="warning", subscription=sub.id,
                           error=exc.message)  # fmt: skip
                retry_after = getattr(exc, "retry_after", None)
                if retry_after:
                    delay = max(delay, min(float(retry_after), 3600.0))
            else:
                sub.stats.polls += 1
                for symbol, value in result.data.items():
                    for item in value if isinstance(value, list) else [value]:
                        # a bar is identified by its period; a quote or trade by its content, not by the
                        # time the provider stamped on an unchanged answer
                        if data_type == "bars":
                            marker, content = item.timestamp, item
                        else:
                            marker, content = None, item.model_dump(exclude={"timestamp"})
                        if seen[symbol].get(marker) == content:
                            continue  # unchanged since the last poll
                        seen[symbol][marker] = content
                        await sub.put(item)
                    if len(seen[symbol]) > 64:
                        for old in list(seen[symbol])[:-16]:
                            del seen[symbol][old]
            await self.clock.sleep(delay)

    async def unsubscribe_market_data(
        self, subscription_id: str, system_id: str | None = None
    ) -> dict[str, Any]:
        """Stop a subscription, release its share of the polling budget, and return its final counters."""
        if system_id is not None and subscription_id not in self._subscriptions:
            # the plan's facade passes (system_id, subscription_id)
            system_id, subscription_id = subscription_id, system_id
        sub = self._subscriptions.pop(subscription_id, None)
        if sub is None:
            raise NotFound(f"no market data subscription {subscription_id!r}")
        if sub.poll_cost:
            self._poll_cost[sub.system] = max(0.0, self._poll_cost[sub.system] - sub.poll_cost)
        await sub.stop()
        summary = sub.describe()
        self._emit("marketdata.unsubscribed", system=sub.system, subscription=sub.id, delivered=sub.stats.delivered,
                   dropped=sub.stats.dropped)  # fmt: skip
        return summary

    def subscription(self, subscription_id: str) -> Subscription:
        """A live subscription by id."""
        try:
            return self._subscriptions[subscription_id]
        except KeyError:
            raise NotFound(f"no market data subscription {subscription_id!r}") from None

    def subscriptions(self) -> list[dict[str, Any]]:
        """Every live subscription, described."""
        return [sub.describe() for sub in self._subscriptions.values()]
