"""failtrack's database goes down in the middle of a scrape: every count still arrives once.

The Dagster instance stays up (SQLite), failtrack's tables live on their own real
PostgreSQL, which the scraper stops half way through its feed. What the run could not
record waits in the spool; after a restart the replay sensor counts it exactly once.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest
import sqlalchemy as sa
from dagster import (
    DagsterEventType,
    DagsterInstance,
    build_run_status_sensor_context,
    build_sensor_context,
)
from dagster._core.test_utils import instance_for_test

from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.schema import discovery_event_failures
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.run_tags import tagged_counts
from failtrack_pipeline_tests.conftest import scrape_config
from failtrack_pipeline_tests.defs import outage_scraper

SOURCES_YAML = """
sources:
  - id: outage
    name: Outage Hall
    kind: python
    callable: failtrack_pipeline_tests.defs.outage_scraper:fetch_events
"""


@pytest.fixture
def failtrack_server() -> Iterator[pgserver.PostgresServer]:
    """A PostgreSQL of this test's own, so stopping it disturbs no other test."""
    data_dir = Path(tempfile.mkdtemp(prefix="failtrack-outage-"))
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


def stop(server: pgserver.PostgresServer) -> None:
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


@pytest.fixture
def instance(
    failtrack_server: pgserver.PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DagsterInstance]:
    url = failtrack_server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    monkeypatch.setattr(outage_scraper, "at_halfway", lambda: stop(failtrack_server))
    with instance_for_test() as instance:
        yield instance


def failure_counts(url: str) -> dict[tuple[str, str], int]:
    engine = create_db_engine(url)
    table = discovery_event_failures
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.error_category, table.c.error_message, table.c.occurrence_count)
        )
        counts = {(category, message): count for category, message, count in rows}
    engine.dispose()
    return counts


@pytest.mark.slow
def test_a_database_outage_mid_scrape_loses_no_count_and_counts_none_twice(
    instance: DagsterInstance, failtrack_server: pgserver.PostgresServer, tmp_path: Path
) -> None:
    sources_path = tmp_path / "sources.yaml"
    sources_path.write_text(SOURCES_YAML)
    defs = build_definitions(load_sources(sources_path))
    result = defs.get_job_def("scrape_sources_job").execute_in_process(
        partition_key="outage", instance=instance, raise_on_error=False, run_config=scrape_config()
    )
    assert not result.success

    # The run tells what happened although failtrack's database was down.
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    tags = run.tags
    assert tags["failtrack/status"] == "failed"
    assert tags["failtrack/error_category"] == "dependency_error"
    failed = tagged_counts(tags).failed
    # Up to the first event flush after the stop: 2,222 records, a tenth of them bad.
    assert failed == 223
    spool = FailtrackDatabase().recorder(instance).spool
    assert spool is not None
    assert len(spool.pending()) == 2  # the run's per-event failures, and the run's own

    # Nothing is replayed while the database is still down.
    resources = {
        "failtrack_db": FailtrackDatabase(),
        "failtrack_sources": FailtrackSources(path=str(sources_path)),
    }
    replay = defs.get_sensor_def("replay_failure_spool_sensor")
    replay(build_sensor_context(instance=instance, resources=resources))
    assert len(spool.pending()) == 2

    failtrack_server.ensure_postgres_running()
    replay(build_sensor_context(instance=instance, resources=resources))
    assert spool.pending() == []
    url = FailtrackDatabase().get_engine().url.render_as_string(hide_password=False)
    counts = failure_counts(url)
    assert counts.pop(("validation_error", "Invalid date <value> for starts_at")) == failed
    ((category, message), count) = counts.popitem()
    assert (category, count, counts) == ("dependency_error", 1, {})
    assert "OperationalError" in message
    expected = failure_counts(url)

    # The run-failure sensor sees the same run later: still counted once.
    sensor = defs.get_sensor_def("record_run_failure_sensor")
    (failure_record,) = instance.get_records_for_run(
        result.run_id, of_type=DagsterEventType.RUN_FAILURE
    ).records
    sensor(
        build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=failure_record.event_log_entry.dagster_event,
            dagster_instance=instance,
            dagster_run=run,
            resources=resources,
        ).for_run_failure()
    )
    replay(build_sensor_context(instance=instance, resources=resources))
    assert failure_counts(url) == expected
