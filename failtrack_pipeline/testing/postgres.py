"""A PostgreSQL server to test and measure against, and fresh databases on it."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

TEST_POSTGRES_URL_ENV = "FAILTRACK_TEST_POSTGRES_URL"


@contextmanager
def postgres_server(configured: str | None = None) -> Iterator[str]:
    """A server URL (libpq form) whose default database we may create others in:
    `configured`, else `FAILTRACK_TEST_POSTGRES_URL`, else a throwaway pgserver."""
    configured = configured or os.environ.get(TEST_POSTGRES_URL_ENV)
    if configured:
        yield configured
        return
    import pgserver  # a test dependency: only needed when no server is given

    # Not under pytest's basetemp: another pytest session may prune that while we run.
    data_dir = Path(tempfile.mkdtemp(prefix="failtrack-pg-"))
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server (its SQLAlchemy URL); dropped afterwards."""
    admin_url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"ft_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
