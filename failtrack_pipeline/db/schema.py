"""Every table failtrack owns, in one place. Migrations under `migrations/` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()


_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


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

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, process_bind_param and the text SQLAlchemy's DATETIME makes of the
        naive value (`YYYY-MM-DD HH:MM:SS.ffffff`) in one step: a scrape binds two per event."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is not None and value.tzinfo is UTC:  # as validation makes them
                # isoformat(" ", "microseconds") without its "+00:00", in half the time
                return _SQLITE_DATETIME % (
                    value.year,
                    value.month,
                    value.day,
                    value.hour,
                    value.minute,
                    value.second,
                    value.microsecond,
                )
            naive = self.process_bind_param(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The step of an event pipeline a failure happened in: failtrack's own readers are `scrape`.
SCRAPE_STAGE = "scrape"
STAGE_COMMENT = "the pipeline step: scrape (failtrack's readers) or a tracked step's name"

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
    # The normalizer rules the row was grouped by (tracking.normalize.GROUPING_VERSION).
    sa.Column("grouping_version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("stage", sa.String(64), nullable=False, server_default=SCRAPE_STAGE),
    sa.Index("ix_failures_source_last_seen", "source_id", "last_seen_at"),
    sa.Index("ix_failures_category_last_seen", "error_category", "last_seen_at"),
    sa.Index("ix_failures_last_seen", "last_seen_at"),
)

# Occurrences per group and UTC day: what "last 7 days", "new" and "regressed" are computed from.
# Keyed by the group's id, which grows with each new group: a batch of new groups appends to
# the key's index, where their random fingerprints touched a page of it each. Readers join
# and filter on `fingerprint`, which the writer keeps equal to the group's.
discovery_event_failure_days = sa.Table(
    "discovery_event_failure_days",
    metadata,
    sa.Column("group_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("source_id", sa.String(64), nullable=False),
    sa.Column("occurrences", sa.BigInteger(), nullable=False),
    sa.Column("stage", sa.String(64), nullable=False, server_default=SCRAPE_STAGE),
    sa.Index("ix_failure_days_day_source", "day", "source_id"),
)

# Written with the failures of a tracked step (`tracking.tracker`), in the same transaction:
# how many events one run's step handled per source, so success rates exist per stage.
stage_run_counts = sa.Table(
    "stage_run_counts",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True, comment="Dagster run id"),
    sa.Column("batch", sa.String(64), primary_key=True, comment="the recording's batch"),
    sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
    sa.Column("stage", sa.String(64), primary_key=True, comment=STAGE_COMMENT),
    sa.Column("day", sa.Date(), nullable=False, index=True, comment="UTC date it was recorded"),
    sa.Column("events_processed", sa.Integer(), nullable=False, comment="events handled"),
    sa.Column("events_succeeded", sa.Integer(), nullable=False, comment="events that succeeded"),
    sa.Column("events_failed", sa.Integer(), nullable=False, comment="events that failed"),
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

# Written by each scrape run as it ends (its last attempt): how many of its accepted events
# had each optional field filled. The dashboard turns it into daily coverage per source.
run_field_coverage = sa.Table(
    "run_field_coverage",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True, comment="Dagster run id"),
    sa.Column("field", sa.String(32), primary_key=True, comment="the optional event field"),
    sa.Column("source_id", sa.String(64), nullable=False, comment="the source the run scraped"),
    sa.Column("day", sa.Date(), nullable=False, index=True, comment="UTC date the run ended"),
    sa.Column("accepted", sa.Integer(), nullable=False, comment="events the run accepted"),
    sa.Column("filled", sa.Integer(), nullable=False, comment="of those, with the field filled"),
)

RUN_STATUS_COMMENT = "success, partial, failed or silent_failure"
TRIAGE_STATE_COMMENT = "open, resolved or ignored (ignoring over: open again)"
EMPTY_JSON_OBJECT = sa.text("'{}'")

# --- Summary tables (the dashboard). Column comments are the analysts' reference: they reach
# PostgreSQL's catalog, the Dagster UI's column schema and docs/analysts.md.

scrape_runs = sa.Table(
    "scrape_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True, comment="Dagster run id"),
    sa.Column("source_id", sa.String(64), nullable=False, comment="the source the run scraped"),
    sa.Column("day", sa.Date(), nullable=False, comment="UTC date the run was launched"),
    sa.Column("status", sa.String(16), nullable=False, comment=RUN_STATUS_COMMENT),
    sa.Column("events_processed", sa.Integer(), nullable=False, comment="events read"),
    sa.Column("events_succeeded", sa.Integer(), nullable=False, comment="events stored"),
    sa.Column("events_failed", sa.Integer(), nullable=False, comment="events that failed"),
    sa.Column("started_at", UTCDateTime(), nullable=False, comment="when the run started (UTC)"),
    sa.Column("ended_at", UTCDateTime(), nullable=False, comment="when the run ended (UTC)"),
    sa.Column("duration_seconds", sa.Float(), nullable=False, comment="ended_at - started_at"),
    sa.Column(
        "events_skipped",
        sa.Integer(),
        nullable=False,
        server_default="0",
        comment="events left out on purpose",
    ),
    sa.Column(
        "skip_reasons",
        sa.JSON(),
        nullable=False,
        server_default=EMPTY_JSON_OBJECT,
        comment="events skipped per reason",
    ),
    sa.Column(
        "is_retry",
        sa.Boolean(),
        nullable=False,
        server_default=sa.false(),
        comment="a run of retry_events_job (chosen events only), counted like any run",
    ),
    sa.Index("ix_scrape_runs_day_source", "day", "source_id"),
    sa.Index("ix_scrape_runs_source_started", "source_id", "started_at"),
    comment="One row per finished scrape run, harvested from Dagster's run records",
)

source_daily_stats = sa.Table(
    "source_daily_stats",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True, comment="UTC date"),
    sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
    sa.Column("runs", sa.Integer(), nullable=False, comment="scrape runs that day"),
    sa.Column("failed_runs", sa.Integer(), nullable=False, comment="runs with status failed"),
    sa.Column("events_processed", sa.Integer(), nullable=False, comment="events read"),
    sa.Column("events_succeeded", sa.Integer(), nullable=False, comment="events stored"),
    sa.Column("events_failed", sa.Integer(), nullable=False, comment="events that failed"),
    sa.Column(
        "success_rate",
        sa.Float(),
        comment="events_succeeded / (events_succeeded + events_failed); NULL without events",
    ),
    sa.Column(
        "events_skipped",
        sa.Integer(),
        nullable=False,
        server_default="0",
        comment="events left out on purpose",
    ),
    sa.Column(
        "silent_failures",
        sa.Integer(),
        nullable=False,
        server_default="0",
        comment="runs with status silent_failure",
    ),
    comment="Per source and UTC day: runs and events; outlives the runs it was built from",
)

source_daily_skips = sa.Table(
    "source_daily_skips",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True, comment="UTC date"),
    sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
    sa.Column("reason", sa.String(32), primary_key=True, comment="why events were skipped"),
    sa.Column("events_skipped", sa.Integer(), nullable=False, comment="events skipped"),
    comment="Per source, UTC day and reason: events left out on purpose",
)

# The source's worst field in the overview (from source_field_coverage and run_field_coverage).
COVERAGE_OVERVIEW_COLUMNS = (
    sa.Column(
        "coverage_field",
        sa.String(32),
        comment="the worst optional field: one below its minimum or dropped on as_of, "
        "else the least filled over the 7 days",
    ),
    sa.Column(
        "coverage_7d", sa.Float(), comment="share of the 7 days' accepted events with it filled"
    ),
    sa.Column(
        "coverage_state",
        sa.String(16),
        comment="below_minimum, dropped or ok on as_of (source_field_coverage); NULL: not judged",
    ),
)

source_success_rates = sa.Table(
    "source_success_rates",
    metadata,
    sa.Column("source_id", sa.String(64), primary_key=True, comment="every source in the file"),
    sa.Column("as_of", sa.Date(), nullable=False, comment="last UTC day of every window"),
    sa.Column("success_rate_1d", sa.Float(), comment="event success rate on as_of"),
    sa.Column("success_rate_7d", sa.Float(), comment="over the 7 days ending on as_of"),
    sa.Column("success_rate_30d", sa.Float(), comment="over the 30 days ending on as_of"),
    sa.Column("success_rate_prev_7d", sa.Float(), comment="over the 7 days before those"),
    sa.Column(
        "success_rate_change_7d", sa.Float(), comment="success_rate_7d - success_rate_prev_7d"
    ),
    sa.Column("runs_7d", sa.Integer(), nullable=False, comment="runs in the 7 days"),
    sa.Column("failed_runs_7d", sa.Integer(), nullable=False, comment="failed runs in the 7 days"),
    sa.Column(
        "events_succeeded_7d", sa.Integer(), nullable=False, comment="events stored in the 7 days"
    ),
    sa.Column(
        "events_failed_7d", sa.Integer(), nullable=False, comment="failed events in the 7 days"
    ),
    sa.Column("mean_duration_seconds", sa.Float(), comment="mean run duration over the 30 days"),
    sa.Column(
        "p95_duration_seconds", sa.Float(), comment="95th percentile (nearest rank), 30 days"
    ),
    sa.Column("last_run_status", sa.String(16), comment="status of the latest run up to as_of"),
    sa.Column("last_run_at", UTCDateTime(), comment="when the latest run started (UTC)"),
    sa.Column(
        "health", sa.String(16), nullable=False, comment="healthy, degraded, failing or no_data"
    ),
    sa.Column(
        "events_skipped_7d",
        sa.Integer(),
        nullable=False,
        server_default="0",
        comment="events skipped in the 7 days",
    ),
    sa.Column(
        "silent_failures_7d",
        sa.Integer(),
        nullable=False,
        server_default="0",
        comment="silent-failure runs in the 7 days",
    ),
    sa.Column(
        "success_rate_zscore", sa.Float(), comment="robust z-score of success_rate_1d, 30 days"
    ),
    sa.Column("duration_zscore", sa.Float(), comment="robust z-score of as_of's mean duration"),
    sa.Column(
        "anomaly",
        sa.String(32),
        comment="success_rate and/or duration (comma-separated); NULL: none",
    ),
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
        UTCDateTime(),
        comment="start of the first of the unbroken latest runs that were not a success",
    ),
    sa.Column("last_success_at", UTCDateTime(), comment="start of the latest successful run"),
    *COVERAGE_OVERVIEW_COLUMNS,
    comment="Per source: success rates over 1, 7 and 30 days, durations and a health level",
)

error_category_breakdown = sa.Table(
    "error_category_breakdown",
    metadata,
    sa.Column("source_id", sa.String(64), primary_key=True, comment="a source, or * for all"),
    sa.Column("stage", sa.String(64), primary_key=True, comment=STAGE_COMMENT),
    sa.Column("error_category", sa.String(32), primary_key=True, comment="the category"),
    sa.Column("occurrences", sa.BigInteger(), nullable=False, comment="failures counted"),
    sa.Column(
        "share_of_source",
        sa.Float(),
        nullable=False,
        comment="share of the source's failures in the stage",
    ),
    sa.Column("distinct_groups", sa.Integer(), nullable=False, comment="failure groups"),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False, comment="latest occurrence (UTC)"),
    sa.Column("next_step", sa.Text(), nullable=False, comment="suggested next step"),
    comment="Failures per source, stage and category over the retention period",
)

top_failure_groups = sa.Table(
    "top_failure_groups",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True, comment="the group's id"),
    sa.Column("rank", sa.Integer(), nullable=False, comment="1 = most occurrences in 7 days"),
    sa.Column("source_id", sa.String(64), nullable=False, comment="the source"),
    sa.Column("error_category", sa.String(32), nullable=False, comment="the category"),
    sa.Column("error_message", sa.String(1000), nullable=False, comment="parameterized message"),
    sa.Column(
        "stage", sa.String(64), nullable=False, server_default=SCRAPE_STAGE, comment=STAGE_COMMENT
    ),
    sa.Column(
        "occurrences_7d", sa.BigInteger(), nullable=False, comment="in the 7 days ending on as_of"
    ),
    sa.Column("occurrences_total", sa.BigInteger(), nullable=False, comment="since first seen"),
    sa.Column("sample_external_ids", sa.JSON(), nullable=False, comment="newest failing ids"),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False, comment="first occurrence (UTC)"),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False, comment="latest occurrence (UTC)"),
    sa.Column("is_new", sa.Boolean(), nullable=False, comment="first seen on as_of"),
    sa.Column(
        "is_regressed",
        sa.Boolean(),
        nullable=False,
        comment="seen on as_of after at least 7 quiet days",
    ),
    sa.Column("as_of", sa.Date(), nullable=False, comment="last UTC day of the window"),
    sa.Column(
        "failure_group_id",
        sa.BigInteger(),
        comment="the discovery_event_failures id: what retry_events_job's failure_group_id takes",
    ),
    sa.Column(
        "occurrences_24h",
        sa.BigInteger(),
        nullable=False,
        server_default="0",
        comment="on as_of (its UTC day)",
    ),
    sa.Column("last_run_id", sa.String(64), comment="the Dagster run that last saw it"),
    sa.Column(
        "triage_state",
        sa.String(16),
        nullable=False,
        server_default="open",
        comment=TRIAGE_STATE_COMMENT,
    ),
    comment="The 20 groups with most occurrences in 7 days, plus every new or regressed one",
)

stage_success_rates = sa.Table(
    "stage_success_rates",
    metadata,
    sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
    sa.Column("stage", sa.String(64), primary_key=True, comment=STAGE_COMMENT),
    sa.Column("as_of", sa.Date(), nullable=False, comment="last UTC day of every window"),
    sa.Column("events_processed_7d", sa.Integer(), nullable=False, comment="in the 7 days"),
    sa.Column("events_succeeded_7d", sa.Integer(), nullable=False, comment="in the 7 days"),
    sa.Column("events_failed_7d", sa.Integer(), nullable=False, comment="in the 7 days"),
    sa.Column("success_rate_1d", sa.Float(), comment="event success rate on as_of"),
    sa.Column("success_rate_7d", sa.Float(), comment="over the 7 days ending on as_of"),
    sa.Column("success_rate_30d", sa.Float(), comment="over the 30 days ending on as_of"),
    sa.Column("top_error_category", sa.String(32), comment="category of top_error_message"),
    sa.Column(
        "top_error_message",
        sa.String(1000),
        comment="the stage's failure group with most occurrences in the 7 days",
    ),
    comment="Per source and stage: event success rates over 1, 7 and 30 days, the top failure",
)


source_field_coverage = sa.Table(
    "source_field_coverage",
    metadata,
    sa.Column("source_id", sa.String(64), primary_key=True, comment="the source"),
    sa.Column("field", sa.String(32), primary_key=True, comment="the optional event field"),
    sa.Column("day", sa.Date(), nullable=False, comment="the UTC day described (as_of)"),
    sa.Column("accepted", sa.Integer(), nullable=False, comment="events accepted that day"),
    sa.Column("filled", sa.Integer(), nullable=False, comment="of those, with the field filled"),
    sa.Column("coverage", sa.Float(), comment="filled / accepted (0..1)"),
    sa.Column("coverage_median_30d", sa.Float(), comment="median daily coverage, 30 days before"),
    sa.Column("coverage_zscore", sa.Float(), comment="robust z of the day against those 30 days"),
    sa.Column("min_coverage", sa.Float(), comment="the source's min_coverage for the field"),
    sa.Column("problem", sa.String(16), comment="below_minimum, dropped (z <= -3.5) or NULL: fine"),
)


# --- Triage and alerts.

# A failure group's triage: open (the default, no row), resolved or ignored; who set it,
# when and why. A resolved group seen again is open again and counts a regression.
failure_group_triage = sa.Table(
    "failure_group_triage",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("resolved_in_version", sa.String(100)),
    sa.Column("ignored_until", UTCDateTime()),
    sa.Column("ignored_until_occurrences", sa.BigInteger()),
    sa.Column("regressions", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("regressed_at", UTCDateTime()),
    sa.Column("changed_by", sa.String(100), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    sa.Column("note", sa.Text()),
)

# The last state announced (or first observed) per condition and subject (a source, a
# group's fingerprint): a notification is raised only when the state changes.
alert_states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("condition", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(200), primary_key=True),
    sa.Column("state", sa.String(100), nullable=False),
    sa.Column("announced_at", UTCDateTime()),
    sa.Column("observed_at", UTCDateTime(), nullable=False),
)

# One row per notification and channel: what was announced, to whom, when it was sent; an
# unsent row is retried with backoff until its channel takes it.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("condition", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("state", sa.String(100), nullable=False),
    sa.Column("previous_state", sa.String(100)),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("message", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text()),
    sa.Index("ix_notifications_pending", "sent_at", "next_attempt_at"),
    sa.Index("ix_notifications_created", "created_at"),
)
