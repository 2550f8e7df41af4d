"""The service-owned sections of the configuration, and the model that validates each."""

from __future__ import annotations

import importlib

from pydantic import BaseModel

__all__ = ["SECTION_MODELS", "section_model"]

SECTION_MODELS: dict[str, str] = {
    "data_import": "portico.jobs:DataImportConfig",
    "data_export": "portico.jobs:DataExportConfig",
    "monitoring": "portico.monitor:MonitoringConfig",
    "market_data": "portico.marketdata:MarketDataConfig",
    "trading": "portico.trading:TradingConfig",
    "gateway": "portico.gateway:GatewayConfig",
}
"""The model that validates each service-owned section, as ``module:Class``; skipped when not importable."""


def section_model(section: str) -> type[BaseModel] | None:
    """The model of a service-owned section, or None when its service is not importable."""
    target = SECTION_MODELS.get(section)
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    model = getattr(module, attr, None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None
