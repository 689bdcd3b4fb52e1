"""The scrape job's steps on Celery workers, end to end: Redis, separate workers, the queue.

The deployment of test_deployment.py (shipped PostgreSQL dagster.yaml, a real daemon and
webserver) with `FAILTRACK_EXECUTOR=celery`, a `redis-server` on loopback as broker and
result backend, and two `dagster-celery` worker processes started as deploy/celery/README.md
says. A backfill of the demo sources must give the same tags and tables as through the
plain queue, with every step executed by one of the workers. Slow: about two minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from dagster import DagsterEventType, DagsterInstance, RunsFilter

from failtrack_pipeline.config.environment import EXECUTOR_ENV
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.defs.executors import CELERY_BACKEND_URL_ENV, CELERY_BROKER_URL_ENV
from failtrack_pipeline.testing.celery import celery_workers, redis_server
from failtrack_pipeline.testing.deployment import (
    Deployment,
    running_deployment,
    write_sources_file,
)
from failtrack_pipeline.testing.postgres import fresh_postgres_database
from failtrack_pipeline_tests.conftest import scrape_config
from failtrack_pipeline_tests.e2e.test_deployment import (
    DEMO_SOURCES,
    SCRAPE_JOB,
    check_runs_tagged_as_their_feeds_imply,
    check_tables_match_the_runs,
)

pytestmark = pytest.mark.slow

WORKERS = ("failtrack-a", "failtrack-b")


@pytest.fixture(scope="module")
def failtrack_engine(postgres_server_url: str) -> Iterator[sa.Engine]:
    with fresh_postgres_database(postgres_server_url) as url:
        engine = create_db_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def deployment(
    postgres_server_url: str, failtrack_engine: sa.Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("celery")
    with (
        redis_server(workdir / "redis") as redis_url,
        fresh_postgres_database(postgres_server_url) as dagster_url,
        running_deployment(
            workdir / "home",
            dagster_postgres_url=dagster_url,
            failtrack_url=failtrack_engine.url.render_as_string(hide_password=False),
            sources_file=write_sources_file(workdir / "sources.yaml"),
            extra_env={
                EXECUTOR_ENV: "celery",
                CELERY_BROKER_URL_ENV: f"{redis_url}/0",
                CELERY_BACKEND_URL_ENV: f"{redis_url}/1",
            },
        ) as running,
        celery_workers(running, WORKERS),
    ):
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


def test_a_backfill_of_the_demo_sources_runs_its_steps_on_the_celery_workers(
    deployment: Deployment, failtrack_engine: sa.Engine
) -> None:
    backfill = deployment.launch_backfill(SCRAPE_JOB, DEMO_SOURCES, scrape_config())
    runs = deployment.wait_for_runs(
        RunsFilter(tags={"dagster/backfill": backfill}), len(DEMO_SOURCES), timeout=600
    )
    check_runs_tagged_as_their_feeds_imply(runs)

    executed_by = [step_worker(deployment.instance, run.run_id) for run in runs]
    assert all(elsewhere for _worker, elsewhere in executed_by), executed_by
    assert {worker for worker, _elsewhere in executed_by} == set(WORKERS), executed_by

    check_tables_match_the_runs(deployment, failtrack_engine, runs, backfills=1)
