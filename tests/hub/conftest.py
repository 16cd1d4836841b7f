"""Store fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``SKLADBRIDGE_TEST_POSTGRES_URL`` (e.g.
``postgresql://postgres@127.0.0.1:5432/test``): one fresh database per session, a fresh ``public``
schema per test. Without the variable the PostgreSQL cases are skipped, except under ``CI``,
where they fail so that CI can never pass by silently skipping them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from hub.store import Store, open_store

POSTGRES_ENV = "SKLADBRIDGE_TEST_POSTGRES_URL"


def _libpq(url: str, database: str | None = None) -> str:
    """The URL as psycopg (libpq) takes it: no ``+driver``, optionally another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this session; dropped (with its connections) at the end."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        reason = f"PostgreSQL store tests need {POSTGRES_ENV}=postgresql://user@host:port/db"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip them")
        pytest.skip(reason)
    name = f"sbtest_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _libpq(url, name)
    finally:
        with psycopg.connect(_libpq(url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty store database: a SQLite file, or a PostgreSQL database with a clean schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_database")
    # A fresh schema is much cheaper than a fresh database and just as clean.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


class FakeClock:
    """A clock the test moves by hand (aware UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    """A hand-moved clock for the store."""
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[Store]:
    """A migrated store on each database, on the fake clock."""
    opened = open_store(store_url, clock=clock)
    try:
        yield opened
    finally:
        opened.close()
