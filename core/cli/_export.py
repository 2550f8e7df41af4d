"""``portico export --type T --format F --destination URL``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import click

__all__ = ["command"]


async def _export_in_runtime(config_file: str, data_type: str, destination: str, options: Mapping[str, Any]) -> Any:
    """Export through the config's runtime, closing it after: a portfolio summary connects the
    brokers to ask for their positions, and those connections (and mocks) must not outlive the command."""
    from portico.runtime import AsyncIntegration  # lazy: cold start

    integration = AsyncIntegration.from_config(config_file)
    try:
        return await integration.export_data(data_type, destination, options)
    finally:
        await integration.stop()


@click.command("export")
@click.option("--type", "data_type", required=True, help="positions, transactions, orders, portfolio_summary, reconciliation_breaks, market_data, corporate_actions, news, fundamentals, cash_movements, time_series, ...")
@click.option("--format", "fmt", default=None, help="csv, psv, json, jsonl, xml, xlsx, parquet, pdf; fixed_width with a layout in data_export.formats (default: from the destination's extension).")
@click.option("--destination", required=True, help="file://path (inside the allowed export roots), https://..., or mailto:someone@example.com")
@click.option("--columns", default=None, help="Comma-separated columns; old:new renames.")
@click.option("--filter", "filters", multiple=True, help="field=value (repeatable).")
@click.option("--report", is_flag=True, help="Formatted XLSX (header style, frozen header, number formats).")
@click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False), help="Configuration file.")
def command(data_type: str, fmt: str | None, destination: str, columns: str | None, filters: tuple[str, ...], report: bool, config_file: str | None) -> None:
    """Export a data type to a destination (written atomically).

    A ``file://`` destination must lie inside the allowed export roots (``data_export.allowed_roots``;
    default ``PORTICO_HOME/exports`` and the working directory).
    """
    from portico.cli._services import jobs_service  # lazy: cold start

    options: dict[str, object] = {}
    if fmt:
        options["format"] = fmt
    if columns:
        parts = [c.strip() for c in columns.split(",") if c.strip()]
        options["columns"] = {p.split(":", 1)[0]: p.split(":", 1)[-1] for p in parts} if any(":" in p for p in parts) else parts
    if filters:
        parsed = {}
        for f in filters:
            if "=" not in f:
                raise click.BadParameter(f"expected field=value, got {f!r}", param_hint="--filter")
            k, v = f.split("=", 1)
            parsed[k.strip()] = v.strip()
        options["filters"] = parsed
    if report:
        options["report"] = True
    if config_file:
        result = asyncio.run(_export_in_runtime(config_file, data_type, destination, options))
    else:
        from portico.analytics import AnalyticsService  # lazy: cold start
        from portico.clock import system_clock  # lazy: cold start
        from portico.store import Database  # lazy: cold start

        db = Database()
        analytics = AnalyticsService(db=db, clock=system_clock)
        service = jobs_service(None, db=db, sources=analytics.export_sources())
        result = service.exporter.export(data_type, destination, options)
    where = result.path or result.destination
    click.echo(f"exported {result.rows} {data_type} rows as {result.format} to {where} ({result.bytes} bytes, sha256 {result.sha256[:12]})")
