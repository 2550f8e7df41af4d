"""A third-party plugin adds an export type and alert rules through the contribution hooks, end to end.

The plugin is a real distribution (a ``*.dist-info`` folder with its ``portico.plugins`` entry point and
its module, written to a temporary folder on ``sys.path``), loaded the way any installed plugin is. The
example is the one ``sdk-docs/guides/contributing.md`` walks through.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import ClassVar

import pytest

from portico.cli import main
from portico.clock import FakeClock
from portico.config import load_config
from portico.contributions import CliCommand, ExportType
from portico.errors import ConfigurationError
from portico.hookspecs import hookimpl
from portico.jobs import DataExporter, FormatRegistry
from portico.jobs import plugin as jobs_plugin
from portico.monitor import AlertNotification, IntegrationMonitor, Redactor
from portico.plugins import ENTRY_POINT_GROUP, PluginManager
from portico.store import Database

PLUGIN_SOURCE = '''
from portico.contributions import AlertRules, ExportType
from portico.hookspecs import hookimpl

WATCHLIST = [
    {"symbol": "AAPL", "note": "earnings on 30 January"},
    {"symbol": "MSFT", "note": "ex-dividend"},
]


class LimitRules:
    """A desk's limit system reports breaches (an event) and utilisation (a level)."""

    def __init__(self, context):
        self.context = context
        self.utilisation = {}

    def on_event(self, event):
        account = str(event.data["account"])
        if event.name == "acme.limit_breached":
            rule = self.context.rule("acme_limit_breached")
            self.context.fire(
                "acme_limit_breached",
                system=event.system,
                subject=account,
                severity=rule.severity,
                summary=f"account {account} is over its {event.data['limit']} limit",
                correlation_id=event.correlation_id,
            )
        elif event.name == "acme.utilisation":
            self.utilisation[account] = float(event.data["pct"])

    def evaluate(self):
        threshold = self.context.rule("acme_utilisation_high").threshold
        for account, pct in self.utilisation.items():
            if pct > threshold:
                self.context.hold("acme_utilisation_high", None, f"account {account} uses {pct:g}% of its limit", subject=account)


@hookimpl
def portico_export_types():
    return [ExportType(name="acme_watchlist", rows=lambda db: WATCHLIST, columns=("symbol", "note"))]


@hookimpl
def portico_alert_rules():
    return [
        AlertRules(
            name="acme_limits",
            events=frozenset({"acme.limit_breached", "acme.utilisation"}),
            build=LimitRules,
            level_rules=("acme_utilisation_high",),
            defaults={
                "acme_limit_breached": {"severity": "critical"},
                "acme_utilisation_high": {"severity": "warning", "threshold": 90},
            },
        )
    ]
'''


class Recorder:
    """An alert channel that keeps what it was sent."""

    type: ClassVar[str] = "recorder"

    def __init__(self, name: str = "rec") -> None:
        self.name = name
        self.sent: list[AlertNotification] = []

    @classmethod
    def from_config(cls, name: str, options: dict[str, object], *, redactor: Redactor) -> Recorder:
        return cls(name)

    async def send(self, notification: AlertNotification) -> None:
        self.sent.append(notification)


@pytest.fixture
def acme_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``acme-portico`` distribution, installed on ``sys.path`` for this test only."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_portico.py").write_text(PLUGIN_SOURCE)
    info = site / "acme_portico-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-portico\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nacme = acme_portico\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PORTICO_PLUGINS", "acme")  # only this plugin from entry points: the test stays small
    return site


def test_the_export_command_exports_the_plugins_type(
    acme_installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # file:// exports are confined to the working directory by default
    main(["export", "--type", "acme_watchlist", "--destination", "file://watchlist.csv"])
    assert "exported 2 acme_watchlist rows as csv" in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO((tmp_path / "watchlist.csv").read_text())))
    assert rows == [
        {"symbol": "AAPL", "note": "earnings on 30 January"},
        {"symbol": "MSFT", "note": "ex-dividend"},
    ]


async def test_the_plugins_rules_fire_hold_and_clear_alerts(acme_installed: Path) -> None:
    clock = FakeClock()
    monitor = IntegrationMonitor(clock=clock, plugins=PluginManager(), redactor=Redactor())
    rec = Recorder()
    monitor.add_channel(rec)

    monitor.emit("acme.limit_breached", system="risk", account="ACC-7", limit="gross")
    [breach] = monitor.alerts.active()
    assert (breach.rule, breach.severity, breach.system, breach.subject) == (
        "acme_limit_breached",
        "critical",
        "risk",
        "ACC-7",
    )
    assert breach.summary == "account ACC-7 is over its gross limit"

    monitor.emit("acme.utilisation", account="ACC-9", pct=95)
    monitor.evaluate_alerts()
    assert {(a.rule, a.subject, a.severity) for a in monitor.alerts.active()} == {
        ("acme_limit_breached", "ACC-7", "critical"),
        ("acme_utilisation_high", "ACC-9", "warning"),
    }
    monitor.emit("acme.utilisation", account="ACC-9", pct=40)
    monitor.evaluate_alerts()  # the level condition is gone: its alert clears, the breach stays
    assert [(a.rule, a.subject) for a in monitor.alerts.active()] == [("acme_limit_breached", "ACC-7")]
    await monitor.drain()
    assert [(n.kind, n.alert.rule) for n in rec.sent] == [
        ("firing", "acme_limit_breached"),
        ("firing", "acme_utilisation_high"),
        ("resolved", "acme_utilisation_high"),
    ]


def test_a_contributed_export_type_may_not_replace_a_built_in_one(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        formats = FormatRegistry(jobs_plugin.portico_formats())
        impostor = ExportType(name="positions", rows=lambda db: [], columns=("account",))
        with pytest.raises(ConfigurationError, match="'positions' contributed by a plugin clashes"):
            DataExporter(db=db, clock=FakeClock(), formats=formats, export_types=[impostor])
        twice = [ExportType(name="acme", rows=lambda db: []), ExportType(name="acme", rows=lambda db: [])]
        with pytest.raises(ConfigurationError, match="'acme' is contributed twice"):
            DataExporter(db=db, clock=FakeClock(), formats=formats, export_types=twice)
    finally:
        db.dispose()


def test_a_failing_rule_is_skipped_and_the_monitor_keeps_going() -> None:
    from portico.contributions import AlertRules

    class Broken:
        def __init__(self, context: object) -> None:
            pass

        def on_event(self, event: object) -> None:
            raise RuntimeError("bug in a plugin")

        def evaluate(self) -> None:
            raise RuntimeError("bug in a plugin")

    class BrokenPlugin:
        @hookimpl
        def portico_alert_rules(self) -> list[AlertRules]:
            return [AlertRules(name="broken", events=frozenset({"job.failed"}), build=Broken)]

    plugins = PluginManager(autoload=False)
    plugins.register(BrokenPlugin(), name="broken")
    monitor = IntegrationMonitor(clock=FakeClock(), plugins=plugins, redactor=Redactor())
    monitor.emit("job.failed", system="custodian", job="positions_eod", error="parse error line 3")
    monitor.evaluate_alerts()
    # the built-in jobs rules still ran: the broken plugin took nothing down
    assert [(a.rule, a.subject) for a in monitor.alerts.active()] == [("job_failed", "positions_eod")]


def test_a_plugin_command_never_replaces_a_command_of_the_command_line() -> None:
    from portico.cli import _contributed

    class Shadow:
        @hookimpl
        def portico_cli_commands(self) -> list[CliCommand]:
            return [
                CliCommand("plugins", "nowhere:command", "a replacement"),
                CliCommand("acme", "acme:command", "ours"),
            ]

    plugins = PluginManager(autoload=False)
    plugins.register(Shadow(), name="shadow")
    commands = _contributed(plugins)
    assert sorted(commands) == [
        "acme",
        "dlq",
        "export",
        "import",
        "jobs",
    ]  # the jobs service's four, and acme's
    assert commands["acme"].help == "ours"


MONITORING_YAML = """\
systems: {}
monitoring:
  alert_on_failure: false
  alerts:
    renotify_interval: 600
    acme_utilisation_high: {threshold: 50, severity: critical}
    file_late: {window: 120}
"""


async def test_the_plugins_rules_are_configured_under_monitoring_alerts(
    acme_installed: Path, tmp_path: Path
) -> None:
    path = tmp_path / "portico.yaml"
    path.write_text(MONITORING_YAML)
    plugins = PluginManager()
    config = load_config(path, plugins=plugins)
    monitor = IntegrationMonitor(
        clock=FakeClock(), config=config.monitoring, plugins=plugins, redactor=Redactor()
    )

    monitor.emit("acme.utilisation", account="ACC-9", pct=60)  # over the configured 50, under the default 90
    monitor.evaluate_alerts()
    [high] = monitor.alerts.active()
    assert (high.rule, high.subject, high.severity) == ("acme_utilisation_high", "ACC-9", "critical")
    monitor.emit("acme.limit_breached", system="risk", account="ACC-7", limit="gross")
    breach = next(a for a in monitor.alerts.active() if a.rule == "acme_limit_breached")
    assert breach.severity == "critical"  # not configured: the contribution's default
    await monitor.drain()


def test_an_unknown_rule_name_is_refused_with_its_path_and_the_known_rules(
    acme_installed: Path, tmp_path: Path
) -> None:
    path = tmp_path / "portico.yaml"
    path.write_text(MONITORING_YAML.replace("acme_utilisation_high:", "acme_utilisaton_high:"))
    with pytest.raises(ConfigurationError) as caught:
        load_config(path, plugins=PluginManager())
    [(where, message)] = caught.value.problems
    assert where == "monitoring.alerts.acme_utilisaton_high"
    assert "unknown alert rule 'acme_utilisaton_high' (did you mean 'acme_utilisation_high'?)" in message
    assert (
        "known rules: acme_limit_breached, acme_utilisation_high, circuit_open, dead_letter_depth, empty_file, "
        "error_rate, file_late, job_failed, market_data_quality, market_data_stale, row_count_change, "
        "stream_stale, system_degraded, system_down"
    ) in message
    assert f"{path}:6" in str(caught.value)  # the line of the key

    # the monitor refuses the same section when it is given as a mapping
    with pytest.raises(
        ConfigurationError, match=r"monitoring\.alerts\.acme_utilisaton_high: unknown alert rule"
    ):
        IntegrationMonitor(
            clock=FakeClock(),
            config={"alerts": {"acme_utilisaton_high": {"threshold": 1}}},
            plugins=PluginManager(),
        )


def test_a_plugins_rule_is_unknown_where_the_plugin_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "portico.yaml"
    path.write_text(MONITORING_YAML)
    with pytest.raises(ConfigurationError) as caught:
        load_config(path, plugins=PluginManager(autoload=False))
    [(where, message)] = caught.value.problems
    assert where == "monitoring.alerts.acme_utilisation_high"
    assert "known rules: circuit_open, dead_letter_depth, empty_file, error_rate, file_late," in message
    with pytest.raises(ConfigurationError, match="acme_utilisation_high"):  # no plugins given: the built-ins'
        load_config(path)
    with pytest.raises(
        ConfigurationError
    ) as typed:  # a contributed rule's settings are checked like any rule's
        load_config({"systems": {}, "monitoring": {"alerts": {"file_late": {"severity": "loud"}}}})
    assert [p for p, _ in typed.value.problems] == ["monitoring.alerts.file_late.severity"]


def test_notify_rules_gives_an_event_to_the_plugins_rules_without_logging_it(acme_installed: Path) -> None:
    monitor = IntegrationMonitor(clock=FakeClock(), plugins=PluginManager(), redactor=Redactor())
    monitor.notify_rules("acme.utilisation", account="ACC-3", pct=97)
    monitor.evaluate_alerts()
    assert [(a.rule, a.subject) for a in monitor.alerts.active()] == [("acme_utilisation_high", "ACC-3")]
    monitor.emit("acme.utilisation", account="ACC-4", pct=10)  # emitted: logged and kept, unlike the first
    seen = [e["account"] for e in monitor.recent_events() if e.get("event") == "acme.utilisation"]
    assert seen == ["ACC-4"]
