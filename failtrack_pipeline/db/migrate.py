"""Bring failtrack's schema to the newest migration: on first use and by `failtrack migrate`."""

from __future__ import annotations

from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

# Any fixed number: PostgreSQL advisory locks are keyed by integers.
_MIGRATION_LOCK_KEY = 0x66_61_69_6C  # "fail"


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("failtrack_pipeline.db") / "migrations"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: sa.Engine) -> str:
    """Upgrade to head and return it; a no-op costing one query when already there.

    Runs in one transaction holding a lock (an advisory lock on PostgreSQL, SQLite's write
    lock through BEGIN IMMEDIATE), so processes starting together cannot race each other.
    """
    head = head_revision()
    with engine.connect() as probe:
        if current_revision(probe) == head:
            return head
    config = _alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
        if current_revision(connection) != head:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return head
