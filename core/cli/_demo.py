"""``portico demo``: the end-to-end demo on embedded defaults (mocks, SQLite, no accounts).

It loads ``examples/config/portico.yaml`` (every system with ``mock: true``), lets the runtime start
each connector's mock, checks every system, places and tracks paper orders to fill, and prints
positions, account and market data.

The demo places market orders, so it runs on mocks only: a configuration with any enabled system that
is not ``mock: true`` is refused in one line, before anything is connected.
"""

from __future__ import annotations

import asyncio
import atexit
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from portico.cli._table import Column, print_table

__all__ = ["command"]

DEFAULT_CONFIG = Path("examples/config/portico.yaml")


def _find_config(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    for candidate in (DEFAULT_CONFIG, Path(__file__).resolve().parents[2] / DEFAULT_CONFIG):
        if candidate.exists():
            return candidate
    raise click.ClickException(
        f"no --config given and {DEFAULT_CONFIG} not found; run from the portico checkout"
    )


@click.command("demo")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Configuration file (default: the example).",
)
@click.option(
    "--keep-running", is_flag=True, help="Keep the runtime (health checks, schedules, dashboard) running."
)
@click.option(
    "--http-port", type=int, default=8765, show_default=True, help="Dashboard port with --keep-running."
)
def command(config_file: str | None, keep_running: bool, http_port: int) -> None:
    """Run the end-to-end demo against mock servers: no accounts, nothing to install."""
    sys.exit(asyncio.run(_demo(_find_config(config_file), keep_running, http_port)))


async def _demo(config_path: Path, keep_running: bool, http_port: int) -> int:
    from rich.console import Console

    from portico.errors import ConfigurationError, PorticoError  # lazy: cold start
    from portico.runtime import AsyncIntegration  # lazy: cold start

    started = time.perf_counter()
    integration = AsyncIntegration.from_config(config_path)
    if integration.config.database_url is None:
        # every run starts fresh mock venues, so it gets a fresh store too: intents a previous run left
        # open are unknown to the new mocks and would only hold this run's orders up
        scratch = tempfile.TemporaryDirectory(prefix="portico-demo-")
        atexit.register(scratch.cleanup)
        integration = AsyncIntegration.from_config(
            config_path, database_url=f"sqlite:///{Path(scratch.name) / 'demo.db'}"
        )
    real = [sid for sid, system in integration.config.systems.items() if system.enabled and not system.mock]
    if real:
        many = len(real) > 1
        raise ConfigurationError(
            f"portico demo runs on mock servers only; system{'s' if many else ''} "
            f"{', '.join(repr(sid) for sid in real)} {'are' if many else 'is'} not a mock "
            f"(set mock: true on {'them' if many else 'it'}, or use portico run for real systems)"
        )
    console = Console()
    console.rule("[bold]portico demo")
    log_path = _log_to_file()
    console.print(f"structured logs (JSON lines, secrets redacted): {log_path}")
    pm = integration.plugins
    console.print(
        f"plugins loaded: {', '.join(sorted(pm.plugins)) or 'none'}"
        + (f"  [red](failed: {', '.join(sorted(pm.failures))})[/red]" if pm.failures else "")
    )
    retired = sorted(name for name, spec in pm.specs.items() if spec.retired is not None)
    if retired:  # installed so a config naming them is refused with the way out; nothing to demonstrate
        console.print(f"retired connectors (refused in a config): {', '.join(retired)}")
    failures = 0
    try:
        await integration.start(require_connected=False)  # the table shows each failed system and why
        rows: list[list[str]] = []
        styles: list[str | None] = []
        for system_id in integration.systems:
            status = await integration.get_external_system_status(system_id)
            check, ok = "-", False
            if status.state == "connected":
                try:
                    result = await integration.systems[system_id].connector.check()  # type: ignore[union-attr]
                    ok = result.ok
                    check = f"ok {result.latency_ms:.0f} ms" if result.ok else str(result.detail)
                except PorticoError as exc:
                    check = str(exc)
            failures += 0 if ok else 1
            state = status.state if status.state == "connected" else f"{status.state}: {status.last_error}"
            urls = " ".join(f"{k}: {v}" for k, v in status.urls.items())
            rows.append([system_id, status.connector, state, check, urls])
            styles.append(None if ok else "red")
        columns = [
            Column("system"),
            Column("connector", wide_only=True),
            Column("state", truncate=True),
            Column("check", truncate=True),
            Column("urls", wide_only=True),
        ]
        print_table(columns, rows, title="systems (each served by its mock)", styles=styles, console=console)

        for system_id, system in integration.systems.items():
            if system.connector is None:
                continue
            caps = system.spec.capabilities
            if caps.has("place_order"):
                failures += await _trade(console, integration, system_id)
            elif caps.has("get_bars"):
                failures += await _prices(console, integration, system_id)

        if keep_running:
            await _serve(console, integration, http_port)
    finally:
        await integration.stop()
    elapsed = time.perf_counter() - started
    if failures:
        console.print(f"[red]demo finished with {failures} failure(s) in {elapsed:.1f}s[/red]")
        return 1
    console.print(f"[green]demo finished in {elapsed:.1f}s[/green]")
    return 0


def _log_to_file() -> Path:
    """Send the runtime's JSON logs to a file under PORTICO_HOME, so the terminal shows the tables."""
    from portico.home import portico_home, private_file  # lazy: cold start
    from portico.monitor import configure_logging  # lazy: cold start

    path = private_file(portico_home() / "logs" / "demo.log")
    configure_logging(json=True, level="INFO", stream=path.open("a", encoding="utf-8"))
    return path


async def _trade(console: Any, integration: Any, system_id: str) -> int:
    from portico.errors import PorticoError  # lazy: cold start
    from portico.models import OrderStatus  # lazy: cold start

    console.rule(f"[bold]{system_id}: paper trading on its mock")
    orders = [
        {"symbol": "AAPL", "side": "buy", "quantity": "10", "order_type": "market"},
        {"symbol": "MSFT", "side": "buy", "quantity": "5", "order_type": "market"},
        {"symbol": "AAPL", "side": "sell", "quantity": "4", "order_type": "market"},
    ]
    rows: list[list[str]] = []
    styles: list[str | None] = []
    failures = 0
    for i, details in enumerate(orders):
        try:
            key = f"demo-{system_id}-{int(time.time())}-{i}"
            order_id = await integration.place_external_order(system_id, details, idempotency_key=key)
            order = await integration.get_external_order_status(system_id, order_id)
            for _ in range(100):
                if order.status in {OrderStatus.FILLED, OrderStatus.REJECTED, OrderStatus.CANCELED}:
                    break
                await asyncio.sleep(0.05)
                order = await integration.get_external_order_status(system_id, order_id)
            filled = order.status is OrderStatus.FILLED
            failures += 0 if filled else 1
            rows.append(
                [
                    order_id,
                    order.symbol,
                    order.side.value,
                    f"{order.quantity}",
                    order.status.value,
                    f"{order.filled_quantity}",
                    f"{order.average_fill_price or '-'}",
                ]
            )
            styles.append(None if filled else "red")
        except PorticoError as exc:
            failures += 1
            rows.append(["-", details["symbol"], details["side"], details["quantity"], str(exc), "", ""])
            styles.append("red")
    order_columns = [
        Column("client order id", nowrap=True),
        Column("symbol"),
        Column("side"),
        Column("qty", justify="right"),
        Column("status", truncate=True),
        Column("filled", justify="right"),
        Column("avg price", justify="right"),
    ]
    print_table(order_columns, rows, title=f"{system_id} orders", styles=styles, console=console)
    try:
        positions = await integration.get_external_positions(system_id)
        position_columns = [
            Column("symbol"),
            *(Column(h, justify="right") for h in ("quantity", "avg cost", "market value", "unrealized P&L")),
        ]
        position_rows = [
            [
                p.symbol,
                f"{p.quantity}",
                f"{p.average_cost or '-'}",
                f"{p.market_value or '-'}",
                f"{p.unrealized_pnl or '-'}",
            ]
            for p in positions
        ]
        print_table(
            position_columns,
            position_rows,
            title=f"{system_id} positions",
            console=console,
            empty="no positions",
        )
        account = await integration.get_external_account(system_id)
        console.print(
            f"account {account.account_id}: cash {account.cash} {account.currency}, "
            f"buying power {account.buying_power}, equity {account.equity}"
        )
    except PorticoError as exc:
        console.print(f"[red]{system_id}: {exc}[/red]")
        failures += 1
    return failures


async def _prices(console: Any, integration: Any, system_id: str) -> int:
    from portico.errors import PorticoError  # lazy: cold start

    console.rule(f"[bold]{system_id}: market data")
    try:
        mock = type(integration.connectors[system_id]).spec.mock
        symbols = (
            list(mock.sample_symbols)
            if mock is not None and mock.sample_symbols
            else ["AAPL", "MSFT", "GOOGL"]
        )
        result = await integration.get_market_data(system_id, symbols, "bars", {"limit": 5})
    except PorticoError as exc:
        console.print(f"[red]{system_id}: {exc}[/red]")
        return 1
    data = getattr(result, "data", result)
    items = data.items() if isinstance(data, dict) else [("", data)]
    rows = [
        [
            symbol or bar.symbol,
            bar.timestamp.date().isoformat(),
            *(f"{Decimal(v):.2f}" for v in (bar.open, bar.high, bar.low, bar.close)),
            f"{bar.volume}",
        ]
        for symbol, bars in items
        for bar in list(bars)[-5:]
    ]
    columns = [
        Column("symbol"),
        Column("date"),
        *(Column(h, justify="right") for h in ("open", "high", "low", "close", "volume")),
    ]
    print_table(columns, rows, title=f"{system_id} daily bars (last 5)", console=console, empty="no bars")
    served_by = getattr(result, "served_by", None)
    if served_by:
        console.print(f"served by {served_by}")
    return 0


async def _serve(console: Any, integration: Any, http_port: int) -> None:
    try:
        from portico.monitor import RuntimeServer  # lazy: cold start
    except ImportError:
        console.print("runtime server unavailable; press Ctrl-C to stop")
        await asyncio.Event().wait()
        return
    # the monitor loop checks every system at once and then on its interval, so the dashboard shows
    # measured health, never "not checked yet" passed off as healthy
    await integration.monitor.start()
    server = RuntimeServer(integration.monitor, integration, host="127.0.0.1", port=http_port)
    await server.start()
    from portico.cli._token import dashboard_box

    # markup off: the URL is printed as it is, and whole on its own line, so it does not wrap at 80 columns
    console.print(
        dashboard_box(server.dashboard_url, ["Ctrl-C stops the demo."]),
        markup=False,
        highlight=False,
        crop=False,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
