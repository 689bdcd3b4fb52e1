"""The spool: failures the database cannot take are kept on disk and counted once later."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.schema import discovery_event_failures
from failtrack_pipeline.tracking.failures import FailureRecord, describe_failure
from failtrack_pipeline.tracking.spool import FailureRecorder, FailureSpool, Recording

SEEN = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
# Nothing listens on port 1: connecting fails at once, as with a database that is down.
UNREACHABLE_URL = "postgresql+psycopg://failtrack:s3cret@127.0.0.1:1/failtrack"


def _failures(
    count: int, message: str = "Invalid date '2027-13-45' for starts_at"
) -> list[FailureRecord]:
    return [
        describe_failure("city", message, seen_at=SEEN, external_id=f"ev-{index}")
        for index in range(count)
    ]


def _counts(engine: sa.Engine) -> dict[str, int]:
    table = discovery_event_failures
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table.c.error_message, table.c.occurrence_count))
        return dict(rows.tuples().all())


@pytest.fixture
def spool(tmp_path: Path) -> FailureSpool:
    return FailureSpool(tmp_path / "spool")


@pytest.fixture
def down() -> FailureRecorder:
    """A recorder whose database does not answer, with no spool yet: set per test."""
    return FailureRecorder(lambda: create_db_engine(UNREACHABLE_URL))


def test_unreachable_database_spools_and_replay_counts_once(
    engine: sa.Engine, spool: FailureSpool
) -> None:
    down = FailureRecorder(lambda: create_db_engine(UNREACHABLE_URL), spool)
    assert down.record(_failures(3), run_id="run-1", batch="events-00001") is Recording.SPOOLED
    assert down.record(_failures(2), run_id="run-1", batch="run") is Recording.SPOOLED
    assert len(spool.pending()) == 2
    assert down.replay().pending == 2  # still down: nothing lost, nothing counted

    up = FailureRecorder(lambda: engine, spool)
    result = up.replay()
    assert (result.recorded, result.already_recorded, result.pending) == (2, 0, 0)
    assert _counts(engine) == {"Invalid date <value> for starts_at": 5}
    assert spool.pending() == []
    assert up.replay().recorded == 0
    assert _counts(engine) == {"Invalid date <value> for starts_at": 5}


def test_a_batch_counted_before_its_spool_file_is_removed_counts_once(
    engine: sa.Engine, spool: FailureSpool
) -> None:
    """A replay that crashed after its commit, or the sensor recording what the hook spooled."""
    failures = _failures(4)
    spool.put(failures, run_id="run-2", batch="run")
    up = FailureRecorder(lambda: engine, spool)
    assert up.record(failures, run_id="run-2", batch="run") is Recording.RECORDED
    assert spool.pending() == []  # replayed right after the direct recording
    assert _counts(engine) == {"Invalid date <value> for starts_at": 4}
    assert up.record(failures, run_id="run-2", batch="run") is Recording.ALREADY_RECORDED


def test_a_successful_recording_replays_the_spool(engine: sa.Engine, spool: FailureSpool) -> None:
    FailureRecorder(lambda: create_db_engine(UNREACHABLE_URL), spool).record(
        _failures(2, "Missing title"), run_id="run-3", batch="events-00001"
    )
    up = FailureRecorder(lambda: engine, spool)
    up.record(_failures(1), run_id="run-4", batch="events-00001")
    assert _counts(engine) == {"Missing title": 2, "Invalid date <value> for starts_at": 1}
    assert spool.pending() == []


def test_spooled_failures_round_trip_unchanged(spool: FailureSpool) -> None:
    odd = "Bad title 'caf\u00e9 \u202eevil\u202c \ud800' in row 7\nnext line"
    failures = [
        describe_failure("src", odd, seen_at=SEEN, external_id="\u00e9v-1"),
        describe_failure("src", TimeoutError("read timed out"), seen_at=SEEN),
    ]
    path = spool.put(failures, run_id="run-5", batch="events-00002")
    assert spool.read(path) == ("run-5", "events-00002", failures)
    assert failures[1].category is ErrorCategory.NETWORK


def test_unreadable_spool_file_is_set_aside_not_lost(
    engine: sa.Engine, spool: FailureSpool
) -> None:
    spool.put(_failures(1), run_id="run-6", batch="run")
    broken = spool.directory / "0000-broken.json"
    broken.write_text('{"run_id": "run-7", "failures": [')
    result = FailureRecorder(lambda: engine, spool).replay()
    assert (result.recorded, result.unreadable) == (1, 1)
    assert (spool.directory / "unreadable" / broken.name).read_text().startswith('{"run_id"')


def test_errors_other_than_an_outage_or_a_refused_content_are_raised(
    db_url: str, spool: FailureSpool
) -> None:
    """A bug must surface, not pile up in the spool: here the tables were never created
    (SQLite says so with the same exception type as an outage; its error code tells)."""
    unmigrated = create_db_engine(db_url)
    recorder = FailureRecorder(lambda: unmigrated, spool)
    with pytest.raises(sa.exc.DBAPIError, match="discovery_event_failures|failure_recordings"):
        recorder.record(_failures(1), run_id="run-8", batch="run")
    assert spool.pending() == []
    assert spool.dead_letters() == []
    unmigrated.dispose()


def test_without_a_spool_an_unreachable_database_raises(down: FailureRecorder) -> None:
    with pytest.raises(sa.exc.OperationalError):
        down.record(_failures(1), run_id="run-9", batch="run")
