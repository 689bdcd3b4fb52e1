"""source_success_rates on hand-made histories: exact rates per window, health at the
boundaries, durations, the last run, a day with no runs and a source added yesterday."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.db.schema import source_success_rates
from failtrack_pipeline.summaries.rates import Health, build_success_rates
from failtrack_pipeline.tracking.outcome import RunStatus
from failtrack_pipeline_tests.summaries.history import (
    AS_OF,
    add_day,
    at,
    days_ago,
    scrape_run,
)


def rates(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(source_success_rates)).mappings()
        return {row["source_id"]: dict(row) for row in rows}


def test_each_window_counts_exactly_its_own_days(engine: sa.Engine) -> None:
    # (days ago, succeeded, failed): today 9/1, the rest of the week 19/1 a day, the week
    # before 10/10 a day, then 1/0 a day up to 29 days ago, and a bad day just outside.
    history = [(0, 9, 1)] + [(d, 19, 1) for d in range(1, 7)] + [(d, 10, 10) for d in range(7, 14)]
    history += [(d, 1, 0) for d in range(14, 30)] + [(30, 0, 100)]
    for back, succeeded, failed in history:
        add_day(engine, days_ago(back), scrape_run("alpha", days_ago(back), succeeded, failed))

    build_success_rates(engine, ["alpha"], AS_OF, HealthThresholds())
    row = rates(engine)["alpha"]
    assert row["success_rate_1d"] == 9 / 10
    assert row["success_rate_7d"] == 123 / 130
    assert row["success_rate_prev_7d"] == 70 / 140
    assert row["success_rate_30d"] == 209 / 286
    assert row["success_rate_change_7d"] == 123 / 130 - 70 / 140
    assert (row["runs_7d"], row["failed_runs_7d"]) == (7, 0)
    assert (row["events_succeeded_7d"], row["events_failed_7d"]) == (123, 7)
    assert row["health"] == "degraded"  # 94.6 %
    assert str(row["as_of"]) == "2026-11-25"


def test_health_levels_at_the_threshold_boundaries(engine: sa.Engine) -> None:
    week = {
        "exactly_healthy": (95, 5),  # 95 %
        "just_below_healthy": (1899, 101),  # 94.95 %
        "exactly_degraded": (80, 20),  # 80 %
        "just_below_degraded": (1599, 401),  # 79.95 %
    }
    for source_id, (succeeded, failed) in week.items():
        add_day(engine, days_ago(3), scrape_run(source_id, days_ago(3), succeeded, failed))
    # Runs that read no event are judged by their outcome.
    add_day(
        engine,
        days_ago(2),
        scrape_run("feed_down", days_ago(2), 0, 0, status=RunStatus.FAILED),
        scrape_run("empty_feed", days_ago(2), 0, 0),
        # Every event good, but the only run broke off: 100 % of events, 0 % of runs.
        scrape_run("breaks_off", days_ago(2), 2, 0, status=RunStatus.FAILED),
    )
    # Perfect events, one failed run in seven: 6/7 = 85.7 % of runs.
    for back in range(7):
        status = RunStatus.FAILED if back == 3 else RunStatus.SUCCESS
        add_day(
            engine, days_ago(back), scrape_run("one_bad_run", days_ago(back), 10, 0, status=status)
        )
    add_day(engine, days_ago(8), scrape_run("quiet_this_week", days_ago(8), 1, 0))

    sources = [*week, "feed_down", "empty_feed", "breaks_off", "one_bad_run", "quiet_this_week"]
    summary = build_success_rates(engine, [*sources, "never_ran"], AS_OF, HealthThresholds())
    assert {source: row["health"] for source, row in rates(engine).items()} == {
        "exactly_healthy": "healthy",
        "just_below_healthy": "degraded",
        "exactly_degraded": "degraded",
        "just_below_degraded": "failing",
        "feed_down": "failing",
        "empty_feed": "healthy",
        "breaks_off": "failing",
        "one_bad_run": "degraded",
        "quiet_this_week": "no_data",
        "never_ran": "no_data",
    }
    assert summary.rows == 10
    assert summary.sources_by_health == {
        Health.HEALTHY: 2,
        Health.DEGRADED: 3,
        Health.FAILING: 3,
        Health.STALE: 0,
        Health.NO_DATA: 2,
    }
    assert summary.sources_by_health[Health.FAILING] == 3
    assert summary.overall_success_rate_7d == (95 + 1899 + 80 + 1599 + 2 + 70) / (
        100 + 2000 + 100 + 2000 + 2 + 70
    )


def test_thresholds_are_configurable_and_must_be_ordered(engine: sa.Engine) -> None:
    add_day(engine, AS_OF, scrape_run("alpha", AS_OF, 85, 15))
    build_success_rates(engine, ["alpha"], AS_OF, HealthThresholds(healthy=0.85, degraded=0.5))
    assert rates(engine)["alpha"]["health"] == "healthy"
    build_success_rates(engine, ["alpha"], AS_OF, HealthThresholds(healthy=0.99, degraded=0.9))
    assert rates(engine)["alpha"]["health"] == "failing"
    for healthy, degraded in [(0.8, 0.9), (0.9, 0.0), (1.1, 0.5)]:
        with pytest.raises(ValueError, match="0 < degraded <= healthy <= 1"):
            HealthThresholds(healthy=healthy, degraded=degraded)


def test_durations_are_the_mean_and_nearest_rank_p95_of_30_days(engine: sa.Engine) -> None:
    for back in range(21):  # 21 runs of 1..21 s (the slowest today), then an old slow one
        add_day(
            engine, days_ago(back), scrape_run("alpha", days_ago(back), 1, 0, seconds=21 - back)
        )
    add_day(engine, days_ago(30), scrape_run("alpha", days_ago(30), 1, 0, seconds=999))
    add_day(engine, days_ago(5), scrape_run("beta", days_ago(5), 1, 0, seconds=7.5))

    build_success_rates(engine, ["alpha", "beta"], AS_OF, HealthThresholds())
    alpha, beta = rates(engine)["alpha"], rates(engine)["beta"]
    assert alpha["mean_duration_seconds"] == pytest.approx(11.0)
    assert alpha["p95_duration_seconds"] == 20.0  # ceil(0.95 * 21) = 20th shortest
    assert (beta["mean_duration_seconds"], beta["p95_duration_seconds"]) == (7.5, 7.5)


def test_the_last_run_is_the_latest_up_to_as_of(engine: sa.Engine) -> None:
    add_day(
        engine,
        days_ago(1),
        scrape_run("alpha", days_ago(1), 5, 0, hour=5),
        scrape_run("alpha", days_ago(1), 0, 0, status=RunStatus.FAILED, hour=18),
    )
    add_day(engine, days_ago(-1), scrape_run("alpha", days_ago(-1), 5, 0))  # after as_of

    build_success_rates(engine, ["alpha"], AS_OF, HealthThresholds())
    row = rates(engine)["alpha"]
    assert (row["last_run_status"], row["last_run_at"]) == ("failed", at(days_ago(1), 18))


def test_a_day_without_runs_leaves_the_1_day_rate_empty_not_zero(engine: sa.Engine) -> None:
    add_day(engine, days_ago(2), scrape_run("alpha", days_ago(2), 3, 1))
    add_day(engine, days_ago(1))  # nothing ran yesterday
    build_success_rates(engine, ["alpha"], AS_OF, HealthThresholds())  # nor today
    row = rates(engine)["alpha"]
    assert row["success_rate_1d"] is None
    assert (row["success_rate_7d"], row["runs_7d"], row["health"]) == (0.75, 1, "failing")


def test_a_source_added_yesterday_is_judged_on_its_two_days_only(engine: sa.Engine) -> None:
    add_day(engine, days_ago(1), scrape_run("newcomer", days_ago(1), 18, 2))
    add_day(engine, AS_OF, scrape_run("newcomer", AS_OF, 20, 0))
    build_success_rates(engine, ["newcomer"], AS_OF, HealthThresholds())
    row = rates(engine)["newcomer"]
    assert (row["success_rate_1d"], row["success_rate_7d"], row["success_rate_30d"]) == (
        1.0,
        38 / 40,
        38 / 40,
    )
    assert (row["success_rate_prev_7d"], row["success_rate_change_7d"]) == (None, None)
    assert row["health"] == "healthy"


def test_every_listed_source_gets_one_row_and_unlisted_ones_none(engine: sa.Engine) -> None:
    add_day(engine, AS_OF, scrape_run("kept", AS_OF, 1, 0), scrape_run("removed", AS_OF, 1, 0))
    build_success_rates(engine, ["kept", "added"], AS_OF, HealthThresholds())
    assert sorted(rates(engine)) == ["added", "kept"]
    build_success_rates(engine, ["kept"], AS_OF, HealthThresholds())  # a rebuild replaces the table
    assert sorted(rates(engine)) == ["kept"]


def test_skipped_events_count_in_no_rate_and_silent_failures_show(engine: sa.Engine) -> None:
    add_day(
        engine,
        days_ago(1),
        scrape_run("alpha", days_ago(1), 18, 2, skipped={"ended": 30}),
        scrape_run("alpha", days_ago(1), 0, 0, status=RunStatus.SILENT_FAILURE, hour=17),
    )
    add_day(engine, AS_OF, scrape_run("alpha", AS_OF, 9, 1, skipped={"cancelled": 5}))
    # Only silent failures and a failed run: no event to judge, so runs stand in.
    add_day(
        engine,
        days_ago(2),
        scrape_run("beta", days_ago(2), 0, 0, status=RunStatus.SILENT_FAILURE),
        scrape_run("beta", days_ago(2), 0, 0, status=RunStatus.FAILED, hour=6),
        scrape_run("beta", days_ago(2), 0, 0, hour=7),
    )

    summary = build_success_rates(engine, ["alpha", "beta"], AS_OF, HealthThresholds())
    alpha, beta = rates(engine)["alpha"], rates(engine)["beta"]
    assert alpha["success_rate_1d"] == 9 / 10  # not 9 / 15
    assert alpha["success_rate_7d"] == 27 / 30  # not 27 / 65
    assert (alpha["events_skipped_7d"], alpha["silent_failures_7d"]) == (35, 1)
    # Events at 90 %, but one run in 3 was silent: the worse, 2/3 of runs, decides.
    assert (alpha["runs_7d"], alpha["failed_runs_7d"], alpha["health"]) == (3, 0, "failing")
    assert (beta["silent_failures_7d"], beta["runs_7d"]) == (1, 3)
    assert beta["health"] == "failing"  # 1 good run of 3
    assert summary.overall_success_rate_7d == 27 / 30
