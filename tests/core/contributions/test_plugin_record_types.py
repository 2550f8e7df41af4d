"""A third-party plugin adds a record type through ``portico_record_types``: it imports end to end.

The plugin is a real distribution on ``sys.path`` (as in ``test_third_party_plugin``), whose record type
names its model by ``"module:attribute"``. A file of that type goes through ``portico import --type``
with per-record accounting; its rejects reach the dead-letter queue; the exporter and the
configuration checks know the type; a type named like a built-in one is refused.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from portico.cli import main
from portico.config._checks import section_problems
from portico.contributions import RecordTypeDef
from portico.errors import ConfigurationError
from portico.hookspecs import hookimpl
from portico.jobs import RECORD_TYPES, record_type
from portico.jobs._plugin_records import register_record_types
from portico.plugins import ENTRY_POINT_GROUP, PluginManager

PLUGIN_SOURCE = '''
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from portico.contributions import RecordTypeDef
from portico.hookspecs import hookimpl


class EsgScore(BaseModel):
    """A vendor's ESG score of one issuer on one date."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    issuer: Annotated[str, Field(min_length=1, max_length=64)]
    date: date
    score: Annotated[Decimal, Field(ge=0, le=100)]


@hookimpl
def portico_record_types():
    return [RecordTypeDef(name="esg_scores", model="acme_esg:EsgScore", key=("issuer", "date"), sums=("score",), aliases=("esg",))]
'''

ESG_FILE = """issuer,date,score
ACME Corp,2026-11-30,71.5
Globex,2026-11-30,not-a-number
Initech,2026-11-30,140
Umbrella,2026-11-30,12.25
"""


@pytest.fixture
def registry() -> Iterator[None]:
    """The process-wide registry as it was before the test (plugin types do not leak into others)."""
    saved = dict(RECORD_TYPES)
    yield
    RECORD_TYPES.clear()
    RECORD_TYPES.update(saved)


@pytest.fixture
def acme_esg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: None) -> Path:
    """The ``acme-esg`` distribution, installed on ``sys.path`` for this test only."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_esg.py").write_text(PLUGIN_SOURCE)
    info = site / "acme_esg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-esg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nacme_esg = acme_esg\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PORTICO_PLUGINS", "acme_esg")
    monkeypatch.delitem(__import__("sys").modules, "acme_esg", raising=False)
    return site


def test_a_file_of_the_plugins_type_imports_with_per_record_accounting(
    acme_esg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "esg.csv").write_text(ESG_FILE)
    with pytest.raises(SystemExit) as exited:
        main(["import", "esg.csv", "--type", "esg_scores", "--json"])
    assert exited.value.code == 3  # some records were rejected
    result = json.loads(capsys.readouterr().out)
    assert (result["status"], result["records"], result["loaded"], result["rejected"]) == ("partial", 4, 2, 2)
    assert result["rejects"] == [
        {"line": 3, "field": "score", "reason": "score: is not a number (value 'not-a-number')"},
        {"line": 4, "field": "score", "reason": "score: Input should be less than or equal to 100"},
    ]
    assert result["control_totals"]["loaded"] == {"records": 2, "sums": {"score": "83.75"}}

    # the loaded records are in the type's own table, and the exporter exports them
    main(["export", "--type", "esg_scores", "--destination", "file://esg_out.csv"])
    assert "exported 2 esg_scores rows as csv" in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO((tmp_path / "esg_out.csv").read_text())))
    assert [(r["issuer"], r["date"], r["score"]) for r in rows] == [
        ("ACME Corp", "2026-11-30", "71.5"),
        ("Umbrella", "2026-11-30", "12.25"),
    ]
    assert record_type("esg").name == "esg_scores"  # the alias reaches the same type


def test_the_config_check_knows_the_plugins_type(acme_esg: Path) -> None:
    config = {
        "data_import": {
            "scheduled_imports": [
                {"source": "in/esg_*.csv", "data_type": "esg_scores"},
                {"source": "in/esg_*.csv", "data_type": "esg_scorez"},
            ]
        }
    }
    problems = section_problems(config, PluginManager())
    assert [p for p, _ in problems] == ["data_import.scheduled_imports[1].data_type"]
    assert "did you mean 'esg_scores'" in problems[0][1]


class _Model(BaseModel):
    account: str
    amount: float


def test_a_plugin_type_may_not_replace_a_built_in_one(registry: None) -> None:
    with pytest.raises(
        ConfigurationError,
        match="'positions' contributed by a plugin clashes with the built-in record type 'positions'",
    ):
        register_record_types([RecordTypeDef(name="positions", model=_Model, key=("account",))])
    with pytest.raises(
        ConfigurationError,
        match="'daily_prices' contributed by a plugin clashes with the built-in record type 'prices'",
    ):
        register_record_types(
            [RecordTypeDef(name="my_prices", model=_Model, key=("account",), aliases=("daily_prices",))]
        )
    assert record_type("positions") is RECORD_TYPES["positions"]
    assert "my_prices" not in RECORD_TYPES


def test_a_clash_is_refused_when_the_service_starts(registry: None) -> None:
    class Impostor:
        @hookimpl
        def portico_record_types(self) -> list[RecordTypeDef]:
            return [RecordTypeDef(name="transactions", model=_Model, key=("account",))]

    plugins = PluginManager(autoload=False)
    plugins.register(Impostor(), name="impostor")
    from portico.cli._services import jobs_service

    with pytest.raises(ConfigurationError, match="'transactions' contributed by a plugin clashes"):
        jobs_service(plugins=plugins)


def test_malformed_or_doubled_contributions_are_refused(registry: None) -> None:
    one = RecordTypeDef(name="acme_flows", model=_Model, key=("account",))
    # the same definition twice (a plugin registered twice, a second service) is one type
    assert [rt.name for rt in register_record_types([one, one])] == ["acme_flows"]
    assert register_record_types([one])[0] == RECORD_TYPES["acme_flows"]
    other = RecordTypeDef(name="acme_flows", model=_Model, key=("account", "amount"))
    with pytest.raises(
        ConfigurationError, match="'acme_flows' is contributed twice with different definitions"
    ):
        register_record_types([other])
    with pytest.raises(ConfigurationError, match="key names 'acount', not fields of _Model"):
        register_record_types([RecordTypeDef(name="acme_x", model=_Model, key=("acount",))])
    with pytest.raises(ConfigurationError, match="must be lower-case letters"):
        register_record_types([RecordTypeDef(name="acme-x; drop", model=_Model, key=("account",))])
    with pytest.raises(ConfigurationError, match="cannot import its model 'nowhere_at_all:Model'"):
        register_record_types([RecordTypeDef(name="acme_y", model="nowhere_at_all:Model", key=("account",))])
    with pytest.raises(ConfigurationError, match="must be a pydantic model class"):
        register_record_types([RecordTypeDef(name="acme_z", model=dict, key=("account",))])
    with pytest.raises(ConfigurationError, match="sum decimal fields"):
        register_record_types(
            [RecordTypeDef(name="acme_w", model=_Model, key=("account",), sums=("account",))]
        )


class _KnownIssuers:
    """A reference check (``portico_record_validators``): issuers must be in the reference data."""

    data_types = ("esg_scores",)

    def __init__(self) -> None:
        self.known = {"ACME Corp", "Umbrella"}

    def validate(self, data_type: str, records: list[dict[str, object]]) -> dict[int, str]:
        return {
            i: f"issuer {r['issuer']!r} is not in the reference data"
            for i, r in enumerate(records)
            if r["issuer"] not in self.known
        }


def test_a_quarantined_record_of_the_plugins_type_replays_from_the_dead_letter_queue(
    acme_esg: Path, tmp_path: Path
) -> None:
    from portico.cli._services import jobs_service
    from portico.jobs import DeadLetterQueue

    check = _KnownIssuers()

    class Reference:
        @hookimpl
        def portico_record_validators(self) -> list[_KnownIssuers]:
            return [check]

    plugins = PluginManager()
    plugins.register(Reference(), name="reference")
    service = jobs_service(plugins=plugins)
    (tmp_path / "esg.csv").write_text("issuer,date,score\nACME Corp,2026-11-30,71.5\nHooli,2026-11-30,55\n")
    result = service.importer.import_file(str(tmp_path / "esg.csv"), "esg")
    assert (result.data_type, result.status, result.loaded, result.quarantined) == (
        "esg_scores",
        "partial",
        1,
        1,
    )
    dlq = DeadLetterQueue(service.importer)
    [entry] = dlq.list(data_type="esg")
    assert (entry["data_type"], entry["line"], entry["reason"]) == (
        "esg_scores",
        3,
        "reference check: issuer 'Hooli' is not in the reference data",
    )
    assert dlq.replay()["replayed"] == []  # still unknown
    check.known.add("Hooli")  # the reference data is fixed: the record gets out
    assert dlq.replay() == {"replayed": [entry["id"]], "still_failing": {}}
    assert dlq.list(data_type="esg_scores") == []


class _Esg(BaseModel):
    issuer: str
    score: Decimal


class _EsgByDesk(BaseModel):
    desk: str
    issuer: str
    score: Decimal


class _EsgPlugin:
    def __init__(self, model: type[BaseModel], key: tuple[str, ...]) -> None:
        self.model, self.key = model, key

    @hookimpl
    def portico_record_types(self) -> list[RecordTypeDef]:
        return [RecordTypeDef(name="esg_scores", model=self.model, key=self.key, sums=("score",))]


def _service(tmp_path: Path, name: str, *plugins: object) -> Any:
    from portico.clock import FakeClock
    from portico.jobs import JobService
    from portico.store import Database

    manager = PluginManager(autoload=False)
    for i, plugin in enumerate(plugins):
        manager.register(plugin, name=f"{name}-{i}")
    return JobService(
        db=Database(f"sqlite:///{tmp_path / name}.db"),
        clock=FakeClock(),
        plugins=manager,
        home=tmp_path / name,
    )


def test_two_services_with_different_plugins_do_not_see_each_others_record_types(
    tmp_path: Path, registry: None
) -> None:
    plain = _service(tmp_path, "plain")  # no plugin: the built-in types only
    firm = _service(tmp_path, "firm", _EsgPlugin(_Esg, ("issuer",)))
    desks = _service(
        tmp_path, "desks", _EsgPlugin(_EsgByDesk, ("desk", "issuer"))
    )  # the same name, defined otherwise
    try:
        (tmp_path / "firm.csv").write_text("issuer,score\nACME Corp,71.5\nInitech,12\n")
        (tmp_path / "desks.csv").write_text("desk,issuer,score\nrates,ACME Corp,70\nfx,ACME Corp,60\n")

        assert "esg_scores" not in plain.record_types and "esg_scores" not in plain.exporter.data_types
        with pytest.raises(ConfigurationError, match="unknown data type 'esg_scores'"):
            plain.importer.import_file(tmp_path / "firm.csv", "esg_scores")

        firm_result = firm.importer.import_file(tmp_path / "firm.csv", "esg_scores")
        assert (firm_result.status, firm_result.loaded, firm_result.error) == ("loaded", 2, None)
        assert firm.record_types["esg_scores"].key == ("issuer",)
        # each service checks a file against its own definition of the type
        desks_result = desks.importer.import_file(tmp_path / "desks.csv", "esg_scores")
        assert (desks_result.status, desks_result.loaded, desks_result.error) == ("loaded", 2, None)
        assert desks.record_types["esg_scores"].key == ("desk", "issuer")
        refused = desks.importer.import_file(tmp_path / "firm.csv", "esg_scores")
        assert (refused.status, refused.loaded) == ("failed", 0), refused.error
        assert "desk" in str(refused.error), refused.error
        assert "esg_scores" in desks.exporter.data_types and "esg_scores" in firm.exporter.data_types

        # the built-in types are the same objects everywhere
        assert plain.record_types["positions"] is firm.record_types["positions"] is RECORD_TYPES["positions"]
        # the process's directory (record_type() without a registry) holds the first definition it was given
        assert record_type("esg_scores").key == ("issuer",)
    finally:
        for service in (plain, firm, desks):
            service.db.dispose()


def test_shell_completion_offers_the_installed_plugins_record_types(acme_esg: Path) -> None:
    from portico.cli._complete import complete_record_types

    offered = [item.value for item in complete_record_types(None, None, "e")]  # type: ignore[arg-type]
    assert offered == ["esg_scores"]
    assert "positions" in [item.value for item in complete_record_types(None, None, "")]  # type: ignore[arg-type]
