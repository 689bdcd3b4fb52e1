"""`stage_success_rates`: per source and stage, event success rates and the top failure.

The `scrape` stage is counted from `source_daily_stats` (failtrack's readers, the same
numbers as `source_success_rates`); every other stage from `stage_run_counts`, which a
tracked step writes in the transaction that records its failures, so rates and failure
counts agree. A rate is succeeded / (succeeded + failed) over whole UTC days ending on
`as_of`; the top failure is the stage's group with most occurrences in the 7 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.db.schema import (
    SCRAPE_STAGE,
    source_daily_stats,
    stage_run_counts,
    stage_success_rates,
)
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.summaries.days import window_start
from failtrack_pipeline.summaries.sql import count_rows, insert_select, ratio, sum_between

WINDOW_DAYS = {"1d": 1, "7d": 7, "30d": 30}


@dataclass(frozen=True)
class StageRates:
    rows: int
    stages: int  # distinct stages among the rows


def build_stage_success_rates(engine: sa.Engine, as_of: date) -> StageRates:
    """Rebuild the table: one row per (source, stage) that ran in the 30 days."""
    with engine.begin() as connection:
        connection.execute(sa.delete(stage_success_rates))
        insert_select(connection, stage_success_rates, _rates(as_of))
        _fill_top_errors(connection, as_of)
        rows = count_rows(connection, stage_success_rates)
        stages = connection.execute(
            sa.select(sa.func.count(sa.distinct(stage_success_rates.c.stage)))
        ).scalar_one()
    return StageRates(rows=rows, stages=stages)


def _per_day() -> sa.Subquery:
    """(day, source_id, stage, processed, succeeded, failed) of every stage."""
    stats, counts = source_daily_stats.c, stage_run_counts.c
    scrape = sa.select(
        stats.day,
        stats.source_id,
        sa.literal(SCRAPE_STAGE, sa.String()).label("stage"),
        stats.events_processed.label("processed"),
        stats.events_succeeded.label("succeeded"),
        stats.events_failed.label("failed"),
    )
    tracked = sa.select(
        counts.day,
        counts.source_id,
        counts.stage,
        counts.events_processed.label("processed"),
        counts.events_succeeded.label("succeeded"),
        counts.events_failed.label("failed"),
    ).where(counts.stage != SCRAPE_STAGE)
    return sa.union_all(scrape, tracked).subquery("per_day")


def _rates(as_of: date) -> sa.Select[Any]:
    per_day = _per_day().c
    week = window_start(as_of, 7)

    def rate(days: int) -> sa.ColumnElement[float]:
        first = window_start(as_of, days)
        succeeded = sum_between(per_day.succeeded, per_day.day, first, as_of)
        failed = sum_between(per_day.failed, per_day.day, first, as_of)
        return ratio(succeeded, succeeded + failed)

    return (
        sa.select(
            per_day.source_id,
            per_day.stage,
            sa.literal(as_of, sa.Date()).label("as_of"),
            sum_between(per_day.processed, per_day.day, week, as_of).label("events_processed_7d"),
            sum_between(per_day.succeeded, per_day.day, week, as_of).label("events_succeeded_7d"),
            sum_between(per_day.failed, per_day.day, week, as_of).label("events_failed_7d"),
            *(rate(days).label(f"success_rate_{name}") for name, days in WINDOW_DAYS.items()),
        )
        .where(per_day.day.between(window_start(as_of, max(WINDOW_DAYS.values())), as_of))
        .group_by(per_day.source_id, per_day.stage)
    )


def _fill_top_errors(connection: sa.Connection, as_of: date) -> None:
    """Each row's most frequent failure group of the 7 days (ties: the latest seen)."""
    days, failures = days_table.c, failures_table.c
    occurrences = sa.func.sum(days.occurrences).label("occurrences")
    groups = connection.execute(
        sa.select(
            failures.source_id,
            failures.stage,
            failures.error_category,
            failures.error_message,
            occurrences,
        )
        .join_from(days_table, failures_table, failures.fingerprint == days.fingerprint)
        .where(days.day.between(window_start(as_of, 7), as_of))
        .group_by(
            failures.fingerprint,
            failures.source_id,
            failures.stage,
            failures.error_category,
            failures.error_message,
            failures.last_seen_at,
        )
        .order_by(occurrences.desc(), failures.last_seen_at.desc(), failures.fingerprint)
    ).all()
    top: dict[tuple[str, str], tuple[str, str]] = {}
    for source_id, stage, category, message, _ in groups:
        top.setdefault((source_id, stage), (category, message))
    table = stage_success_rates.c
    for (source_id, stage), (category, message) in top.items():
        connection.execute(
            sa.update(stage_success_rates)
            .where(table.source_id == source_id, table.stage == stage)
            .values(top_error_category=category, top_error_message=message)
        )
