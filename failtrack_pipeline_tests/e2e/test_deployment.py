"""failtrack deployed as in production, end to end: PostgreSQL, the run queue, the daemon.

A real `dagster-daemon` and `dagster-webserver` on loopback over the shipped PostgreSQL
`dagster.yaml`; runs are launched through the webserver as from the UI, queued, and started
by the daemon in their own worker processes. Slow: about two minutes.
"""

from __future__ import annotations

import os
import signal
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dagster import DagsterRun, DagsterRunStatus, RunsFilter

from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.schema import source_daily_stats, source_success_rates
from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB, dashboard_run_request
from failtrack_pipeline.defs.run_tags import tagged_counts
from failtrack_pipeline.summaries.days import utc_today
from failtrack_pipeline.testing.deployment import (
    Deployment,
    peak_concurrency,
    running_deployment,
    timeline,
    write_sources_file,
)
from failtrack_pipeline.testing.postgres import fresh_postgres_database
from failtrack_pipeline.tracking.spool import FailureSpool
from failtrack_pipeline_tests.conftest import scrape_config
from failtrack_pipeline_tests.defs.test_demo_sources import EXPECTED_GROUPS, EXPECTED_STATUS
from failtrack_pipeline_tests.defs.test_scrape_job import failure_rows
from failtrack_pipeline_tests.e2e.stuck_scraper import PID_FILE_ENV, STALLING_FAILURES

pytestmark = pytest.mark.slow

SCRAPE_JOB = "scrape_sources_job"
DEMO_SOURCES = list(EXPECTED_STATUS)  # every enabled demo source
MAX_CONCURRENT_RUNS = 8
STUCK_SOURCE = {
    "id": "stuck",
    "name": "A scraper that hangs",
    "kind": "python",
    "callable": "failtrack_pipeline_tests.e2e.stuck_scraper:fetch_events",
}
STALLING_SOURCE = {
    "id": "stalling",
    "name": "A scraper that fails thousands of events, then hangs",
    "kind": "python",
    "callable": "failtrack_pipeline_tests.e2e.stuck_scraper:fail_then_hang",
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deployment")


@pytest.fixture(scope="module")
def failtrack_engine(postgres_server_url: str) -> Iterator[sa.Engine]:
    with fresh_postgres_database(postgres_server_url) as url:
        engine = create_db_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def deployment(
    postgres_server_url: str, failtrack_engine: sa.Engine, workdir: Path
) -> Iterator[Deployment]:
    sources = write_sources_file(workdir / "sources.yaml", [STUCK_SOURCE, STALLING_SOURCE])
    with (
        fresh_postgres_database(postgres_server_url) as dagster_url,
        running_deployment(
            workdir / "home",
            dagster_postgres_url=dagster_url,
            failtrack_url=failtrack_engine.url.render_as_string(hide_password=False),
            sources_file=sources,
            max_concurrent_runs=MAX_CONCURRENT_RUNS,
            extra_env={PID_FILE_ENV: str(workdir / "stuck.pid")},
        ) as running,
    ):
        yield running


def backfill_runs(deployment: Deployment, backfill_id: str, count: int) -> list[DagsterRun]:
    return deployment.wait_for_runs(
        RunsFilter(tags={"dagster/backfill": backfill_id}), count, timeout=600
    )


def test_two_backfills_of_every_source_run_through_the_queue_one_run_per_source_at_a_time(
    deployment: Deployment, failtrack_engine: sa.Engine
) -> None:
    first = deployment.launch_backfill(SCRAPE_JOB, DEMO_SOURCES, scrape_config())
    second = deployment.launch_backfill(SCRAPE_JOB, DEMO_SOURCES, scrape_config())
    runs = backfill_runs(deployment, first, 8) + backfill_runs(deployment, second, 8)
    check_runs_tagged_as_their_feeds_imply(runs)

    # The queue: eight sources at once, never two runs of one source.
    timelines = {run.run_id: timeline(deployment.instance, run.run_id) for run in runs}
    assert peak_concurrency(list(timelines.values())) == MAX_CONCURRENT_RUNS
    by_source: dict[str, list[DagsterRun]] = defaultdict(list)
    for run in runs:
        by_source[run.tags["failtrack/source"]].append(run)
    for source, (one, other) in by_source.items():
        pair = (timelines[one.run_id], timelines[other.run_id])
        earlier, later = sorted(pair, key=lambda moments: moments.launched)
        assert later.launched >= earlier.ended, f"two runs of {source} overlapped"

    check_tables_match_the_runs(deployment, failtrack_engine, runs, backfills=2)


def check_runs_tagged_as_their_feeds_imply(runs: list[DagsterRun]) -> None:
    """Every run is its source's, tagged at creation and with the outcome the feed implies."""
    for run in runs:
        source = run.tags["dagster/partition"]
        assert run.tags["failtrack/source"] == source
        assert run.tags["failtrack/status"] == EXPECTED_STATUS[source], run.run_id
        expected_run_status = (
            DagsterRunStatus.FAILURE
            if EXPECTED_STATUS[source] == "failed"
            else DagsterRunStatus.SUCCESS
        )
        assert run.status == expected_run_status


def check_tables_match_the_runs(
    deployment: Deployment,
    engine: sa.Engine,
    runs: list[DagsterRun],
    backfills: int,
    dashboard_config: Mapping[str, Any] | None = None,
) -> None:
    """The failure table holds the hand-checked groups once per backfill and what the runs'
    tags say; the dashboard, launched through the same queue (with `dashboard_config` over
    its run config), summarizes exactly those runs."""
    assert failure_rows(engine) == {key: backfills * n for key, n in EXPECTED_GROUPS.items()}
    tagged_failures = sum(
        tagged_counts(run.tags).failed + (run.status == DagsterRunStatus.FAILURE) for run in runs
    )
    assert sum(failure_rows(engine).values()) == tagged_failures
    assert FailureSpool(deployment.home / "failtrack_spool").pending() == []

    request = dashboard_run_request(utc_today())
    run_config = {**request.run_config, **(dashboard_config or {})}
    dashboard = deployment.launch_run(DASHBOARD_JOB, run_config, request.tags)
    (dashboard_run,) = deployment.wait_for_runs(RunsFilter(run_ids=[dashboard]), 1, timeout=300)
    assert dashboard_run.status == DagsterRunStatus.SUCCESS, deployment.run_messages(dashboard)
    assert daily_stats(engine) == expected_daily_stats(runs)
    assert success_rates(engine) == expected_success_rates(runs)


def daily_stats(engine: sa.Engine) -> dict[str, tuple[int, int, int, int]]:
    """Per source, over yesterday and today: runs, failed runs, events succeeded and failed."""
    table = source_daily_stats
    since = utc_today() - timedelta(days=1)
    query = (
        sa.select(
            table.c.source_id,
            sa.func.sum(table.c.runs),
            sa.func.sum(table.c.failed_runs),
            sa.func.sum(table.c.events_succeeded),
            sa.func.sum(table.c.events_failed),
        )
        .where(table.c.day >= since)
        .group_by(table.c.source_id)
    )
    with engine.connect() as connection:
        return {
            source: tuple(int(n) for n in counts) for source, *counts in connection.execute(query)
        }


def expected_daily_stats(runs: list[DagsterRun]) -> dict[str, tuple[int, int, int, int]]:
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for run in runs:
        row = stats[run.tags["failtrack/source"]]
        row[0] += 1
        row[1] += run.tags["failtrack/status"] == "failed"
        counts = tagged_counts(run.tags)
        row[2] += counts.succeeded
        row[3] += counts.failed
    return {source: tuple(row) for source, row in stats.items()}


def success_rates(engine: sa.Engine) -> dict[str, float | None]:
    table = source_success_rates
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table.c.source_id, table.c.success_rate_7d))
        return {source: rate for source, rate in rows if source in EXPECTED_STATUS}


def expected_success_rates(runs: list[DagsterRun]) -> dict[str, float | None]:
    """Succeeded / (succeeded + failed) over the runs, by hand; None where nothing was read."""
    rates = {}
    for source, (_runs, _failed, succeeded, failed) in expected_daily_stats(runs).items():
        rates[source] = succeeded / (succeeded + failed) if succeeded + failed else None
    return rates


def test_a_killed_run_worker_fails_its_run_and_the_sensor_records_it_once(
    deployment: Deployment, failtrack_engine: sa.Engine, workdir: Path
) -> None:
    backfill = deployment.launch_backfill(SCRAPE_JOB, ["stuck"], scrape_config())
    pid_file = workdir / "stuck.pid"
    pid = deployment.wait_until(
        lambda: (
            pid_file.exists() and pid_file.read_text().strip().isdigit() and pid_file.read_text()
        ),
        timeout=180,
        what="the stuck run's worker",
    )
    os.kill(int(pid), signal.SIGKILL)

    (run,) = backfill_runs(deployment, backfill, 1)
    assert run.status == DagsterRunStatus.FAILURE
    tags = deployment.wait_until(
        lambda: (
            (tags := deployment.instance.get_run_by_id(run.run_id).tags).get("failtrack/status")
            and tags
        ),
        timeout=180,
        what="the run-failure sensor's record",
    )
    assert tags["failtrack/status"] == "failed"
    assert tags["failtrack/error_category"] == "dependency_error"
    stuck_rows = {key: n for key, n in failure_rows(failtrack_engine).items() if key[0] == "stuck"}
    ((source, category, message), count) = stuck_rows.popitem()
    assert (source, category, count, stuck_rows) == ("stuck", "dependency_error", 1, {})
    assert "outside the execution context" in message


def test_a_terminated_run_ends_with_its_status_and_counts_equal_to_what_the_table_received(
    deployment: Deployment, failtrack_engine: sa.Engine, workdir: Path
) -> None:
    """Terminate from the UI while a scrape is under way: Dagster interrupts the op, which
    flushes what it gathered, tags the run and records the termination once."""
    pid_file = workdir / "stuck.pid"
    pid_file.unlink(missing_ok=True)
    backfill = deployment.launch_backfill(SCRAPE_JOB, ["stalling"], scrape_config())
    deployment.wait_until(pid_file.exists, timeout=180, what="the stalling run's worker")
    (running,) = deployment.instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill}))
    deployment.terminate(running.run_id)

    (run,) = backfill_runs(deployment, backfill, 1)
    assert run.status == DagsterRunStatus.CANCELED
    tags = run.tags
    assert tags["failtrack/status"] == "failed"
    counts = tagged_counts(tags)
    assert (counts.failed, counts.processed) == (STALLING_FAILURES, STALLING_FAILURES)
    assert tags["failtrack/error_category"] == "dependency_error"
    stalling = {key: n for key, n in failure_rows(failtrack_engine).items() if key[0] == "stalling"}
    assert stalling == {
        ("stalling", "validation_error", "title missing"): STALLING_FAILURES,
        ("stalling", "dependency_error", "run terminated before the scrape finished"): 1,
    }
