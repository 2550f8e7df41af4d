"""Stored jobs and schedules belong to the configuration (instance) they came from: two configurations
sharing one PORTICO_HOME never list, run or schedule each other's jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portico.errors import ConfigurationError
from portico.plugins import PluginManager
from portico.runtime import AsyncIntegration


def _config(db_url: str, folder: Path, instance: str | None, name: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "database_url": db_url,
        "data_import": {
            "scheduled_imports": [
                {
                    "source": str(folder / f"{name}_*.csv"),
                    "data_type": "positions",
                    "schedule": "0 18 * * 1-5",
                    "destination": "portfolio_database",
                }
            ]
        },
    }
    if instance is not None:
        config["instance"] = instance
    return config


def _pm() -> PluginManager:
    return PluginManager(autoload=False)


async def test_two_instances_list_and_run_only_their_own_jobs(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with AsyncIntegration(_config(db_url, tmp_path, "desk_a", "a"), plugins=_pm()) as a:
        await a.start(schedule=True)
        a_jobs = await a.list_jobs()
    async with AsyncIntegration(_config(db_url, tmp_path, "desk_b", "b"), plugins=_pm()) as b:
        await b.start(schedule=True)
        b_jobs = await b.list_jobs()
        assert [j["config"]["source"] for j in b_jobs] == [str(tmp_path / "b_*.csv")]
        # the scheduler of b holds b's job only (a's stored schedule must not run under b); the process's
        # own housekeeping (lease sweep, import chunks) lives in its "local" store
        assert [job.id for job in b.jobs._scheduler.get_jobs(jobstore="default")] == [b_jobs[0]["job_id"]]
        assert {job.id for job in b.jobs._scheduler.get_jobs(jobstore="local")} == {
            "portico:sweep-fires",
            "portico:import-chunks",
        }
        with pytest.raises(ConfigurationError, match=f"no job {a_jobs[0]['job_id']!r} in instance 'desk_b'"):
            await b.run_job_now(a_jobs[0]["job_id"])
    assert [j["config"]["source"] for j in a_jobs] == [str(tmp_path / "a_*.csv")]
    assert a_jobs[0]["job_id"] != b_jobs[0]["job_id"]


async def test_the_same_job_in_two_instances_is_two_jobs(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    ids = []
    for instance in ("desk_a", "desk_b"):
        async with AsyncIntegration(_config(db_url, tmp_path, instance, "same"), plugins=_pm()) as runtime:
            await runtime.start(schedule=True)
            jobs = await runtime.list_jobs()
            assert len(jobs) == 1
            ids.append(jobs[0]["job_id"])
    assert ids[0] != ids[1]


def test_the_instance_defaults_to_the_config_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "trading-desk.yaml"
    path.write_text("external_integration_config:\n  systems: {}\n")
    assert AsyncIntegration.from_config(path, plugins=_pm()).instance == "trading-desk"
    path.write_text("external_integration_config:\n  instance: eu_desk\n  systems: {}\n")
    assert AsyncIntegration.from_config(path, plugins=_pm()).instance == "eu_desk"
    assert AsyncIntegration({"systems": {}}, plugins=_pm()).instance == "default"


def test_a_bad_instance_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="instance"):
        AsyncIntegration({"instance": "../etc", "systems": {}}, plugins=_pm())


async def test_order_intents_belong_to_their_instance(tmp_path: Path) -> None:
    from portico.errors import NotFound, PayloadRejected
    from tests.core.trading.test_live_money import ORDER, _plugins

    db_url = f"sqlite:///{tmp_path / 'shared.db'}"

    def config(instance: str) -> dict[str, Any]:
        return {
            "instance": instance,
            "database_url": db_url,
            "systems": {"desk_live": {"type": "brokerage", "connector": "livebroker", "environment": "paper", "allow_insecure": True}},  # in-process fake venue
        }

    async with AsyncIntegration(config("desk_a"), plugins=_plugins()) as a:
        order_id = await a.place_external_order("desk_live", ORDER, idempotency_key="rebalance-1")
    async with AsyncIntegration(config("desk_b"), plugins=_plugins()) as b:
        assert b.trading.repo.query(system="desk_live") == [], "b sees a's orders"
        with pytest.raises(PayloadRejected) as raised:
            await b.place_external_order("desk_live", ORDER, idempotency_key="rebalance-1")
        assert raised.value.message == (
            "idempotency key 'rebalance-1' of desk_live is already used by instance 'desk_a' sharing this "
            "store: use another key (or the same instance)"
        )
        with pytest.raises(NotFound):
            await b.get_external_order_status("desk_live", order_id)
    async with AsyncIntegration(config("desk_a"), plugins=_plugins()) as again:
        assert [r.client_order_id for r in again.trading.repo.query(system="desk_live")] == [order_id]
