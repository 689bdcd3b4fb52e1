"""Hand-made histories: scrape runs and failures on chosen days, no clock involved."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.summaries.daily import ScrapeRun, refresh_day
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.outcome import RunStatus
from failtrack_pipeline.tracking.store import record_failures

AS_OF = date(2026, 11, 25)
_ids = itertools.count()


def days_ago(days: int) -> date:
    return AS_OF - timedelta(days=days)


def at(day: date, hour: int = 5) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def scrape_run(
    source_id: str,
    day: date,
    succeeded: int,
    failed: int,
    *,
    status: RunStatus | None = None,
    hour: int = 5,
    seconds: float = 60.0,
    skipped: dict[str, int] | None = None,
) -> ScrapeRun:
    """A run of `source_id`; `skipped` counts events skipped per reason."""
    started = at(day, hour)
    skipped = skipped or {}
    return ScrapeRun(
        run_id=f"run-{next(_ids)}",
        source_id=source_id,
        day=day,
        status=status or (RunStatus.PARTIAL if failed else RunStatus.SUCCESS),
        events_processed=succeeded + failed + sum(skipped.values()),
        events_succeeded=succeeded,
        events_failed=failed,
        started_at=started,
        ended_at=started + timedelta(seconds=seconds),
        events_skipped=sum(skipped.values()),
        skip_reasons=skipped,
    )


def add_day(engine: sa.Engine, day: date, *runs: ScrapeRun) -> None:
    """Store the runs of `day` and build its stats, as the daily partition does."""
    refresh_day(engine, day, list(runs))


def add_failures(
    engine: sa.Engine,
    source_id: str,
    message: str,
    day: date,
    count: int = 1,
    category: ErrorCategory = ErrorCategory.VALIDATION,
) -> None:
    seen_at = at(day)
    failures = [
        FailureRecord(source_id, category, message, f"{message} #{i}", f"ev-{i}", seen_at)
        for i in range(count)
    ]
    record_failures(engine, failures, run_id=f"run-{next(_ids)}", batch="events")
