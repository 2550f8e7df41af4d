"""What the jobs service contributes to the shared parts, through the hooks a third-party plugin uses.

A built-in plugin (:data:`portico.plugins.DEFAULT_PLUGINS`): hookimpls only. Implementations are named
as ``module:attribute`` references, imported the first time they are used, so registering this
plugin (building a monitor, listing ``portico`` commands) imports none of the jobs machinery.
"""

from __future__ import annotations

from portico.contributions import AlertRules, CliCommand, DashboardPanel, PanelColumn
from portico.hookspecs import hookimpl
from portico.jobs._alert_rules import JOBS_ALERT_RULES

__all__ = [
    "portico_alert_rules",
    "portico_cli_commands",
    "portico_dashboard_panels",
]

_DASHBOARD = "portico.jobs._dashboard"


@hookimpl
def portico_alert_rules() -> list[AlertRules]:
    """``job_failed``, ``empty_file``, ``row_count_change`` and ``file_late``, from job and file events."""
    return [JOBS_ALERT_RULES]


@hookimpl
def portico_dashboard_panels() -> list[DashboardPanel]:
    """The schedule, the recent runs and the dead-letter queue."""
    return [
        DashboardPanel(
            key="schedule",
            title="Scheduled jobs",
            read=f"{_DASHBOARD}:scheduled_jobs",
            order=10,
            table_id="schedule",
            columns=(
                PanelColumn("job", "Job"),
                PanelColumn("kind", "Kind"),
                PanelColumn("system", "System"),
                PanelColumn("what", "What"),
                PanelColumn("schedule", "Schedule", kind="code"),
                PanelColumn("next_run", "Next run", kind="time", css="next-run"),
                PanelColumn("last_run", "Last run", kind="time"),
                PanelColumn("last_status", "Last result"),
            ),
            empty="No scheduled jobs",
            row_class="scheduled",
            row_key=("job", "job"),
        ),
        DashboardPanel(
            key="jobs",
            title="Recent jobs",
            read=f"{_DASHBOARD}:recent_runs",
            shape=f"{_DASHBOARD}:job_rows",
            limit=20,
            order=20,
            table_id="jobs",
            columns=(
                PanelColumn("at", "When", kind="time"),
                PanelColumn("job", "Job"),
                PanelColumn("system", "System"),
                PanelColumn("outcome", "Outcome"),
                PanelColumn("records_imported", "Imported"),
                PanelColumn("records_rejected", "Rejected"),
                PanelColumn("error", "Error"),
            ),
            empty="No job runs yet",
            row_class="job",
            row_state=("outcome", "outcome"),
        ),
        DashboardPanel(
            key="dead_letters",
            title="Dead letters",
            read=f"{_DASHBOARD}:dead_letters",
            shape=f"{_DASHBOARD}:dead_letter_rows",
            limit=50,
            order=30,
            table_id="dead-letters",
            columns=(
                PanelColumn("at", "When", kind="time"),
                PanelColumn("job", "Job"),
                PanelColumn("reason", "Reason"),
                PanelColumn("where", "Where"),
                PanelColumn("record", "Record", kind="code"),
            ),
            empty="Dead-letter queue empty",
            row_class="dead-letter",
        ),
    ]


@hookimpl
def portico_cli_commands() -> list[CliCommand]:
    """``portico import``, ``export``, ``jobs`` and ``dlq``."""
    return [
        CliCommand(
            "import",
            "portico.cli._import:command",
            "Import a file (validated, mapped, loaded; every record accounted for).",
        ),
        CliCommand(
            "export",
            "portico.cli._export:command",
            "Export positions, transactions, orders, summaries or market data.",
        ),
        CliCommand(
            "jobs", "portico.cli._jobs:command", "Scheduled imports and exports: list, run now, history."
        ),
        CliCommand(
            "dlq", "portico.cli._dlq:command", "Quarantined import records: list, show, replay, discard."
        ),
    ]
