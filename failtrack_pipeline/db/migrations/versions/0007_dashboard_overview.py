"""dashboard overview: retry runs, health reasons, failing since, group ids and 24 h counts;
failure groups re-stamped to one clock

Before this revision a scrape run with `as_of` stamped its per-event failures with `as_of`
instead of the time they were seen. The failure ledger knows when each run's batches were
really recorded: a group whose `last_seen_at` is more than RESTAMP_TOLERANCE from the
recording of its `last_run_id` is re-stamped to that moment; its `first_seen_at` too when
it was the same wrong stamp (else it is only kept no later than `last_seen_at`), and its
per-day count on the wrong day moves to the real one. What a ledger entry cannot tell (when
earlier runs saw such a group) stays as it was.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


class _UTCDateTime(sa.TypeDecorator):
    """As failtrack's UTCDateTime stores it (frozen here: the DDL is what matters)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True


# Added at the end of their tables, as the schema declares them.
_COLUMNS: dict[str, list[sa.Column]] = {
    "scrape_runs": [
        sa.Column(
            "is_retry",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
            comment="a run of retry_events_job (chosen events only), counted like any run",
        ),
    ],
    "source_success_rates": [
        sa.Column(
            "run_success_rate_7d",
            sa.Float(),
            comment="share of the 7 days' runs that neither failed nor silently failed",
        ),
        sa.Column(
            "health_reason",
            sa.String(200),
            comment="why the health is what it is: the rate that decided it, silent or stale",
        ),
        sa.Column("top_error_category", sa.String(32), comment="category of top_error_message"),
        sa.Column(
            "top_error_message",
            sa.String(1000),
            comment="the failure group with most occurrences in the 7 days (parameterized)",
        ),
        sa.Column(
            "failing_since",
            _UTCDateTime(),
            comment="start of the first of the unbroken latest runs that were not a success",
        ),
        sa.Column("last_success_at", _UTCDateTime(), comment="start of the latest successful run"),
    ],
    "top_failure_groups": [
        sa.Column(
            "failure_group_id",
            sa.BigInteger(),
            comment="the discovery_event_failures id: what retry_events_job's "
            "failure_group_id takes",
        ),
        sa.Column(
            "occurrences_24h",
            sa.BigInteger(),
            nullable=False,
            server_default="0",
            comment="on as_of (its UTC day)",
        ),
        sa.Column("last_run_id", sa.String(64), comment="the Dagster run that last saw it"),
    ],
}


RESTAMP_TOLERANCE = timedelta(hours=1)

# Frozen copies of the columns the re-stamp touches, as revision 0003 left them.
_failures = sa.table(
    "discovery_event_failures",
    sa.column("fingerprint", sa.String()),
    sa.column("first_seen_at", sa.DateTime(timezone=True)),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
    sa.column("last_run_id", sa.String()),
)
_days = sa.table(
    "discovery_event_failure_days",
    sa.column("fingerprint", sa.String()),
    sa.column("day", sa.Date()),
    sa.column("source_id", sa.String()),
    sa.column("occurrences", sa.BigInteger()),
)
_recordings = sa.table(
    "failure_recordings",
    sa.column("run_id", sa.String()),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        for column in columns:
            op.add_column(table, column)
    restamp(op.get_bind())


def restamp(connection: sa.Connection) -> int:
    """Re-stamp the groups whose last sighting disagrees with the ledger; returns how many."""
    recorded = (
        sa.select(_recordings.c.run_id, sa.func.max(_recordings.c.recorded_at).label("at"))
        .group_by(_recordings.c.run_id)
        .subquery()
    )
    groups = connection.execute(
        sa.select(
            _failures.c.fingerprint,
            _failures.c.first_seen_at,
            _failures.c.last_seen_at,
            recorded.c.at,
        ).join(recorded, recorded.c.run_id == _failures.c.last_run_id)
    ).all()
    restamped = 0
    for fingerprint, first, last, at in groups:
        first, last, at = _utc(first), _utc(last), _utc(at)
        if abs(last - at) <= RESTAMP_TOLERANCE:
            continue
        new_first = at if first == last else min(first, at)
        connection.execute(
            sa.update(_failures)
            .where(_failures.c.fingerprint == fingerprint)
            .values(
                first_seen_at=_stored(connection, new_first), last_seen_at=_stored(connection, at)
            )
        )
        _move_day(connection, fingerprint, last.date(), at.date())
        restamped += 1
    return restamped


def _move_day(connection: sa.Connection, fingerprint: str, wrong: object, real: object) -> None:
    if wrong == real:
        return
    on_day = sa.and_(_days.c.fingerprint == fingerprint, _days.c.day == wrong)
    row = connection.execute(
        sa.select(_days.c.source_id, _days.c.occurrences).where(on_day)
    ).first()
    if row is None:
        return
    connection.execute(sa.delete(_days).where(on_day))
    on_real = sa.and_(_days.c.fingerprint == fingerprint, _days.c.day == real)
    moved = connection.execute(
        sa.update(_days).where(on_real).values(occurrences=_days.c.occurrences + row.occurrences)
    )
    if not moved.rowcount:
        connection.execute(
            sa.insert(_days).values(
                fingerprint=fingerprint,
                day=real,
                source_id=row.source_id,
                occurrences=row.occurrences,
            )
        )


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC, PostgreSQL aware times."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stored(connection: sa.Connection, moment: datetime) -> datetime:
    """As failtrack stores a time: naive UTC on SQLite, aware on PostgreSQL."""
    return moment.replace(tzinfo=None) if connection.dialect.name == "sqlite" else moment


def downgrade() -> None:
    # The re-stamp is not undone: the times it wrote are the true ones.
    for table, columns in reversed(_COLUMNS.items()):
        with op.batch_alter_table(table) as batch:
            for column in reversed(columns):
                batch.drop_column(column.name)
