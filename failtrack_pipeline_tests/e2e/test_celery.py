"""failtrack on Celery workers, end to end: Redis, separate workers, the run queue.

The deployment of test_deployment.py (a real daemon and webserver over PostgreSQL) with a
`redis-server` on loopback as broker and result backend and two `dagster-celery` worker
processes started as deploy/celery/README.md says, in its two shapes: the scrape job's
steps on the workers (`FAILTRACK_EXECUTOR=celery`, the shipped PostgreSQL dagster.yaml), and
whole runs on the workers (deploy/celery/dagster.yaml, CeleryRunLauncher). A backfill of
the demo sources must give the same tags and tables as through the plain queue, executed
by the workers. Slow: about two minutes each.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRun, RunsFilter

from failtrack_pipeline.config.environment import EXECUTOR_ENV
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.defs.executors import CELERY_BACKEND_URL_ENV, CELERY_BROKER_URL_ENV
from failtrack_pipeline.testing.celery import (
    CELERY_DAGSTER_YAML,
    celery_workers,
    redis_server,
    worker_log,
)
from failtrack_pipeline.testing.deployment import (
    QUICK_TO_REACT,
    Deployment,
    merged,
    running_deployment,
    write_sources_file,
)
from failtrack_pipeline.testing.postgres import fresh_postgres_database
from failtrack_pipeline.testing.webserver import log_path
from failtrack_pipeline_tests.conftest import scrape_config
from failtrack_pipeline_tests.e2e.test_deployment import (
    DEMO_SOURCES,
    SCRAPE_JOB,
    check_runs_tagged_as_their_feeds_imply,
    check_tables_match_the_runs,
)

pytestmark = pytest.mark.slow

WORKERS = ("failtrack-a", "failtrack-b")
CELERY_TASK_ID_TAG = "dagster-celery/task_id"  # set by CeleryRunLauncher on each run


@pytest.fixture
def failtrack_engine(postgres_server_url: str) -> Iterator[sa.Engine]:
    with fresh_postgres_database(postgres_server_url) as url:
        engine = create_db_engine(url)
        yield engine
        engine.dispose()


@contextmanager
def celery_deployment(
    workdir: Path,
    postgres_server_url: str,
    failtrack_engine: sa.Engine,
    concurrency: int,
    **deployment: Any,
) -> Iterator[Deployment]:
    """Redis, a deployment whose processes know the broker, and the two workers."""
    extra_env = deployment.pop("extra_env", {})
    with (
        redis_server(workdir / "redis") as redis_url,
        fresh_postgres_database(postgres_server_url) as dagster_url,
        running_deployment(
            workdir / "home",
            dagster_postgres_url=dagster_url,
            failtrack_url=failtrack_engine.url.render_as_string(hide_password=False),
            sources_file=write_sources_file(workdir / "sources.yaml"),
            **deployment,
            extra_env={
                **extra_env,
                CELERY_BROKER_URL_ENV: f"{redis_url}/0",
                CELERY_BACKEND_URL_ENV: f"{redis_url}/1",
            },
        ) as running,
        celery_workers(running, WORKERS, concurrency),
    ):
        yield running


@pytest.fixture
def steps_on_celery(
    postgres_server_url: str, failtrack_engine: sa.Engine, tmp_path: Path
) -> Iterator[Deployment]:
    with celery_deployment(
        tmp_path, postgres_server_url, failtrack_engine, 1, extra_env={EXECUTOR_ENV: "celery"}
    ) as running:
        yield running


@pytest.fixture
def runs_on_celery(
    postgres_server_url: str, failtrack_engine: sa.Engine, tmp_path: Path
) -> Iterator[Deployment]:
    instance = merged(yaml.safe_load(CELERY_DAGSTER_YAML.read_text()), QUICK_TO_REACT)
    # As many worker processes as the queue lets runs go at once.
    with celery_deployment(
        tmp_path, postgres_server_url, failtrack_engine, 4, instance_overrides=instance
    ) as running:
        yield running


def step_worker(instance: DagsterInstance, run_id: str) -> tuple[str, bool]:
    """The Celery worker that executed the run's step, and whether the step ran in another
    process than the run."""
    pids = {}
    worker = ""
    for record in instance.get_records_for_run(run_id, limit=10_000).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        pids.setdefault(event.event_type, event.pid)
        if event.event_type == DagsterEventType.ENGINE_EVENT and event.engine_event_data:
            value = event.engine_event_data.metadata.get("Celery worker")
            worker = worker or (value.value if value is not None else "")
    elsewhere = pids[DagsterEventType.STEP_START] != pids[DagsterEventType.RUN_START]
    return worker.split("@")[0], elsewhere


def backfill_demo_sources(deployment: Deployment) -> list[DagsterRun]:
    backfill = deployment.launch_backfill(SCRAPE_JOB, DEMO_SOURCES, scrape_config())
    runs = deployment.wait_for_runs(
        RunsFilter(tags={"dagster/backfill": backfill}), len(DEMO_SOURCES), timeout=600
    )
    check_runs_tagged_as_their_feeds_imply(runs)
    return runs


def test_a_backfill_of_the_demo_sources_runs_its_steps_on_the_celery_workers(
    steps_on_celery: Deployment, failtrack_engine: sa.Engine
) -> None:
    runs = backfill_demo_sources(steps_on_celery)

    executed_by = [step_worker(steps_on_celery.instance, run.run_id) for run in runs]
    assert all(elsewhere for _worker, elsewhere in executed_by), executed_by
    assert {worker for worker, _elsewhere in executed_by} == set(WORKERS), executed_by

    check_tables_match_the_runs(steps_on_celery, failtrack_engine, runs, backfills=1)


def test_a_backfill_of_the_demo_sources_runs_as_tasks_on_the_celery_workers(
    runs_on_celery: Deployment, failtrack_engine: sa.Engine
) -> None:
    """CeleryRunLauncher: each run is one task, executed by one of the workers."""
    runs = backfill_demo_sources(runs_on_celery)

    # A worker logs a task's success after the run it executed is marked finished.
    lines = {
        run.run_id: f"Task execute_job[{run.tags[CELERY_TASK_ID_TAG]}] succeeded" for run in runs
    }
    deadline = time.monotonic() + 30
    while True:
        logs = "".join(
            log_path(runs_on_celery.home, worker_log(name)).read_text(errors="replace")
            for name in WORKERS
        )
        missing = [run_id for run_id, line in lines.items() if line not in logs]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert missing == [], "no worker logged these runs' tasks as succeeded"

    # A run executes inside a worker process, which cannot start step processes: the
    # dashboard job's default (multiprocess) executor must give way to in process.
    in_process = {"execution": {"config": {"in_process": {}}}}
    check_tables_match_the_runs(runs_on_celery, failtrack_engine, runs, 1, in_process)
