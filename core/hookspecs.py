# mypy: disable-error-code="empty-body"
# (hook specifications are declarations: pluggy never calls their docstring-only bodies)
"""Every hook a portico plugin can implement.

A plugin is a module (or object) registered under the entry-point group ``portico.plugins`` whose
functions are marked with :data:`hookimpl`. Built-in connectors are plugins loaded the same way.

Collecting hooks (``portico_connectors``, ``portico_mock_apps``, ...) are called on every plugin and
their results concatenated; none is ``firstresult``, because several plugins may each contribute,
except ``portico_position_book``: there is one reference book.

The contribution hooks (``portico_alert_rules``, ``portico_health_probes``, ``portico_dashboard_panels``,
``portico_export_types``, ``portico_cli_commands``, ``portico_record_types``) are how a service
adds what the shared parts show or run; their values are the dataclasses of
:mod:`portico.contributions`. Ask for them through :meth:`portico.plugins.PluginManager.contributions`,
which also consults the built-in service plugins (:data:`portico.plugins.DEFAULT_PLUGINS`). None is
``historic``: each shared part asks once, when it is built, after plugins are registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from portico.contributions import (
        AlertRules,
        CliCommand,
        DashboardPanel,
        ExportType,
        HealthProbe,
        PositionBook,
        RecordTypeDef,
        RiskCheck,
    )
    from portico.sdk import Connector, ConnectorRef

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "portico"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def portico_connectors() -> list[type[Connector] | ConnectorRef]:
    """Connector classes this plugin provides.

    Called once when the plugin manager loads plugins. Each class carries its manifest as the class
    attribute ``spec``; the runtime validates it and reports a plugin whose spec is invalid by name
    without loading its connectors.

    Prefer listing each connector as a :class:`~portico.sdk.ConnectorRef` (its manifest and
    ``"module:Class"``): listing plugins then imports only the manifest, and the class is imported and
    checked the first time it is used.

    Returns:
        A list of :class:`~portico.sdk.Connector` subclasses or :class:`~portico.sdk.ConnectorRef`.
    """


@hookspec
def portico_mock_apps() -> list[Any]:
    """Mock servers this plugin provides, beyond those declared in its connectors' ``spec.mock``.

    Used for mocks that belong to no single connector (the mock OAuth server, for instance).

    Returns:
        A list of :class:`portico.mocks.MockServer` descriptions.
    """


@hookspec
def portico_alert_channels() -> list[type[Any]]:
    """Alert channel classes this plugin provides (email, Slack, webhook, a pager service...).

    Called when an :class:`~portico.monitor.IntegrationMonitor` is built. Each class has a class
    attribute ``type`` (the ``type:`` used under ``monitoring.channels``), a classmethod
    ``from_config(name, options, *, redactor)`` and ``async send(notification)`` that raises on failure
    (see :class:`portico.monitor.AlertChannel`). A later plugin's class replaces an earlier one of the
    same ``type``.

    Returns:
        A list of channel classes.
    """


@hookspec
def portico_auth_schemes() -> dict[str, Any]:
    """Authentication schemes this plugin provides, beyond the built-in ones.

    Called once per :class:`~portico.auth.AuthenticationManager`, the first time it lists or builds
    schemes. Names must not clash with built-in schemes (``api_key``, ``oauth2_client_credentials``...);
    a clash is a configuration error.

    Returns:
        A mapping of scheme name to factory ``factory(ctx: AuthContext, credentials, options) -> httpx.Auth``
        (see :data:`portico.auth.SchemeFactory`).
    """


@hookspec
def portico_formats() -> list[Any]:
    """File formats this plugin provides for imports and exports (a vendor's file layout, say).

    Called when the jobs service starts. Each item implements :class:`portico.jobs.Format`: a ``name``
    used in config and on the command line, the file ``extensions`` that select it, ``read`` (stream
    records in chunks) and ``write``. A format named like a built-in replaces the built-in.

    Returns:
        A list of format objects.
    """


@hookspec
def portico_sinks() -> list[Any]:
    """Load destinations this plugin provides for imports (beyond the store, file://, http(s):// ...).

    Called when the jobs service starts. Each item implements :class:`portico.jobs.Sink`: ``matches(destination)``
    and ``open(ctx)`` returning a session with ``back_out``, ``write``, ``loaded_count``, ``commit``, ``abort``.
    Plugin sinks are consulted before the built-ins.

    Returns:
        A list of sink objects.
    """


@hookspec
def portico_record_validators() -> list[Any]:
    """Reference checks applied to mapped, valid records before they are loaded.

    Called when the jobs service starts. Each item has ``data_types`` (record type names it checks, or
    empty for all) and ``validate(data_type, records) -> Mapping[int, str]``, where ``records`` are
    dicts of stored values (decimals as exact text, dates as ISO text) and the result maps the index
    of each failing record to the reason. A failing record is quarantined (replayable once the
    reference data is fixed), never loaded.

    Returns:
        A list of validator objects.
    """


@hookspec
def portico_risk_checks() -> list[RiskCheck]:
    """Pre-trade risk checks this plugin provides to the trading service.

    Called once when the trading service is built; results of every plugin are concatenated, and a
    check with the same ``name`` as a built-in replaces it. A check only runs for accounts whose
    ``trading.risk`` configuration gives it settings.

    Returns:
        A list of :class:`portico.trading.RiskCheck` objects (``name`` and
        ``check(order, context) -> str | None``, returning the refusal reason).
    """


@hookspec
def portico_risk_limits(system: str, account_id: str | None) -> Mapping[str, Mapping[str, Any] | None] | None:
    """Risk limits of one account from an external limits system, asked before each order is checked.

    Called for every order of an account while any plugin implements it. Each result maps a risk
    check's name to its settings, laid over the ``trading.risk`` configuration's (``None`` switches the
    check off for the account); results of several plugins apply in turn.

    Args:
        system: the system the order goes to.
        account_id: the order's account (the connector's default account when the order names none).

    Returns:
        Check name -> settings (for example ``{"max_var": {"limit": 25000}}``), or None for no change.
    """


@hookspec(firstresult=True)
def portico_position_book() -> PositionBook | None:
    """The internal position book that reconciliation compares with each broker.

    ``firstresult``: one book is the reference, so the first plugin returning one wins (a portfolio
    app registers its own). When no plugin returns one, reconciliation uses the embedded store's
    book, which the trading service keeps from the executions it records.

    Returns:
        A :class:`portico.trading.PositionBook` (``positions(system, account_id)`` and
        ``cash(system, account_id)``), or None to leave the choice to other plugins.
    """


# -- contributions to the shared parts ------------------------------------------------------------


@hookspec
def portico_alert_rules() -> list[AlertRules]:
    """Alert rules this plugin adds to the monitor: which events they read and the alerts they raise.

    Called once when an :class:`~portico.monitor.IntegrationMonitor` is built; every plugin's rules
    are used. Each :class:`~portico.contributions.AlertRules` names the events it handles and a
    ``build(context)`` returning its handler, which the monitor then calls with each such event
    (``on_event``) and on every alert evaluation (``evaluate``, for level rules). A handler that
    raises is logged and skipped; the monitor keeps going.

    Returns:
        A list of :class:`portico.contributions.AlertRules`.
    """


@hookspec
def portico_health_probes() -> list[HealthProbe]:
    """Probes this plugin adds to the monitor, run before every health check, evaluation and snapshot.

    Called once when an :class:`~portico.monitor.IntegrationMonitor` is built. A probe reads live
    objects into the monitor (gauges, health verdicts); one that raises is logged and skipped.

    Returns:
        A list of :class:`portico.contributions.HealthProbe`.
    """


@hookspec
def portico_dashboard_panels() -> list[DashboardPanel]:
    """Tables this plugin adds to the dashboard (``/dashboard``), each read from a running service.

    Called once when a :class:`~portico.monitor.RuntimeServer` is built. The page draws every panel
    from the layout it carries (its columns, empty text, row classes); a later panel with the same
    ``key`` replaces an earlier one.

    Returns:
        A list of :class:`portico.contributions.DashboardPanel`.
    """


@hookspec
def portico_export_types() -> list[ExportType]:
    """Tables this plugin makes exportable (``portico export <type>``, scheduled exports).

    Called once when the exporter is built. A name that clashes with an export type of the exporter
    itself (the imported record types, ``market_data``, ``portfolio_summary``) or of another plugin is
    refused with a configuration error naming both.

    Returns:
        A list of :class:`portico.contributions.ExportType`.
    """


@hookspec
def portico_cli_commands() -> list[CliCommand]:
    """Subcommands this plugin adds to the ``portico`` command.

    Called when ``portico`` lists its commands (``--help``) or is given a name that is not one of its
    own. A plugin command never replaces a built-in command of the same name.

    Returns:
        A list of :class:`portico.contributions.CliCommand`.
    """


@hookspec
def portico_record_types() -> list[RecordTypeDef]:
    """Record types this plugin adds to the importer (``portico import --type <name>``, ``data_type``).

    Called when the jobs service starts and when a configuration is checked. Each type joins the
    built-in ones (positions, transactions, prices...) in the registry of that jobs service (its
    importer, exporter, dead-letter queue) and of the ``data_type`` checks; its records load into their
    own table of the store. Another service of the process with other plugins does not see it. A type
    (or alias) named like a built-in type, or contributed twice with different definitions to one
    service, is refused with a configuration error.

    Returns:
        A list of :class:`portico.contributions.RecordTypeDef`.
    """
