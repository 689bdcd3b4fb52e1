"""What test_reliability runs in processes of its own: real scrapes recording at once, and a
recording whose disk refuses more bytes. Spawned, so each is a fresh interpreter."""

from __future__ import annotations

import json
import resource
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from failtrack_pipeline.config.sources_file import SourceConfig
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.source_scrape import SourceScrape
from failtrack_pipeline.tracking.failures import describe_failure
from failtrack_pipeline.tracking.spool import FailureRecorder, FailuresNotKept, FailureSpool

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
# Two batches per run (5,000 and 1,001), so each run records, and replays, twice.
FAILING_RECORDS = 6_001
GOOD_RECORDS = 20
# Nothing listens on port 1: connecting fails at once, as with a database that is down.
UNREACHABLE_URL = "postgresql+psycopg://failtrack:s3cret@127.0.0.1:1/failtrack"


def failing_events(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """FAILING_RECORDS events with an impossible month, then GOOD_RECORDS fine ones."""
    for index in range(FAILING_RECORDS + GOOD_RECORDS):
        month = 13 if index < FAILING_RECORDS else 1
        yield {
            "external_id": f"{source.id}-{index}",
            "title": f"Show {index}",
            "starts_at": f"2027-{month:02d}-15T20:00:00",
            "venue_name": "Hall",
        }


def scrape_at_once(
    db_url: str, spool_dir: str, source_id: str, barrier: Barrier, result_path: str
) -> None:
    """Scrape `source_id` (run `run-<source_id>`) once every worker is ready; the outcome,
    or the error, goes to `result_path` as JSON."""
    source = SourceConfig(
        id=source_id,
        name=source_id,
        kind="python",
        callable="failtrack_pipeline_tests.tracking.recording_worker:failing_events",
    )
    engine = create_db_engine(db_url)
    recorder = FailureRecorder(lambda: engine, FailureSpool(Path(spool_dir)))
    scrape = SourceScrape(source, engine, run_id=f"run-{source_id}", now=NOW, recorder=recorder)
    barrier.wait()
    try:
        outcome = scrape.run()
        result: dict[str, Any] = {"failed": outcome.failed, "error": None}
    except Exception:
        result = {"failed": scrape.outcome.failed, "error": traceback.format_exc()}
    Path(result_path).write_text(json.dumps(result))
    engine.dispose()


def record_on_a_small_disk(spool_dir: str, max_file_bytes: int, result_path: str) -> None:
    """Record 2,000 failures while the database is down and no file may grow past
    `max_file_bytes` (RLIMIT_FSIZE: writes beyond it fail, as on a full disk)."""
    failures = [
        describe_failure("city", f"Invalid date '2027-13-{index}'", seen_at=NOW)
        for index in range(2_000)
    ]
    recorder = FailureRecorder(
        lambda: create_db_engine(UNREACHABLE_URL), FailureSpool(Path(spool_dir))
    )
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, hard))
    try:
        recording = recorder.record(failures, run_id="run-full", batch="events-00001")
        result = {"recording": recording.value, "error": None}
    except FailuresNotKept as error:
        result = {"recording": None, "error": str(error)}
    Path(result_path).write_text(json.dumps(result))


def run_a_job(barrier: Barrier, result_path: str) -> None:
    """Open the instance of $DAGSTER_HOME and run a one-op job once every worker is ready."""
    from dagster import DagsterInstance, job, op

    @op
    def hello() -> None:
        pass

    @job
    def hello_job() -> None:
        hello()

    barrier.wait()
    try:
        with DagsterInstance.get() as instance:
            success = hello_job.execute_in_process(instance=instance).success
        result: dict[str, Any] = {"success": success, "error": None}
    except Exception:
        result = {"success": False, "error": traceback.format_exc()}
    Path(result_path).write_text(json.dumps(result))
