"""Fixtures of the scale-out tests: a fresh PostgreSQL database per test, and the local Redis/RabbitMQ URLs.

Each fixture skips with its reason when its ``PORTICO_TEST_*_URL`` is unset (CI sets them, see .ci/run).
Names carry a ``scaleout_`` prefix so parallel runs of other suites never collide with these.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


def _postgres_base() -> str:
    base = os.environ.get("PORTICO_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PORTICO_TEST_POSTGRES_URL is not set")
    pytest.importorskip("psycopg")
    return base


def create_database(base: str) -> tuple[str, str]:
    """A new empty database on the server of ``base``: (its SQLAlchemy URL, the admin URL to drop it)."""
    import psycopg
    from sqlalchemy.engine import make_url

    scheme = base.split("://", 1)[0]
    url = make_url(base if "+" in scheme else base.replace(f"{scheme}://", "postgresql+psycopg://", 1))
    name = f"scaleout_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False), admin


def drop_database(url: str, admin: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards."""
    url, admin = create_database(_postgres_base())
    try:
        yield url
    finally:
        drop_database(url, admin)


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[Any]:
    """A :class:`~portico.store.Database` on a fresh PostgreSQL database."""
    from portico.store import Database

    db = Database(postgres_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("PORTICO_TEST_REDIS_URL")
    if not url:
        pytest.skip("PORTICO_TEST_REDIS_URL is not set")
    pytest.importorskip("redis")
    return url


@pytest.fixture
def amqp_url() -> str:
    url = os.environ.get("PORTICO_TEST_AMQP_URL")
    if not url:
        pytest.skip("PORTICO_TEST_AMQP_URL is not set")
    pytest.importorskip("aio_pika")
    return url


@pytest.fixture
def prefix() -> str:
    """A name prefix of this test's own (queues, exchanges, Redis keys)."""
    return f"scaleout-{uuid.uuid4().hex[:10]}"
