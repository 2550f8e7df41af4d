"""What the market data service contributes to the shared parts, through the hooks a third-party plugin
uses: its alert rules.

A built-in plugin (:data:`portico.plugins.DEFAULT_PLUGINS`): hookimpls only. Registering it imports
none of the market data service (only its alert rules, which import nothing but the contribution types).
"""

from __future__ import annotations

from portico.contributions import AlertRules
from portico.hookspecs import hookimpl
from portico.marketdata._alert_rules import MARKET_DATA_ALERT_RULES

__all__ = ["portico_alert_rules"]


@hookimpl
def portico_alert_rules() -> list[AlertRules]:
    """``market_data_stale`` and ``market_data_quality``, from the service's freshness and quality events."""
    return [MARKET_DATA_ALERT_RULES]
