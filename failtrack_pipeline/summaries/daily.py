"""Scrape runs and the per-day stats built from them.

The Dagster layer turns a day's run records (of the scrape job and the retry job: a retry
adds occurrences, so it is a run in every count too) into `ScrapeRun`s; `refresh_day` stores them in
`scrape_runs` (an upsert: harvesting a day again changes nothing) and recomputes that day's
`source_daily_stats` rows in SQL and its `source_daily_skips` rows (per skip reason), all
in one transaction. Harvested runs are never deleted here, so a day's stats can be rebuilt
after Dagster has pruned its runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from failtrack_pipeline.db.engine import dialect_insert
from failtrack_pipeline.db.schema import scrape_runs, source_daily_skips, source_daily_stats
from failtrack_pipeline.summaries.sql import count_rows, insert_select, ratio, sum_where
from failtrack_pipeline.tracking.outcome import RunStatus

_ROWS_PER_STATEMENT = 500


@dataclass(frozen=True, slots=True)
class ScrapeRun:
    """One finished scrape run, as the summaries need it.

    `events_processed` counts every record read: succeeded + failed + skipped.
    """

    run_id: str
    source_id: str
    day: date  # UTC date the run was launched
    status: RunStatus
    events_processed: int
    events_succeeded: int
    events_failed: int
    started_at: datetime
    ended_at: datetime
    events_skipped: int = 0
    skip_reasons: Mapping[str, int] = field(default_factory=dict)  # reason -> events
    is_retry: bool = False  # a retry of chosen events: a run like any other, marked

    @property
    def duration_seconds(self) -> float:
        return max((self.ended_at - self.started_at).total_seconds(), 0.0)

    def row(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "source_id": self.source_id,
            "day": self.day,
            "status": self.status.value,
            "events_processed": self.events_processed,
            "events_succeeded": self.events_succeeded,
            "events_failed": self.events_failed,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_seconds": self.duration_seconds,
            "events_skipped": self.events_skipped,
            "skip_reasons": dict(self.skip_reasons),
            "is_retry": self.is_retry,
        }


@dataclass(frozen=True)
class DayRefresh:
    day: date
    runs_harvested: int
    stats_rows: int


def refresh_day(engine: sa.Engine, day: date, runs: Sequence[ScrapeRun]) -> DayRefresh:
    """Store `runs` (all launched on `day`) and rebuild `day`'s stats, atomically."""
    strays = sorted({run.run_id for run in runs if run.day != day})
    if strays:
        raise ValueError(f"runs not launched on {day}: {', '.join(strays[:5])}")
    with engine.begin() as connection:
        upsert_scrape_runs(connection, runs)
        rows = rebuild_daily_stats(connection, day)
    return DayRefresh(day=day, runs_harvested=len(runs), stats_rows=rows)


def upsert_scrape_runs(connection: sa.Connection, runs: Sequence[ScrapeRun]) -> None:
    rows = [run.row() for run in runs]
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        insert = dialect_insert(connection, scrape_runs)
        statement = insert.values(rows[start : start + _ROWS_PER_STATEMENT])
        updated = {name: statement.excluded[name] for name in rows[0] if name != "run_id"}
        connection.execute(
            statement.on_conflict_do_update(index_elements=[scrape_runs.c.run_id], set_=updated)
        )


def rebuild_daily_stats(connection: sa.Connection, day: date) -> int:
    """Replace `day`'s rows of `source_daily_stats` and `source_daily_skips` by aggregates
    of its scrape runs; returns the number of `source_daily_stats` rows."""
    runs = scrape_runs.c
    succeeded = sa.func.sum(runs.events_succeeded)
    failed = sa.func.sum(runs.events_failed)
    per_source = (
        sa.select(
            runs.day.label("day"),
            runs.source_id.label("source_id"),
            sa.func.count().label("runs"),
            sa.func.sum(sa.case((runs.status == RunStatus.FAILED.value, 1), else_=0)).label(
                "failed_runs"
            ),
            sa.func.sum(runs.events_processed).label("events_processed"),
            succeeded.label("events_succeeded"),
            failed.label("events_failed"),
            ratio(succeeded, succeeded + failed).label("success_rate"),
            sa.func.sum(runs.events_skipped).label("events_skipped"),
            sum_where(1, runs.status == RunStatus.SILENT_FAILURE.value).label("silent_failures"),
        )
        .where(runs.day == day)
        .group_by(runs.day, runs.source_id)
    )
    connection.execute(sa.delete(source_daily_stats).where(source_daily_stats.c.day == day))
    insert_select(connection, source_daily_stats, per_source)
    _rebuild_daily_skips(connection, day)
    return count_rows(connection, source_daily_stats, source_daily_stats.c.day == day)


def _rebuild_daily_skips(connection: sa.Connection, day: date) -> None:
    """Sum the day's per-run reason counts (JSON, so added up here rather than in SQL)."""
    runs = scrape_runs.c
    skipped: Counter[tuple[str, str]] = Counter()
    query = sa.select(runs.source_id, runs.skip_reasons).where(
        runs.day == day, runs.events_skipped > 0
    )
    for source_id, reasons in connection.execute(query):
        for reason, events in reasons.items():
            skipped[(source_id, reason)] += events
    connection.execute(sa.delete(source_daily_skips).where(source_daily_skips.c.day == day))
    if skipped:
        connection.execute(
            sa.insert(source_daily_skips),
            [
                {"day": day, "source_id": source_id, "reason": reason, "events_skipped": events}
                for (source_id, reason), events in sorted(skipped.items())
            ],
        )
