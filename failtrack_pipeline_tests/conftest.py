"""Database and Dagster instance fixtures: every database test runs on SQLite and PostgreSQL.

PostgreSQL is the server at FAILTRACK_TEST_POSTGRES_URL when set, otherwise a throwaway
PostgreSQL 16 started for the session by `pgserver` (a test dependency: if it cannot start,
the PostgreSQL tests error out; they are never skipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance
from dagster._core.test_utils import instance_for_test
from sqlalchemy.engine import make_url

from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.sources.demo import DEMO_AS_OF
from failtrack_pipeline.testing.postgres import fresh_postgres_database, postgres_server

BACKENDS = ["sqlite", "postgresql"]
# The moment test scrapes judge their events at (run config `as_of`): the demo's, so that
# the demo feeds and the tests' own, dated 2027, give the same result on any day.
SCRAPE_AS_OF = DEMO_AS_OF


def scrape_config(op: str = "scrape_source", **config: Any) -> dict[str, Any]:
    """Run config for `op` (the scrape or the retry op), its clock at SCRAPE_AS_OF."""
    return {"ops": {op: {"config": {"as_of": SCRAPE_AS_OF, **config}}}}


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server URL (libpq form) whose default database we may create others in."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    with fresh_postgres_database(postgres_server_url) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty failtrack database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'failtrack.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@dataclass
class Backend:
    """A Dagster instance and failtrack database on the same kind of storage."""

    name: str
    instance: DagsterInstance
    db_url: str
    engine: sa.Engine


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    """Dagster storage and failtrack tables both on SQLite, or both on PostgreSQL."""
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp_path / 'failtrack.db'}"
        context = nullcontext(None)
    else:
        server_url = request.getfixturevalue("postgres_server_url")
        db_url = request.getfixturevalue("postgres_url")
        context = fresh_postgres_database(server_url)
    with context as dagster_db_url:
        overrides: dict = {}
        if dagster_db_url:
            libpq_url = make_url(dagster_db_url).set(drivername="postgresql")
            overrides = {
                "storage": {
                    "postgres": {"postgres_url": libpq_url.render_as_string(hide_password=False)}
                }
            }
        monkeypatch.setenv(DATABASE_URL_ENV, db_url)
        with instance_for_test(overrides=overrides) as instance:
            engine = create_db_engine(db_url)
            migrate(engine)
            yield Backend(request.param, instance, db_url, engine)
            engine.dispose()
