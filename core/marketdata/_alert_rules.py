"""The market data service's alert semantics: what its freshness and quality events mean for the
monitor's alerts.

Contributed to the monitor through ``portico_alert_rules`` by :mod:`portico.marketdata.contributions`;
the monitor itself knows nothing of market data. Events handled (the service emits them for every
symbol it answers fresh, see ``MarketDataService._count_quality``):

- ``market_data.update`` (``symbol=``): fresh data for a symbol; the level rule ``market_data_stale``
  holds while a symbol seen once has had no update for ``window`` seconds (900);
- ``market_data.quality_failed`` (``symbol=``, ``reason=``, ``checks=``): ``market_data_quality`` fires
  for the symbol; ``market_data.quality_ok`` (``symbol=``) clears it.
"""

from __future__ import annotations

from portico.contributions import AlertContext, AlertEvent, AlertRules

__all__ = ["MARKET_DATA_ALERT_RULES", "MARKET_DATA_EVENTS", "MarketDataAlertRules"]

MARKET_DATA_EVENTS = frozenset({"market_data.update", "market_data.quality_failed", "market_data.quality_ok"})
"""Every event the market data alert rules read."""


class MarketDataAlertRules:
    """The market data rules for one monitor: ``market_data_stale`` and ``market_data_quality``.

    Args:
        context: the monitor's side (settings, clock, alert verbs).
    """

    def __init__(self, context: AlertContext) -> None:
        self.context = context
        # (system, symbol) -> the monitor clock's monotonic time of the last update
        self._last_update: dict[tuple[str, str], float] = {}

    def on_event(self, event: AlertEvent) -> None:
        """Record an update, or fire / clear the symbol's quality alert."""
        data = event.data
        if event.name == "market_data.update":
            self._last_update[(event.system or "runtime", str(data.get("symbol", "*")))] = (
                self.context.monotonic()
            )
        elif event.name == "market_data.quality_failed":
            rule = self.context.rule("market_data_quality")
            if rule.enabled:
                symbol = str(data.get("symbol", "*"))
                self.context.fire(
                    "market_data_quality",
                    system=event.system,
                    subject=symbol,
                    severity=rule.severity,
                    summary=f"market data for {symbol} failed quality checks: {data.get('reason', 'unspecified')}",
                    details={k: v for k, v in data.items() if k != "symbol"},
                    correlation_id=event.correlation_id,
                )
        elif event.name == "market_data.quality_ok":
            self.context.resolve(
                "market_data_quality", system=event.system, subject=str(data.get("symbol", "*"))
            )

    def evaluate(self) -> None:
        """Hold ``market_data_stale`` for every symbol whose last update is older than the rule's window."""
        now = self.context.monotonic()
        stale_limit = self.context.rule("market_data_stale").window or 900.0
        for (system, symbol), last in self._last_update.items():
            if now - last > stale_limit:
                self.context.hold(
                    "market_data_stale",
                    system,
                    f"market data for {symbol} stale ({now - last:.0f}s old, limit {stale_limit:g}s)",
                    subject=symbol,
                )


MARKET_DATA_ALERT_RULES = AlertRules(
    name="portico.marketdata",
    events=MARKET_DATA_EVENTS,
    build=MarketDataAlertRules,
    level_rules=("market_data_stale",),
    rules=("market_data_quality", "market_data_stale"),
    defaults={
        "market_data_stale": {"severity": "warning", "window": 900},
        "market_data_quality": {"severity": "warning"},
    },
)
"""The market data service's contribution to the monitor's alert rules."""
