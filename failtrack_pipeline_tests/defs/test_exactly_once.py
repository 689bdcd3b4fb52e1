"""The counting rule: each failure is counted once per run attempt.

An attempt is a run (its run id) and, within it, a step attempt: a step retried by a
RetryPolicy reads the feed again and counts what it sees again, as does a run re-executed
from the UI (a new run id). Within one attempt no path counts twice: the per-event batches,
the failure hook, the run-failure sensor and the spool's replay all record through
`record_failures`, whose ledger claims each (run id, batch) once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import (
    DagsterInstance,
    JobDefinition,
    ReexecutionOptions,
    RetryPolicy,
    StaticPartitionsDefinition,
    execute_job,
    in_process_executor,
    job,
)
from dagster._core.definitions.reconstruct import build_reconstructable_job

from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.db.schema import discovery_event_failures, failure_recordings
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.run_tags import tagged_counts
from failtrack_pipeline.defs.scrape_job import record_scrape_failure, scrape_source
from failtrack_pipeline_tests.conftest import Backend, scrape_config
from failtrack_pipeline_tests.defs import flaky_scraper

SOURCES_YAML = """
sources:
  - id: flaky
    name: Flaky Hall
    kind: python
    callable: failtrack_pipeline_tests.defs.flaky_scraper:fetch_events
    max_retries: 0  # these tests retry by RetryPolicy and re-execution, not in the run
"""
BAD_DATE = ("validation_error", "Invalid date <value> for starts_at")


@pytest.fixture
def sources_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(flaky_scraper, "calls", 0)
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES_YAML)
    return path


def counts(backend: Backend) -> dict[tuple[str, str], int]:
    table = discovery_event_failures
    with backend.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.error_category, table.c.error_message, table.c.occurrence_count)
        )
        return {(category, message): count for category, message, count in rows}


def batches(backend: Backend, run_id: str) -> list[str]:
    table = failure_recordings
    with backend.engine.connect() as connection:
        query = sa.select(table.c.batch).where(table.c.run_id == run_id).order_by(table.c.batch)
        return list(connection.scalars(query))


def test_a_step_retried_by_a_retry_policy_counts_each_attempt_once(
    backend: Backend, sources_path: Path
) -> None:
    @job(
        partitions_def=StaticPartitionsDefinition(["flaky"]),
        hooks={record_scrape_failure},
        executor_def=in_process_executor,
    )
    def retried_scrape_job() -> None:
        scrape_source.with_retry_policy(RetryPolicy(max_retries=1))()

    result = retried_scrape_job.execute_in_process(
        partition_key="flaky",
        instance=backend.instance,
        run_config=scrape_config(),
        resources={
            "failtrack_db": FailtrackDatabase(),
            "failtrack_sources": FailtrackSources(path=str(sources_path)),
        },
    )
    assert result.success
    # Both attempts read both bad events; the hook never fired, as the run succeeded.
    assert counts(backend) == {BAD_DATE: 4}
    assert batches(backend, result.run_id) == ["attempt-1/events-00001", "events-00001"]
    run = backend.instance.get_run_by_id(result.run_id)
    assert run is not None
    assert tagged_counts(run.tags).failed == 2  # the attempt that finished


def scrape_job_for(sources_path: str) -> JobDefinition:
    """Rebuilds the scrape job in the process that runs it (re-execution needs that)."""
    return build_definitions(load_sources(Path(sources_path))).resolve_job_def("scrape_sources_job")


def test_a_run_re_executed_from_the_ui_is_a_new_attempt_and_its_hook_counts_once(
    backend: Backend, sources_path: Path
) -> None:
    instance: DagsterInstance = backend.instance
    reconstructable = build_reconstructable_job(
        __name__, scrape_job_for.__name__, reconstructable_args=(str(sources_path),)
    )
    tags = {"dagster/partition": "flaky"}
    with execute_job(reconstructable, instance, tags=tags, run_config=scrape_config()) as parent:
        assert not parent.success  # the first call breaks off: hook records the run
    with execute_job(
        reconstructable,
        instance,
        tags=tags,  # as the UI does, the re-execution keeps the partition
        reexecution_options=ReexecutionOptions.from_failure(parent.run_id, instance),
    ) as child:
        assert child.success
    assert child.run_id != parent.run_id
    assert batches(backend, parent.run_id) == ["events-00001", "run"]
    assert batches(backend, child.run_id) == ["events-00001"]
    network = [key for key in counts(backend) if key[0] == "network_error"]
    assert counts(backend) == {BAD_DATE: 4, network[0]: 1}
