"""Post-trade limit measurement: an account's configured limits measured on its risk report, one
row per limit (and per issuer, sector or currency group), each saying whether it is breached."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from portico.analytics._data import AccountKey
from portico.analytics._reports import RiskReport

__all__ = ["measure_limits"]

ZERO = Decimal(0)


def measure_limits(
    key: AccountKey, report: RiskReport, settings: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    equity = report.net_exposure + report.cash
    measured: list[tuple[str, str, Decimal | None, Decimal]] = []
    if "max_gross_exposure" in settings:
        measured.append(
            (
                "max_gross_exposure",
                "gross exposure",
                report.gross_exposure,
                Decimal(str(settings["max_gross_exposure"]["limit"])),
            )
        )
    if "max_net_exposure" in settings:
        measured.append(
            (
                "max_net_exposure",
                "net exposure",
                abs(report.net_exposure),
                Decimal(str(settings["max_net_exposure"]["limit"])),
            )
        )
    for name, groups_key in (
        ("max_issuer_concentration", "issuers"),
        ("max_sector_concentration", "sectors"),
    ):
        if name in settings:
            groups = {str(k).upper(): str(v) for k, v in (settings[name].get(groups_key) or {}).items()}
            totals: dict[str, Decimal] = defaultdict(Decimal)
            for symbol, value in report.positions.items():
                totals[groups.get(symbol.upper(), symbol.upper())] += abs(value)
            limit = Decimal(str(settings[name]["max_fraction"]))
            for group, total in sorted(totals.items()):
                fraction = (total / equity).quantize(Decimal("0.0001")) if equity > 0 else None
                measured.append((name, f"{groups_key[:-1]} {group} fraction of equity", fraction, limit))
    if "max_currency_exposure" in settings:
        for currency, limit in sorted((settings["max_currency_exposure"].get("limits") or {}).items()):
            exposure = report.currency_exposure.get(str(currency).upper(), ZERO)
            measured.append(
                ("max_currency_exposure", f"{currency} exposure", abs(exposure), Decimal(str(limit)))
            )
    if "max_var" in settings:
        method = str(settings["max_var"].get("method", "historical"))
        figures = report.historical if method == "historical" else report.parametric
        var_value = Decimal(f"{figures.var:.2f}") if figures else None
        measured.append(("max_var", f"{method} VaR", var_value, Decimal(str(settings["max_var"]["limit"]))))
    return [
        {
            "system": key.system,
            "account": key.account_id,
            "as_of": report.as_of,
            "limit": name,
            "measure": what,
            "value": value,
            "threshold": threshold,
            # a figure that cannot be measured is a breach: the limit cannot be shown to hold
            "breached": value is None or value > threshold,
        }
        for name, what, value, threshold in measured
    ]
