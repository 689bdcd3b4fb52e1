"""Databases at an older schema revision, filled as that revision had them: for the tests of
the migrations that change rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from alembic import command

from failtrack_pipeline.db.migrate import _alembic_config

# The per-day table before revision 0012: keyed by fingerprint (`stage` from revision 0010;
# an insert names only the columns it is given).
DAYS_BY_FINGERPRINT = sa.table(
    "discovery_event_failure_days",
    sa.column("fingerprint", sa.String),
    sa.column("day", sa.Date),
    sa.column("source_id", sa.String),
    sa.column("occurrences", sa.BigInteger),
    sa.column("stage", sa.String),
)


@contextmanager
def at_revision(engine: sa.Engine, revision: str, *, down: bool = False) -> Iterator[sa.Connection]:
    """A transaction on `engine` whose schema was upgraded (or, `down`, downgraded) to
    `revision` in it."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
        yield connection


def group(fingerprint: str, first: datetime, last: datetime, run_id: str) -> dict[str, object]:
    """A failure group's row as revision 0003 and later have it."""
    return {
        "fingerprint": fingerprint,
        "source_id": "s",
        "error_category": "validation_error",
        "error_message": fingerprint,
        "example_message": fingerprint,
        "sample_external_ids": [],
        "occurrence_count": 3,
        "first_seen_at": first,
        "last_seen_at": last,
        "last_run_id": run_id,
    }
