"""What a service (or a third-party plugin) contributes to the shared parts, as small typed values.

The monitor, the exporter, the dashboard and the command line hold no service-specific code: each
asks the plugin manager for the contributions of one hook (see :mod:`portico.hookspecs`) and runs
what it gets. This module sits at the bottom of the layers with the models, errors and clock: it
imports no service, so every service (and the shared parts) can import it.

========================  =======================================  ==========================
hook                      contribution                             used by
========================  =======================================  ==========================
``portico_alert_rules``   :class:`AlertRules` (events -> alerts)   the monitor
``portico_health_probes`` :class:`HealthProbe`                     the monitor (every tick)
``portico_dashboard_panels`` :class:`DashboardPanel`               the dashboard server
``portico_export_types``  :class:`ExportType`                      the jobs exporter
``portico_cli_commands``  :class:`CliCommand`                      the ``portico`` command
``portico_record_types``  :class:`RecordTypeDef`                   the importer, exporter, DLQ
========================  =======================================  ==========================

A contribution that names its implementation as ``"module:attribute"`` (a :data:`Ref`) is imported the
first time it is used, so listing contributions (``portico --help``, building a monitor) imports no
service; a callable is used as it is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from portico.models import Account, OrderRequest, Position

if TYPE_CHECKING:
    from portico.store import Database

__all__ = [
    "PANEL_CELL_KINDS",
    "AlertContext",
    "AlertEvent",
    "AlertRuleHandler",
    "AlertRules",
    "BookCash",
    "BookPosition",
    "CliCommand",
    "DashboardPanel",
    "ExportType",
    "HealthProbe",
    "PanelColumn",
    "PositionBook",
    "RecordTypeDef",
    "Ref",
    "RiskCheck",
    "RiskContext",
    "RuleSettings",
    "resolve_ref",
    "running_service",
]

Ref = str
"""``"package.module:attribute"``: an implementation imported the first time it is used."""


def resolve_ref(ref: Any) -> Any:
    """The object a :data:`Ref` names, or ``ref`` itself when it is already an object.

    Raises:
        ValueError: when a string ref is not ``module:attribute``.
    """
    if not isinstance(ref, str):
        return ref
    module, sep, attribute = ref.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"a contribution reference must be 'module:attribute', got {ref!r}")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def running_service(runtime: Any, name: str) -> Any:
    """The runtime's service ``name`` when it already runs, else None (never built here).

    For a dashboard panel's ``read``: reading the dashboard must never build (or fail to build) a
    service as a side effect. A runtime-like object without a ``_services`` mapping has none running.
    """
    services = getattr(runtime, "_services", None)
    if isinstance(services, Mapping):
        return services.get(name)
    return None


# -- alert rules --------------------------------------------------------------------------------


class RuleSettings(Protocol):
    """One rule's settings as the monitor's configuration gives them (``monitoring.alerts.<rule>``)."""

    @property
    def enabled(self) -> bool:
        """Whether the rule runs."""
        ...

    @property
    def severity(self) -> str:
        """``warning``, ``critical`` or ``emergency``."""
        ...

    @property
    def threshold(self) -> float | None:
        """The rule's threshold (its meaning depends on the rule)."""
        ...

    @property
    def window(self) -> float | None:
        """Seconds of history the rule looks at, or its staleness limit."""
        ...

    @property
    def min_history(self) -> int:
        """How many earlier observations make a usual value."""
        ...


@dataclass(frozen=True)
class AlertEvent:
    """One event the monitor received, as an alert rule sees it.

    Attributes:
        name: the event name (``jobs.file_late``).
        system: the system it is about, or None.
        data: its fields (already logged and counted by the monitor).
        correlation_id: the correlation id it carried, or None.
    """

    name: str
    system: str | None
    data: Mapping[str, Any]
    correlation_id: str | None = None


class AlertContext(Protocol):
    """What the monitor offers an alert rule: its settings, its clock and the alert manager's verbs."""

    def rule(self, name: str) -> RuleSettings:
        """The settings of rule ``name`` (the configuration's, else the contribution's defaults)."""
        ...

    def now(self) -> datetime:
        """The monitor clock's wall time."""
        ...

    def monotonic(self) -> float:
        """The monitor clock's monotonic seconds (for ages that must not jump with the wall clock)."""
        ...

    def fire(
        self,
        rule: str,
        *,
        system: str | None,
        severity: str,
        summary: str,
        subject: str = "",
        details: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """Raise (or refresh) an alert raised by an event; it stays until resolved or expired."""
        ...

    def resolve(self, rule: str, *, system: str | None, subject: str = "") -> None:
        """Clear an alert; a no-op when it is not active."""
        ...

    def is_active(self, rule: str, system: str | None, subject: str = "") -> bool:
        """Whether an alert of ``rule`` for ``system``/``subject`` is active."""
        ...

    def hold(self, rule: str, system: str | None, summary: str, subject: str = "", **details: Any) -> None:
        """During :meth:`AlertRuleHandler.evaluate`: the level condition of ``rule`` holds now.

        A level alert that no rule holds on an evaluation is resolved (its condition is gone).
        """
        ...

    def record_run(
        self,
        *,
        job: str,
        system: str | None,
        ok: bool,
        duration: float | None = None,
        records_imported: int = 0,
        records_rejected: int = 0,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Count one finished run in the monitor's run metrics and its list of recent runs."""
        ...


class AlertRuleHandler(Protocol):
    """The live part of an :class:`AlertRules` contribution: one per monitor, holding the rules' state."""

    def on_event(self, event: AlertEvent) -> None:
        """Act on one event of the contribution's ``events`` (fire or resolve alerts)."""
        ...

    def evaluate(self) -> None:
        """Check the level conditions (``context.hold(...)``); called on every alert evaluation."""
        ...


@dataclass(frozen=True)
class AlertRules:
    """Alert rules one plugin contributes: which events they read and how they turn into alerts.

    Attributes:
        name: who contributes them (shown when a handler fails).
        events: the event names routed to the handler's ``on_event``.
        build: ``build(context) -> AlertRuleHandler``, called once per monitor (or a :data:`Ref` to it).
        level_rules: the rule names whose alerts ``evaluate`` holds while their condition lasts; an
            alert of these that is not held on an evaluation is resolved.
        defaults: each rule's default settings (``{"big_export": {"severity": "warning", "threshold":
            1000}}``); a ``monitoring.alerts.<rule>`` section overrides what it says and keeps the rest.
        rules: the names of the rules the handler fires, besides those of ``level_rules`` and
            ``defaults``; every name of :attr:`rule_names` may be configured under ``monitoring.alerts``.
    """

    name: str
    events: frozenset[str]
    build: Callable[[AlertContext], AlertRuleHandler] | Ref
    level_rules: tuple[str, ...] = ()
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rules: tuple[str, ...] = ()

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Every rule these contribute: ``rules``, ``level_rules`` and the names ``defaults`` sets."""
        return tuple(dict.fromkeys((*self.rules, *self.level_rules, *self.defaults)))


# -- health probes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthProbe:
    """A function the monitor runs before every health check, alert evaluation and snapshot.

    Attributes:
        name: the probe's name (shown when it fails).
        probe: ``probe(monitor)``: refreshes gauges or health verdicts from live objects (or a :data:`Ref`).
    """

    name: str
    probe: Callable[[Any], None] | Ref


# -- dashboard ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelColumn:
    """One column of a :class:`DashboardPanel`'s table.

    Attributes:
        field: the key of the row the cell shows (a missing or None value shows as an empty cell).
        title: the column's heading.
        kind: how the cell shows its value: ``text``; ``number`` (right-aligned); ``time`` (an ISO
            timestamp, shown in the reader's time zone); ``code`` (monospace, for records and cron
            expressions).
        css: classes of the cell besides its kind's (``state``, ``next-run``), for styling and tests.
    """

    field: str
    title: str
    kind: str = "text"
    css: str = ""


PANEL_CELL_KINDS = frozenset({"text", "number", "time", "code"})
"""The values :attr:`PanelColumn.kind` may take."""


@dataclass(frozen=True)
class DashboardPanel:
    """One table of the dashboard, filled from a running service.

    The page draws every panel the same way, from its layout: a table (``table_id``) with a heading per
    column, a row per row (class ``row_class``, plus ``<state prefix>-<value>`` and ``data-<name>``
    attributes when ``row_state`` and ``row_key`` say so), and ``empty`` when there is no row. A panel
    without ``columns`` shows a column per key of its first row.

    Attributes:
        key: the key of the dashboard state the rows go under (``orders``, ``schedule``...).
        title: the panel's heading.
        read: ``read(runtime) -> rows``: plain mappings, or None when the service is not running
            (reading the dashboard must never build a service). Runs in a worker thread; a read that
            raises shows as one error row. Or a :data:`Ref` to it.
        shape: ``shape(rows, state) -> rows``: turns rows (the panel's own, or those of a provider
            given to the server) into the columns the page shows; ``state`` holds the panels read so
            far. None keeps rows as they are.
        limit: at most this many rows are shown.
        order: panels are read (and shown) in increasing ``order`` (a panel's ``shape`` may use
            earlier ones).
        columns: the table's columns, in order; empty: a column per key of the first row.
        empty: the text of the table's only row when there is no row.
        table_id: the ``id`` of the table; default ``panel-<key>``.
        row_class: the class of every row.
        row_state: ``(prefix, field)``: each row also gets the class ``<prefix>-<row[field]>``
            (``("state", "status")`` gives ``state-filled``), or None.
        row_key: ``(name, field)``: each row gets the attribute ``data-<name>="<row[field]>"``, or None.
    """

    key: str
    title: str
    read: Callable[[Any], Iterable[Any] | None] | Ref
    shape: Callable[[list[Mapping[str, Any]], Mapping[str, Any]], list[dict[str, Any]]] | Ref | None = None
    limit: int = 50
    order: int = 100
    columns: tuple[PanelColumn, ...] = ()
    empty: str = "Nothing to show"
    table_id: str = ""
    row_class: str = "panel-row"
    row_state: tuple[str, str] | None = None
    row_key: tuple[str, str] | None = None

    def layout(self) -> dict[str, Any]:
        """What the page needs to draw the panel (its key, title and table layout), as plain values."""
        return {
            "key": self.key,
            "title": self.title,
            "table_id": self.table_id or f"panel-{self.key}",
            "columns": [
                {"field": c.field, "title": c.title, "kind": c.kind, "css": c.css} for c in self.columns
            ],
            "empty": self.empty,
            "row_class": self.row_class,
            "row_state": list(self.row_state) if self.row_state else None,
            "row_key": list(self.row_key) if self.row_key else None,
        }


# -- exports ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportType:
    """A table the exporter can export (``portico export <name>``, scheduled exports).

    Attributes:
        name: the export type's name.
        rows: ``rows(db) -> rows``: one mapping per row with typed values (Decimal, date, datetime),
            or a :data:`Ref` to it.
        columns: the columns, in order, of an export that has no rows (a header-only report), or a
            :data:`Ref` to a sequence of them.
        description: one line for listings.
    """

    name: str
    rows: Callable[[Database], Iterable[Mapping[str, Any]]] | Ref
    columns: Sequence[str] | Ref = ()
    description: str = ""


# -- record types -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordTypeDef:
    """A record type a plugin adds to the importer (``portico import --type <name>``, ``data_type``).

    Attributes:
        name: the ``data_type`` name used in config and on the command line; it may not be (or be an
            alias of) a built-in record type.
        model: the pydantic model every loaded record satisfies (fields annotated like the built-ins',
            e.g. ``Annotated[Decimal, Kind.DECIMAL]``, get the columnar fast path's checks), or a
            :data:`Ref` to it (imported when the jobs service starts).
        key: the fields that identify a record; two records with the same key in one file are duplicates.
        sums: decimal fields summed as control totals.
        aliases: other names accepted for ``data_type``.
    """

    name: str
    model: Any
    key: tuple[str, ...]
    sums: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


# -- command line -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliCommand:
    """A ``portico`` subcommand.

    Attributes:
        name: the subcommand (``portico <name>``).
        command: a click command or group, or a :data:`Ref` to one (imported only when it runs, so
            ``portico --help`` stays fast).
        help: the one line ``portico --help`` shows.
    """

    name: str
    command: Any
    help: str = ""


# -- what the trading service asks of plugins (pre-trade checks, the reference book) ---------------
# (here, below the hookspecs that name them, so a plugin and the hookspecs need not import trading)


@dataclass(frozen=True)
class RiskContext:
    """What a risk check may look at.

    Attributes:
        system: the system the order goes to.
        account_id: the account (the order's, or the connector's default account id).
        settings: this check's settings for the account (``default`` merged with the account's own).
        price: the estimated execution price (limit price, else the latest quote), when known.
        account: the account's balances, when the connector reports them.
        positions: the account's positions at the venue, when reported.
        instrument_id: the order instrument's internal id, when the cross-reference knows it.
    """

    system: str
    account_id: str | None
    settings: Mapping[str, Any]
    price: Decimal | None = None
    account: Account | None = None
    positions: Sequence[Position] = field(default_factory=tuple)
    instrument_id: str | None = None


@runtime_checkable
class RiskCheck(Protocol):
    """A pre-trade check. ``check`` returns the refusal reason, or None to let the order pass."""

    name: str

    def check(self, order: OrderRequest, context: RiskContext) -> str | None: ...


@dataclass(frozen=True)
class BookPosition:
    """A holding in the internal book, keyed by internal instrument id (never by ticker text)."""

    account_id: str
    instrument_id: str
    quantity: Decimal
    average_cost: Decimal | None = None
    currency: str = "USD"
    symbol: str | None = None
    """For reports only; matching uses ``instrument_id``."""


@dataclass(frozen=True)
class BookCash:
    """A cash balance in the internal book."""

    account_id: str
    currency: str
    amount: Decimal


@runtime_checkable
class PositionBook(Protocol):
    """Where the internal book comes from (a portfolio app's own book, through ``portico_position_book``)."""

    def positions(self, system: str, account_id: str | None = None) -> Iterable[BookPosition]:
        """Every position held at ``system`` (in ``account_id`` when given)."""
        ...

    def cash(self, system: str, account_id: str | None = None) -> Iterable[BookCash]:
        """Every cash balance held at ``system`` (in ``account_id`` when given)."""
        ...
