"""The demo's 30 days: 29 days of made-up history before today's real scrapes of the demo feeds.

So that the dashboard shows on first open what it is for: trends, a source that broke three
days ago (failing since), one whose network fails on and off, a feed that changed today (new
groups, an anomaly against its own month), a fault that came back after a quiet week (a
regressed group), a steady 83 % source that pages nobody.

Each day has one run per source, written straight into failtrack's tables (run ids
`history-<source>-<day>`: they are no Dagster runs, so no run tags) with the failure groups
today's real runs found, so a group's history and today's occurrences are one group. After
each day, `on_day` is called (the demo reports that day's dashboard to Dagster, so the
Plots tab draws 30 points and the daily partitions show as filled).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.db.schema import SCRAPE_STAGE, discovery_event_failures
from failtrack_pipeline.summaries.daily import ScrapeRun, refresh_day
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.outcome import RunStatus, events_status
from failtrack_pipeline.tracking.store import record_failures

HISTORY_DAYS = 29  # before today: 30 days in all


@dataclass(frozen=True)
class Profile:
    """How a source behaved on the days before today.

    `events`: records per ordinary run, `skipped` of them left out on purpose. Every failure
    group today's run found happened on each of those days as often as today, except the
    groups of `new` categories (first seen today) and those of `regressed` categories
    (only 20 to 12 days ago). On `broken_days` (days ago) the feed could not be read.
    """

    events: int
    skipped: int = 0
    new: frozenset[ErrorCategory] = frozenset()
    regressed: frozenset[ErrorCategory] = frozenset()
    broken_days: frozenset[int] = frozenset()
    failing_events_on_broken_days: int = 0
    seconds: float = 0.3
    hour: int = 5


_GEO = frozenset({ErrorCategory.GEOCODING, ErrorCategory.VENUE})
PROFILES: dict[str, Profile] = {
    "city_concerts": Profile(events=31, skipped=1),  # steady at 83 %: pages nobody
    "metro_meetups": Profile(events=20, new=frozenset({ErrorCategory.DATA_QUALITY})),
    # The feed changed today: coordinates and venues went missing (new groups, an anomaly).
    "riverside_theatre": Profile(events=25, skipped=1, new=_GEO),
    "harbour_festival": Profile(events=12),
    # The ftp link came back after a quiet week: a regressed group.
    "box_office": Profile(events=10, regressed=frozenset({ErrorCategory.VALIDATION})),
    # Cut off mid-record since three days ago: failing since then.
    "broken_json_feed": Profile(
        events=6, broken_days=frozenset({1, 2, 3}), failing_events_on_broken_days=2
    ),
    # The calendar's server goes down now and then, and has been down since the day before.
    "offline_calendar": Profile(events=8, broken_days=frozenset({1, 2, 15, 16})),
    "night_markets": Profile(events=6),  # before the site changed its layout
}


def seed_history(
    engine: sa.Engine,
    source_ids: Sequence[str],
    today: date,
    on_day: Callable[[date], None] = lambda day: None,
) -> list[date]:
    """Write the history of the profiled `source_ids` for the HISTORY_DAYS before `today`,
    calling `on_day` after each day; returns the days, oldest first."""
    profiled = [source_id for source_id in source_ids if source_id in PROFILES]
    groups = _todays_groups(engine, profiled)
    rng = random.Random(20261125)  # the same history on every run of the demo
    days = [today - timedelta(days=back) for back in range(HISTORY_DAYS, 0, -1)]
    for day in days:
        runs = []
        for source_id in profiled:
            run, failures = _day_of(source_id, day, (today - day).days, groups[source_id], rng)
            runs.append(run)
            if failures:
                record_failures(engine, failures, run_id=run.run_id, batch="history")
        refresh_day(engine, day, runs)
        on_day(day)
    return days


def _todays_groups(
    engine: sa.Engine, source_ids: Sequence[str]
) -> dict[str, list[tuple[ErrorCategory, str, int]]]:
    """(category, message, occurrences) of each source's groups, as today's runs left them."""
    failures = discovery_event_failures.c
    query = sa.select(
        failures.source_id,
        failures.error_category,
        failures.error_message,
        failures.occurrence_count,
    ).where(
        failures.source_id.in_(source_ids),
        failures.error_category != "silent_failure",
        failures.stage == SCRAPE_STAGE,  # the history is of scrapes
    )
    groups: dict[str, list[tuple[ErrorCategory, str, int]]] = {source: [] for source in source_ids}
    with engine.connect() as connection:
        for source_id, category, message, count in connection.execute(query):
            groups[source_id].append((ErrorCategory(category), message, count))
    return groups


def _day_of(
    source_id: str,
    day: date,
    back: int,
    groups: list[tuple[ErrorCategory, str, int]],
    rng: random.Random,
) -> tuple[ScrapeRun, list[FailureRecord]]:
    profile = PROFILES[source_id]
    started = datetime.combine(day, time(profile.hour), tzinfo=UTC) + timedelta(
        minutes=rng.randint(0, 20)
    )
    seconds = profile.seconds * rng.uniform(0.8, 1.25)
    broken = back in profile.broken_days
    if broken:
        # The run fails: the events read before the break, and the break itself.
        happened = [(c, m, 1) for c, m, _ in groups if c.value in _FEED_CATEGORIES]
        succeeded, failed, skipped = profile.failing_events_on_broken_days, 0, 0
        status = RunStatus.FAILED
    else:
        happened = [
            (category, message, count)
            for category, message, count in groups
            if category.value not in _FEED_CATEGORIES
            and category not in profile.new
            and (category not in profile.regressed or 12 <= back <= 20)
        ]
        failed = sum(count for _, _, count in happened)
        skipped = profile.skipped
        succeeded = profile.events - failed - skipped
        status = events_status(succeeded, failed)
    seen_at = started + timedelta(seconds=seconds)
    # No event ids: a group's samples stay the real events of the feed, the ones a retry of
    # the group can read again.
    failures = [
        FailureRecord(source_id, category, message, message, None, seen_at)
        for category, message, count in happened
        for _ in range(count)
    ]
    run = ScrapeRun(
        run_id=f"history-{source_id}-{day.isoformat()}",
        source_id=source_id,
        day=day,
        status=status,
        events_processed=succeeded + failed + skipped,
        events_succeeded=succeeded,
        events_failed=failed,
        started_at=started,
        ended_at=started + timedelta(seconds=seconds),
        events_skipped=skipped,
        skip_reasons={"ended": skipped} if skipped else {},
    )
    return run, failures


# Failures of the whole feed, not of single events: they come with a failed run.
_FEED_CATEGORIES = frozenset(
    {ErrorCategory.NETWORK.value, ErrorCategory.PARSING.value, ErrorCategory.RATE_LIMIT.value}
)
