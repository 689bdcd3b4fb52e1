"""Every table failtrack owns, in one place. Migrations under `migrations/` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so values are stored as
    naive UTC (whose ISO text sorts correctly) and come back marked UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: failtrack stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("external_id", sa.String(200), primary_key=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime()),
    sa.Column("venue_name", sa.String(500)),
    sa.Column("venue_address", sa.Text()),
    sa.Column("latitude", sa.Float()),
    sa.Column("longitude", sa.Float()),
    sa.Column("category", sa.String(50)),
    sa.Column("performers", sa.JSON(), nullable=False),
    sa.Column("url", sa.Text()),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_run_id", sa.String(64)),
)

discovery_event_failures = sa.Table(
    "discovery_event_failures",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("source_id", sa.String(64), nullable=False),
    sa.Column("error_category", sa.String(32), nullable=False),
    sa.Column("error_message", sa.String(1000), nullable=False),
    sa.Column("example_message", sa.Text(), nullable=False),
    sa.Column("sample_external_ids", sa.JSON(), nullable=False),
    sa.Column("occurrence_count", sa.BigInteger(), nullable=False),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("last_run_id", sa.String(64)),
    sa.Index("ix_failures_source_last_seen", "source_id", "last_seen_at"),
    sa.Index("ix_failures_category_last_seen", "error_category", "last_seen_at"),
    sa.Index("ix_failures_last_seen", "last_seen_at"),
)

# Occurrences per group and UTC day: what "last 7 days", "new" and "regressed" are computed from.
discovery_event_failure_days = sa.Table(
    "discovery_event_failure_days",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("source_id", sa.String(64), nullable=False),
    sa.Column("occurrences", sa.BigInteger(), nullable=False),
    sa.Index("ix_failure_days_day_source", "day", "source_id"),
)

# One row per batch of failures already counted, so that a hook, a sensor or a retried
# write can never count the same run's failures twice.
failure_recordings = sa.Table(
    "failure_recordings",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("batch", sa.String(64), primary_key=True),
    sa.Column("recorded_at", UTCDateTime(), nullable=False, index=True),
)
