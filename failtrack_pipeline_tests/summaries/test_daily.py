"""scrape_runs and source_daily_stats: what a day's refresh stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from failtrack_pipeline.db.schema import scrape_runs, source_daily_skips, source_daily_stats
from failtrack_pipeline.summaries.daily import refresh_day
from failtrack_pipeline.tracking.outcome import RunStatus
from failtrack_pipeline_tests.summaries.history import AS_OF, days_ago, scrape_run


def stats(engine: sa.Engine) -> dict[tuple[str, str], tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(source_daily_stats))
        return {(str(row.day), row.source_id): tuple(row)[2:] for row in rows}


def test_a_day_counts_runs_failed_runs_events_and_the_event_success_rate(
    engine: sa.Engine,
) -> None:
    refresh = refresh_day(
        engine,
        AS_OF,
        [
            scrape_run("alpha", AS_OF, 30, 10),
            scrape_run("alpha", AS_OF, 10, 0, hour=17),
            scrape_run("alpha", AS_OF, 0, 0, status=RunStatus.FAILED, hour=20),
            scrape_run("beta", AS_OF, 0, 0, status=RunStatus.FAILED),
        ],
    )
    assert (refresh.runs_harvested, refresh.stats_rows) == (4, 2)
    assert stats(engine) == {
        # runs, failed_runs, processed, succeeded, failed, success_rate, skipped, silent runs
        ("2026-11-25", "alpha"): (3, 1, 50, 40, 10, 0.8, 0, 0),
        ("2026-11-25", "beta"): (1, 1, 0, 0, 0, None, 0, 0),  # no events: no rate
    }


def test_harvesting_a_day_again_gives_the_same_rows(engine: sa.Engine) -> None:
    runs = [scrape_run("alpha", AS_OF, 9, 1), scrape_run("beta", AS_OF, 5, 5)]
    refresh_day(engine, AS_OF, runs)
    first = stats(engine)
    refresh_day(engine, AS_OF, runs)
    assert stats(engine) == first
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(scrape_runs)).scalar() == 2


def test_a_run_harvested_again_with_new_tags_is_updated_not_added(engine: sa.Engine) -> None:
    run = scrape_run("alpha", AS_OF, 0, 0, status=RunStatus.FAILED)
    refresh_day(engine, AS_OF, [run])
    refresh_day(
        engine,
        AS_OF,
        [
            replace(
                run,
                status=RunStatus.PARTIAL,
                events_processed=4,
                events_succeeded=3,
                events_failed=1,
            )
        ],
    )
    assert stats(engine) == {("2026-11-25", "alpha"): (1, 0, 4, 3, 1, 0.75, 0, 0)}


def test_a_days_stats_survive_once_dagster_has_pruned_its_runs(engine: sa.Engine) -> None:
    refresh_day(engine, days_ago(1), [scrape_run("alpha", days_ago(1), 3, 1)])
    refresh_day(engine, days_ago(1), [])  # the runs are gone from Dagster: nothing harvested
    assert stats(engine) == {("2026-11-24", "alpha"): (1, 0, 4, 3, 1, 0.75, 0, 0)}


def test_a_day_with_no_runs_has_no_rows_and_leaves_other_days_alone(engine: sa.Engine) -> None:
    refresh_day(engine, days_ago(2), [scrape_run("alpha", days_ago(2), 1, 0)])
    assert refresh_day(engine, days_ago(1), []).stats_rows == 0
    assert list(stats(engine)) == [("2026-11-23", "alpha")]


def test_runs_launched_on_another_day_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="not launched on 2026-11-25"):
        refresh_day(engine, AS_OF, [scrape_run("alpha", days_ago(1), 1, 0)])


def test_skips_are_counted_apart_by_reason_and_left_out_of_the_success_rate(
    engine: sa.Engine,
) -> None:
    refresh_day(
        engine,
        AS_OF,
        [
            scrape_run("alpha", AS_OF, 6, 2, skipped={"ended": 5, "cancelled": 1}),
            scrape_run("alpha", AS_OF, 2, 0, hour=17, skipped={"ended": 3}),
            scrape_run("beta", AS_OF, 0, 0, status=RunStatus.SILENT_FAILURE),
            scrape_run("beta", AS_OF, 10, 0, hour=17, skipped={"ignored_category": 2}),
        ],
    )
    assert stats(engine) == {
        # processed = 8 + 6 skipped + 2 + 3 skipped; rate = 8 / (8 + 2), not 8 / 19
        ("2026-11-25", "alpha"): (2, 0, 19, 8, 2, 0.8, 9, 0),
        ("2026-11-25", "beta"): (2, 0, 12, 10, 0, 1.0, 2, 1),
    }
    with engine.connect() as connection:
        rows = connection.execute(sa.select(source_daily_skips)).all()
    assert sorted((str(day), *rest) for day, *rest in rows) == [
        ("2026-11-25", "alpha", "cancelled", 1),
        ("2026-11-25", "alpha", "ended", 8),
        ("2026-11-25", "beta", "ignored_category", 2),
    ]
    # Another harvest of the day rebuilds its skips from every run stored for it.
    refresh_day(engine, AS_OF, [scrape_run("gamma", AS_OF, 1, 0)])
    with engine.connect() as connection:
        skips_left = connection.execute(
            sa.select(source_daily_skips.c.source_id).where(source_daily_skips.c.day == AS_OF)
        ).all()
    assert {source for (source,) in skips_left} == {"alpha", "beta"}  # their runs are kept
