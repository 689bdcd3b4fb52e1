"""What issue 14's hostile tests broke, each promise proven on real databases and processes:
concurrent replays count each batch once, a batch refused for its content is a dead letter
that blocks nothing, a read-only database is an outage, a full spool leaves no debris."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dagster import DagsterEventType, DagsterInstance, RunRequest, build_sensor_context
from sqlalchemy.engine import make_url

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.cli import main
from failtrack_pipeline.config.environment import SPOOL_DIR_ENV
from failtrack_pipeline.config.sources_file import SourceConfig, SourceKind, load_sources
from failtrack_pipeline.db.engine import (
    DATABASE_URL_ENV,
    WriteRefusal,
    create_db_engine,
    write_refusal,
)
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.db.schema import discovery_event_failures, failure_recordings
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.source_scrape import FAILURES_PER_BATCH, SourceScrape
from failtrack_pipeline.tracking.failures import FailureRecord, describe_failure
from failtrack_pipeline.tracking.spool import (
    DEAD_LETTERS,
    PARTIAL_SUFFIX,
    UNREADABLE,
    FailureRecorder,
    FailuresNotKept,
    FailureSpool,
    Recording,
)
from failtrack_pipeline.tracking.store import record_failures
from failtrack_pipeline_tests.conftest import Backend, scrape_config
from failtrack_pipeline_tests.tracking import recording_worker
from failtrack_pipeline_tests.tracking.recording_worker import (
    FAILING_RECORDS,
    NOW,
    UNREACHABLE_URL,
)

WORKERS = 8
BACKLOG = 1_600
RECORDED_BEFORE = 40  # backlog batches a replay committed before it was interrupted
UNREADABLE_FILES = 3
LONG_SOURCE_ID = "s" * 80  # the tables' source_id columns hold 64 characters
SPAWN = multiprocessing.get_context("spawn")


def _failures(
    count: int, source_id: str = "city", message: str = "Missing title"
) -> list[FailureRecord]:
    return [
        describe_failure(source_id, message, seen_at=NOW, external_id=f"ev-{index}")
        for index in range(count)
    ]


def _total(engine: sa.Engine) -> int:
    table = discovery_event_failures
    with engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.sum(table.c.occurrence_count))).scalar()
    return int(total or 0)


def _partials(directory: Path) -> list[Path]:
    return list(directory.rglob(f"*{PARTIAL_SUFFIX}")) if directory.exists() else []


def _poisoned_document(run_id: str) -> dict[str, Any]:
    """A spooled batch no database takes: a NOT NULL message that is null (an old writer)."""
    return {
        "run_id": run_id,
        "batch": "events-00001",
        "failures": [
            {
                "source_id": "city",
                "category": "validation_error",
                "message": None,
                "example": "?",
                "external_id": None,
                "seen_at": NOW.isoformat(),
            }
        ],
    }


# --- 1. Concurrent replays ----------------------------------------------------------------


def test_eight_processes_replaying_one_backlog_count_every_batch_exactly_once(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    """8 real scrapes record at once while 1,600 spooled batches wait (3 unreadable, one the
    database refuses, 40 already counted by an interrupted replay): each replays the spool
    after each of its batches. The table holds exactly every run's failures plus the backlog."""
    spool = FailureSpool(tmp_path / "spool")
    backlog = 0
    for index in range(BACKLOG):
        failures = _failures(1 + index % 3, message=f"Missing field {index % 7}")
        spool.put(failures, run_id=f"backlog-{index}", batch="events-00001")
        if index < RECORDED_BEFORE:
            record_failures(engine, failures, run_id=f"backlog-{index}", batch="events-00001")
        backlog += len(failures)
    for index in range(UNREADABLE_FILES):
        (spool.directory / f"broken-{index}.json").write_text('{"run_id": "x", "failures": [')
    (spool.directory / "poisoned.json").write_text(json.dumps(_poisoned_document("old-run")))

    barrier = SPAWN.Barrier(WORKERS)
    results = [tmp_path / f"result-{index}.json" for index in range(WORKERS)]
    workers = [
        SPAWN.Process(
            target=recording_worker.scrape_at_once,
            args=(db_url, str(spool.directory), f"src_{index}", barrier, str(results[index])),
        )
        for index in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    assert [worker.exitcode for worker in workers] == [0] * WORKERS
    outcomes = [json.loads(path.read_text()) for path in results]
    assert [outcome["error"] for outcome in outcomes] == [None] * WORKERS  # no run failed
    assert [outcome["failed"] for outcome in outcomes] == [FAILING_RECORDS] * WORKERS

    assert _total(engine) == WORKERS * FAILING_RECORDS + backlog
    with engine.connect() as connection:
        ledger = connection.execute(sa.select(sa.func.count()).select_from(failure_recordings))
        assert ledger.scalar() == BACKLOG + WORKERS * 2  # two batches per run
    assert spool.pending() == []
    assert len(list((spool.directory / UNREADABLE).iterdir())) == UNREADABLE_FILES
    (dead_letter,) = spool.dead_letters()
    assert dead_letter.run_id == "old-run"
    assert _partials(spool.directory) == []


class _FailsAfterCommit(FailureRecorder):
    """Records for real, then raises once: any error that follows a commit."""

    def record(self, failures: Any, *, run_id: str, batch: str) -> Recording:
        recording = super().record(failures, run_id=run_id, batch=batch)
        if not getattr(self, "raised", False):
            object.__setattr__(self, "raised", True)
            raise RuntimeError("after the commit")
        return recording


def test_an_error_after_a_commit_never_counts_the_batch_again_under_another_name(
    engine: sa.Engine, tmp_path: Path
) -> None:
    source = SourceConfig(
        id="after_commit",
        name="After commit",
        kind="python",
        callable="failtrack_pipeline_tests.tracking.recording_worker:failing_events",
    )
    recorder = _FailsAfterCommit(lambda: engine, FailureSpool(tmp_path / "spool"))
    scrape = SourceScrape(source, engine, run_id="run-after-commit", now=NOW, recorder=recorder)
    with pytest.raises(RuntimeError, match="after the commit"):
        scrape.run()
    # The first batch was committed, then the error; the run's `finally` found it counted.
    assert _total(engine) == FAILURES_PER_BATCH
    with engine.connect() as connection:
        batches = connection.execute(sa.select(failure_recordings.c.batch)).scalars().all()
    assert batches == ["events-00001"]


def test_a_replay_that_fails_never_fails_the_recording_that_triggered_it(
    engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Here an unreadable file cannot be set aside (a file stands where the folder goes)."""
    spool = FailureSpool(tmp_path / "spool")
    spool.directory.mkdir()
    broken = spool.directory / "broken.json"
    broken.write_text("{")
    os.utime(broken, ns=(0, 0))  # the oldest: replayed first
    waiting = spool.put(_failures(2), run_id="run-spooled", batch="run")
    (spool.directory / UNREADABLE).write_text("a file where the folder should be")
    recorder = FailureRecorder(lambda: engine, spool)
    with caplog.at_level(logging.ERROR):
        recording = recorder.record(_failures(1), run_id="run-live", batch="events-00001")
    assert recording is Recording.RECORDED
    assert _total(engine) == 1
    assert "the spool replay failed" in caplog.text
    assert spool.pending() == [broken, waiting]  # nothing lost: both wait for the next replay


# --- 2. Dead letters ----------------------------------------------------------------------


def test_a_spooled_batch_the_database_refuses_becomes_a_dead_letter_and_blocks_no_replay(
    engine: sa.Engine, tmp_path: Path
) -> None:
    spool = FailureSpool(tmp_path / "spool")
    poisoned = spool.directory / "0-poisoned.json"
    spool.directory.mkdir()
    poisoned.write_text(json.dumps(_poisoned_document("run-poisoned")))
    spool.put(_failures(3), run_id="run-fine", batch="events-00001")
    result = FailureRecorder(lambda: engine, spool).replay()
    assert (result.recorded, result.dead_lettered, result.pending) == (1, 1, 0)
    assert _total(engine) == 3
    assert spool.pending() == []
    (letter,) = spool.dead_letters()
    assert (letter.run_id, letter.failures, letter.source_ids) == ("run-poisoned", 1, ["city"])
    assert "IntegrityError" in letter.reason and "null" in letter.reason.lower()
    # Every later replay and recording goes on as if it were not there.
    recorder = FailureRecorder(lambda: engine, spool)
    assert recorder.record(_failures(2), run_id="run-later", batch="run") is Recording.RECORDED
    assert _total(engine) == 5


def test_a_run_whose_failures_the_database_refuses_keeps_them_as_a_dead_letter(
    postgres_url: str, tmp_path: Path
) -> None:
    """PostgreSQL refuses a source id longer than its column (SQLite stores it): the run
    ends normally, reports its dead letter, and after the fix the retry counts it once."""
    engine = create_db_engine(postgres_url)
    migrate(engine)
    spool = FailureSpool(tmp_path / "spool")
    recorder = FailureRecorder(lambda: engine, spool)
    # A sources file refuses such an id now (see below): this one bypasses the validation.
    source = SourceConfig.model_construct(
        id=LONG_SOURCE_ID,
        name="Too long",
        kind=SourceKind.PYTHON,
        callable="failtrack_pipeline_tests.tracking.recording_worker:failing_events",
    )
    scrape = SourceScrape(source, engine, run_id="run-long", now=NOW, recorder=recorder)
    with pytest.raises(sa.exc.DataError):  # the events table refuses the id too: the run fails
        scrape.run()
    assert scrape.dead_lettered == FAILING_RECORDS  # but none of its failures is lost
    letters = spool.dead_letters()
    assert sum(letter.failures for letter in letters) == FAILING_RECORDS
    assert all("value too long" in letter.reason for letter in letters)
    assert recorder.record(_failures(1), run_id="run-ok", batch="run") is Recording.RECORDED

    with engine.begin() as connection:  # the fix: a wider column
        for table in ("discovery_event_failures", "discovery_event_failure_days"):
            connection.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN source_id TYPE text")
    assert spool.retry_dead_letters() == len(letters)
    assert recorder.replay().recorded == len(letters)
    assert spool.dead_letters() == []
    assert _total(engine) == FAILING_RECORDS + 1
    engine.dispose()


def test_a_source_id_longer_than_the_tables_hold_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        f"sources:\n  - {{id: {LONG_SOURCE_ID}, name: Long, kind: python, callable: a.b:c}}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert (raised.value.field, raised.value.where) == ("id", f"source '{LONG_SOURCE_ID}'")
    assert "at most 64 characters" in raised.value.problem


REFUSED_SOURCES_YAML = """
sources:
  - id: refused
    name: Refused
    kind: python
    callable: failtrack_pipeline_tests.tracking.recording_worker:failing_events
"""
# A rule the database enforces on content, as a column type or constraint would.
_REFUSE_INVALID_DATES = {
    "postgresql": (
        "ALTER TABLE discovery_event_failures ADD CONSTRAINT refuse_invalid_dates "
        "CHECK (error_message NOT LIKE 'Invalid date%%')",
        "ALTER TABLE discovery_event_failures DROP CONSTRAINT refuse_invalid_dates",
    ),
    "sqlite": (
        "CREATE TRIGGER refuse_invalid_dates BEFORE INSERT ON discovery_event_failures "
        "WHEN NEW.error_message LIKE 'Invalid date%' "
        "BEGIN SELECT RAISE(ABORT, 'invalid dates refused'); END",
        "DROP TRIGGER refuse_invalid_dates",
    ),
}


def test_failures_the_database_refuses_are_reported_by_the_run_the_check_and_the_sensor(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real scrape run whose failures the database refuses: the run ends well and says so,
    the sensor runs the check, the check fails listing them; after the fix the retry
    command counts them once and the check passes again."""
    monkeypatch.setenv(SPOOL_DIR_ENV, str(tmp_path / "spool"))
    (tmp_path / "cli_home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "cli_home"))  # for the retry command
    sources_path = tmp_path / "sources.yaml"
    sources_path.write_text(REFUSED_SOURCES_YAML)
    defs = build_definitions(load_sources(sources_path))
    refuse, accept = _REFUSE_INVALID_DATES[backend.name]
    with backend.engine.begin() as connection:
        connection.exec_driver_sql(refuse)

    run = defs.get_job_def("scrape_sources_job").execute_in_process(
        partition_key="refused", instance=backend.instance, run_config=scrape_config()
    )
    assert run.success
    (output,) = [
        event for event in run.all_events if event.event_type is DagsterEventType.STEP_OUTPUT
    ]
    metadata = output.event_specific_data.metadata
    assert metadata["dead_lettered_failures"].value == FAILING_RECORDS
    assert _total(backend.engine) == 0

    sensor = defs.get_sensor_def("dead_letter_sensor")
    resources = {"failtrack_db": FailtrackDatabase(spool_dir=str(tmp_path / "spool"))}
    context = build_sensor_context(instance=backend.instance, resources=resources)
    assert isinstance(sensor(context), RunRequest)
    assert not isinstance(sensor(context), RunRequest)  # unchanged: no second run
    check_job = defs.resolve_job_def("dead_letters_check_job")
    (evaluation,) = check_job.execute_in_process(
        instance=backend.instance
    ).get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["dead_letters"].value == 2  # the run's two batches
    assert evaluation.metadata["uncounted_failures"].value == FAILING_RECORDS

    with backend.engine.begin() as connection:
        connection.exec_driver_sql(accept)
    assert main(["dead-letters", "--retry"]) == 0
    assert _total(backend.engine) == FAILING_RECORDS
    assert isinstance(sensor(context), RunRequest)  # gone: the check is run again
    (evaluation,) = check_job.execute_in_process(
        instance=backend.instance
    ).get_asset_check_evaluations()
    assert evaluation.passed


# --- 3. A read-only database is an outage -------------------------------------------------


@dataclass
class ReadOnlyPostgres:
    """A migrated database whose new sessions can be made read-only, as on a replica."""

    url: str
    admin: sa.Engine

    def set_read_only(self, read_only: bool) -> None:
        name = make_url(self.url).database
        with self.admin.connect() as connection:
            connection.exec_driver_sql(
                f'ALTER DATABASE "{name}" SET default_transaction_read_only = '
                f"{'on' if read_only else 'off'}"
            )


@pytest.fixture
def replica(postgres_server_url: str, postgres_url: str) -> Iterator[ReadOnlyPostgres]:
    engine = create_db_engine(postgres_url)
    migrate(engine)
    engine.dispose()
    admin_url = make_url(postgres_server_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    yield ReadOnlyPostgres(postgres_url, admin)
    admin.dispose()


def test_a_read_only_postgresql_spools_every_failure(
    replica: ReadOnlyPostgres, tmp_path: Path
) -> None:
    replica.set_read_only(True)
    spool = FailureSpool(tmp_path / "spool")
    read_only = create_db_engine(replica.url)
    recorder = FailureRecorder(lambda: read_only, spool)
    recorded = recorder.record(_failures(46), run_id="run-ro", batch="events-00001")
    assert recorded is Recording.SPOOLED
    assert recorder.record(_failures(1), run_id="run-ro", batch="run") is Recording.SPOOLED
    assert recorder.replay().pending == 2
    read_only.dispose()

    replica.set_read_only(False)
    writable = create_db_engine(replica.url)
    assert FailureRecorder(lambda: writable, spool).replay().recorded == 2
    assert spool.pending() == []
    assert _total(writable) == 47
    writable.dispose()


def test_a_read_only_sqlite_file_spools_every_failure(tmp_path: Path) -> None:
    path = tmp_path / "failtrack.db"
    writable = create_db_engine(f"sqlite:///{path}")
    migrate(writable)
    spool = FailureSpool(tmp_path / "spool")
    read_only = create_db_engine(f"sqlite:///file:{path}?mode=ro&uri=true")  # read-only file
    recorder = FailureRecorder(lambda: read_only, spool)
    assert recorder.record(_failures(46), run_id="run-ro", batch="run") is Recording.SPOOLED
    assert _total(writable) == 0
    assert FailureRecorder(lambda: writable, spool).replay().recorded == 1
    assert _total(writable) == 46
    read_only.dispose()
    writable.dispose()


def test_a_sqlite_database_locked_past_its_timeout_spools(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'failtrack.db'}"
    engine = create_db_engine(url)
    migrate(engine)
    impatient = create_db_engine(url)

    @sa.event.listens_for(impatient, "connect")
    def _short_timeout(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    spool = FailureSpool(tmp_path / "spool")
    holder = sqlite3.connect(tmp_path / "failtrack.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        recorder = FailureRecorder(lambda: impatient, spool)
        assert recorder.record(_failures(3), run_id="run-locked", batch="run") is Recording.SPOOLED
    finally:
        holder.rollback()
        holder.close()
    assert FailureRecorder(lambda: engine, spool).replay().recorded == 1
    assert _total(engine) == 3
    impatient.dispose()
    engine.dispose()


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        pytest.param(
            "INSERT INTO failure_recordings VALUES (NULL, 'b', '2026-01-01')",
            WriteRefusal.CONTENT,
            id="not-null",
        ),
        pytest.param("SELECT * FROM no_such_table", None, id="a-bug-is-raised"),
    ],
)
def test_the_database_error_code_decides_outage_content_or_bug(
    engine: sa.Engine, statement: str, expected: WriteRefusal | None
) -> None:
    with pytest.raises(sa.exc.DBAPIError) as raised, engine.begin() as connection:
        connection.exec_driver_sql(statement)
    assert write_refusal(raised.value) is expected


# --- 9. A full or unwritable spool --------------------------------------------------------


def test_a_full_spool_loses_the_batch_loudly_and_leaves_no_partial_file(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    result_path = tmp_path / "result.json"
    worker = SPAWN.Process(
        target=recording_worker.record_on_a_small_disk,
        args=(str(spool_dir), 16_384, str(result_path)),
    )
    worker.start()
    worker.join(timeout=120)
    assert worker.exitcode == 0
    result = json.loads(result_path.read_text())
    assert result["recording"] is None
    assert "LOST 2000 failures of run run-full (events-00001)" in result["error"]
    assert "File too large" in result["error"]
    assert "2000 x city validation_error 'Invalid date <value>'" in result["error"]
    assert "s3cret" not in result["error"]
    assert spool_dir.is_dir() and _partials(spool_dir) == []
    assert FailureSpool(spool_dir).pending() == []


def test_an_unwritable_spool_raises_what_it_lost(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    recorder = FailureRecorder(
        lambda: create_db_engine(UNREACHABLE_URL), FailureSpool(blocker / "spool")
    )
    with pytest.raises(FailuresNotKept, match=r"LOST 3 failures of run run-x \(run\)"):
        recorder.record(_failures(3), run_id="run-x", batch="run")
    assert _partials(tmp_path) == []


def test_the_replay_removes_partial_files_of_writers_that_died(
    engine: sa.Engine, tmp_path: Path
) -> None:
    spool = FailureSpool(tmp_path / "spool")
    (spool.directory / DEAD_LETTERS).mkdir(parents=True)
    finished = subprocess.Popen(["true"])
    finished.wait()  # its process id runs no more
    stale = [
        spool.directory / f"abc.{finished.pid}{PARTIAL_SUFFIX}",
        spool.directory / DEAD_LETTERS / f"def.{finished.pid}{PARTIAL_SUFFIX}",
    ]
    live = spool.directory / f"ghi.{os.getpid()}{PARTIAL_SUFFIX}"
    for path in (*stale, live):
        path.write_text("{")
    FailureRecorder(lambda: engine, spool).replay()
    assert _partials(spool.directory) == [live]  # a writer still at work keeps its file


# --- Dagster's own storage ----------------------------------------------------------------


def test_after_failtrack_migrate_eight_processes_open_a_fresh_dagster_home_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{tmp_path / 'failtrack.db'}")
    assert main(["migrate"]) == 0

    barrier = SPAWN.Barrier(WORKERS)
    results = [tmp_path / f"run-{index}.json" for index in range(WORKERS)]
    workers = [
        SPAWN.Process(target=recording_worker.run_a_job, args=(barrier, str(path)))
        for path in results
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    outcomes = [json.loads(path.read_text()) for path in results]
    assert [outcome["error"] for outcome in outcomes] == [None] * WORKERS
    assert all(outcome["success"] for outcome in outcomes)
    with DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == WORKERS
