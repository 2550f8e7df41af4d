"""The scale-out soak: 3 workers, 2 SIGKILLed and restarted, RabbitMQ restarted once, Redis stopped a while.

The short version (55 s of workload; the busiest minute of the venue's journal is measured)
runs whenever the engines are configured; ``PORTICO_SCALEOUT_SOAK=1`` runs the long one (more orders,
``PORTICO_SCALEOUT_SOAK_SECONDS`` of workload, default 300). It stops and starts the shared RabbitMQ node's
app (``rabbitmqctl stop_app``/``start_app``, always restored), so it is marked ``rabbitmq_restart``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.scaleout.redis_server import PrivateRedis
from tests.scaleout.soak import run_soak

pytest.importorskip("aio_pika")
pytest.importorskip("redis")

LONG = os.environ.get("PORTICO_SCALEOUT_SOAK") == "1"


@pytest.mark.slow
@pytest.mark.rabbitmq_restart
@pytest.mark.timeout(1200 if LONG else 330)
async def test_three_workers_share_one_workload_through_kills_and_engine_restarts(
    tmp_path: Path, postgres_url: str, amqp_url: str, redis_url: str, prefix: str
) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed (the soak restarts RabbitMQ)")
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        result = await run_soak(
            tmp_path / "soak",
            postgres_url=postgres_url,
            amqp_url=amqp_url,
            redis=redis,
            prefix=prefix,
            seed=int(os.environ.get("PORTICO_SCALEOUT_SOAK_SEED", "1")),
            per_slot=200 if LONG else 20,
            duration=float(os.environ.get("PORTICO_SCALEOUT_SOAK_SECONDS", "300")) if LONG else 55.0,
        )
    finally:
        redis.stop()
    print(result.stats)
    assert result.violations == [], "\n".join(result.violations[:50]) + f"\n{result.stats}"
    assert len(result.stats["timeline"]["kills"]) == 2
