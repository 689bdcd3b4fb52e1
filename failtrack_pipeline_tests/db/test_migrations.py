from __future__ import annotations

import multiprocessing

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from failtrack_pipeline.db.engine import create_db_engine, redacted
from failtrack_pipeline.db.migrate import current_revision, head_revision, migrate
from failtrack_pipeline.db.schema import metadata


def test_migrations_build_exactly_the_schema_the_code_declares(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, metadata) == []


def test_migrate_twice_is_a_no_op(engine: sa.Engine) -> None:
    assert migrate(engine) == head_revision()
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()


def _migrate(url: str) -> None:
    migrate(create_db_engine(url))


def test_processes_migrating_a_fresh_database_together_do_not_collide(db_url: str) -> None:
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_migrate, args=(db_url,)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    with create_db_engine(db_url).connect() as connection:
        assert current_revision(connection) == head_revision()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'f.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000


def test_urls_shown_to_people_never_carry_the_password() -> None:
    shown = redacted("postgresql://ft:s3cret-pw@db.internal:5432/failtrack")
    assert "s3cret-pw" not in shown
    assert shown.startswith("postgresql+psycopg://ft:***@db.internal")
