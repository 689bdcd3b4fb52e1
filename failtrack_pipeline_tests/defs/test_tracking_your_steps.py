"""A user's own step, tracked with the public API only: per-event failures, the outage spool,
the hook and the sensor on one dead op, the stage in the summary tables."""

# No `from __future__ import annotations`: Dagster reads the context annotations.

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    DagsterEventType,
    DagsterInstance,
    OpExecutionContext,
    RetryPolicy,
    asset,
    build_run_status_sensor_context,
    job,
    materialize,
    op,
)
from sqlalchemy.engine import make_url

from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.db.schema import (
    discovery_event_failure_days,
    discovery_event_failures,
    error_category_breakdown,
    stage_run_counts,
    stage_success_rates,
    top_failure_groups,
)
from failtrack_pipeline.defs import (
    FailtrackTracker,
    failtrack_failure_hook,
    failtrack_run_failure_sensor,
)
from failtrack_pipeline.summaries.breakdown import build_error_category_breakdown
from failtrack_pipeline.summaries.groups import build_top_failure_groups
from failtrack_pipeline.summaries.stages import build_stage_success_rates
from failtrack_pipeline.tracking.spool import FailureRecorder, FailureSpool
from failtrack_pipeline_tests.conftest import Backend

# A user's events: (source, id, address). Two have no address, one is unknown to the geocoder.
EVENTS = [
    ("city_concerts", "cc-1", "Dam 1, Amsterdam"),
    ("city_concerts", "cc-2", None),
    ("city_concerts", "cc-3", "Nowhere Lane 0"),
    ("metro_meetups", "mm-1", "Dam 1, Amsterdam"),
    ("metro_meetups", "mm-2", None),
]
KNOWN = {"Dam 1, Amsterdam": (52.373, 4.893)}


class AddressNotFound(Exception):
    pass


def geocode(address: str | None) -> tuple[float, float]:
    if address is None:
        raise ValueError("missing coordinates: no address to geocode")
    if address not in KNOWN:
        raise AddressNotFound(f"address not resolvable: {address!r}")
    return KNOWN[address]


@asset
def geocoded_events(
    context: AssetExecutionContext, failtrack_tracker: FailtrackTracker
) -> list[str]:
    """What a user writes: one line around each event's work."""
    done = []
    with failtrack_tracker.tracking(context) as tracker:
        for source_id, external_id, address in EVENTS:
            with tracker.event(source_id, external_id, stage="geocode"):
                geocode(address)
                done.append(external_id)
        tracker.failed("metro_meetups", "mm-3", stage="geocode", category="geocoding_error")
    return done


def tracker_for(url: str, spool: Path) -> FailtrackTracker:
    return FailtrackTracker(url=url, spool_dir=str(spool))


def geocode_rows(engine: sa.Engine) -> dict[tuple[str, str, str], int]:
    table = discovery_event_failures.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.source_id, table.error_category, table.stage, table.occurrence_count)
        ).all()
    counts: Counter[tuple[str, str, str]] = Counter()
    for source, category, stage, count in rows:
        counts[(source, category, stage)] += count
    return dict(counts)


def stage_counts(engine: sa.Engine) -> set[tuple[str, str, int, int, int]]:
    c = stage_run_counts.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(c.source_id, c.stage, c.events_processed, c.events_succeeded, c.events_failed)
        ).all()
    return {tuple(row) for row in rows}


EXPECTED_COUNTS = {
    ("city_concerts", "geocode", 3, 1, 2),
    ("metro_meetups", "geocode", 3, 1, 2),
}


def test_a_user_asset_records_per_event_failures_with_their_stage_once_per_run(
    backend: Backend, tmp_path: Path
) -> None:
    result = materialize(
        [geocoded_events],
        instance=backend.instance,
        resources={"failtrack_tracker": tracker_for(backend.db_url, tmp_path / "spool")},
    )
    assert result.output_for_node("geocoded_events") == ["cc-1", "mm-1"]
    rows = geocode_rows(backend.engine)
    assert sum(rows.values()) == 4
    assert {stage for _, _, stage in rows} == {"geocode"}
    assert rows[("metro_meetups", "geocoding_error", "geocode")] == 2
    assert ("city_concerts", "unknown_error", "geocode") in rows  # AddressNotFound: no rule
    assert stage_counts(backend.engine) == EXPECTED_COUNTS
    days = discovery_event_failure_days.c
    with backend.engine.connect() as connection:
        day_stages = set(connection.execute(sa.select(days.stage)).scalars())
    assert day_stages == {"geocode"}
    assert backend.instance.get_run_by_id(result.run_id).tags["failtrack/stage"] == "geocode"


@dataclass
class ReadOnly:
    """failtrack's database, migrated, that can be made read-only (an outage) and back."""

    read_only_url: str
    writable_url: str
    admin: sa.Engine | None = None

    def set_read_only(self, read_only: bool) -> None:
        if self.admin is None:
            return  # SQLite: the read-only URL opens the file read-only
        name = make_url(self.writable_url).database
        with self.admin.connect() as connection:
            connection.exec_driver_sql(
                f'ALTER DATABASE "{name}" SET default_transaction_read_only = '
                f"{'on' if read_only else 'off'}"
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadOnly]:
    if request.param == "sqlite":
        path = tmp_path / "failtrack.db"
        url = f"sqlite:///{path}"
        migrate(create_db_engine(url))
        yield ReadOnly(f"sqlite:///file:{path}?mode=ro&uri=true", url)
        return
    url = request.getfixturevalue("postgres_url")
    migrate(create_db_engine(url))
    server = make_url(request.getfixturevalue("postgres_server_url"))
    admin = sa.create_engine(
        server.set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
    )
    # The engine of this URL in the run is new: the setting applies to its sessions.
    yield ReadOnly(url + ("&" if "?" in url else "?") + "application_name=ro", url, admin)
    admin.dispose()


def test_a_user_asset_survives_a_database_outage_through_the_spool(
    database: ReadOnly, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    database.set_read_only(True)
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [geocoded_events],
            instance=instance,
            resources={"failtrack_tracker": tracker_for(database.read_only_url, spool)},
        )
    assert result.success  # the outage never fails the user's step
    assert len(FailureSpool(spool).pending()) == 1
    database.set_read_only(False)
    writable = create_db_engine(database.writable_url)
    assert geocode_rows(writable) == {}
    recorder = FailureRecorder(lambda: writable, FailureSpool(spool))
    assert recorder.replay().recorded == 1
    assert recorder.replay().recorded == 0  # nothing left, nothing counted twice
    assert sum(geocode_rows(writable).values()) == 4
    assert stage_counts(writable) == EXPECTED_COUNTS
    writable.dispose()


@op
def match_venues(context: OpExecutionContext) -> None:
    raise ConnectionRefusedError("venue service at 10.0.0.7:8080 refused the connection")


@job(hooks={failtrack_failure_hook})
def venues_job() -> None:
    match_venues()


def test_the_hook_and_the_sensor_on_one_dead_op_count_it_once_per_attempt(
    backend: Backend, tmp_path: Path
) -> None:
    instance = backend.instance
    tracker = tracker_for(backend.db_url, tmp_path / "spool")
    sensor = failtrack_run_failure_sensor([venues_job])

    def run_and_sense() -> str:
        result = venues_job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={"failtrack/source": "city_concerts"},
            resources={"failtrack_tracker": tracker},
        )
        assert not result.success
        (failure,) = instance.get_records_for_run(
            result.run_id, of_type=DagsterEventType.RUN_FAILURE
        ).records
        for _ in range(2):  # the daemon may evaluate it again
            context = build_run_status_sensor_context(
                sensor_name=sensor.name,
                dagster_event=failure.event_log_entry.dagster_event,
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(result.run_id),
                resources={"failtrack_tracker": tracker},
            ).for_run_failure()
            sensor(context)
        return result.run_id

    first = run_and_sense()
    assert geocode_rows(backend.engine) == {("city_concerts", "network_error", "match_venues"): 1}
    run_and_sense()  # a re-execution is a new attempt: counted afresh
    assert geocode_rows(backend.engine) == {("city_concerts", "network_error", "match_venues"): 2}
    tags = instance.get_run_by_id(first).tags
    assert tags["failtrack/stage"] == "match_venues"
    assert tags["failtrack/status"] == "failed"


@op(retry_policy=RetryPolicy(max_retries=1))
def flaky_geocode(context: OpExecutionContext, failtrack_tracker: FailtrackTracker) -> None:
    with failtrack_tracker.tracking(context) as tracker:
        for source_id, external_id, address in EVENTS[:2]:
            with tracker.event(source_id, external_id, stage="geocode"):
                geocode(address)
        if context.retry_number == 0:
            raise ConnectionResetError("geocoder went away")  # the step is tried again


@job
def flaky_job() -> None:
    flaky_geocode()


def test_a_retried_step_counts_each_attempt_and_a_tracked_block_once_per_attempt(
    backend: Backend, tmp_path: Path
) -> None:
    result = flaky_job.execute_in_process(
        instance=backend.instance,
        resources={"failtrack_tracker": tracker_for(backend.db_url, tmp_path / "spool")},
    )
    assert result.success
    # Both attempts tracked cc-2's missing address (the first also recorded on its way out).
    assert geocode_rows(backend.engine) == {("city_concerts", "geocoding_error", "geocode"): 2}
    c = stage_run_counts.c
    with backend.engine.connect() as connection:
        batches = connection.execute(sa.select(c.batch, c.events_processed)).all()
    assert sorted(batches) == [
        ("attempt-0/track/flaky_geocode", 2),
        ("attempt-1/track/flaky_geocode", 2),
    ]


def test_the_stage_shows_in_every_summary_table(backend: Backend, tmp_path: Path) -> None:
    materialize(
        [geocoded_events],
        instance=backend.instance,
        resources={"failtrack_tracker": tracker_for(backend.db_url, tmp_path / "spool")},
    )
    today = datetime.now(UTC).date()
    engine = backend.engine
    build_error_category_breakdown(engine)
    build_top_failure_groups(engine, today)
    build_stage_success_rates(engine, today)
    with engine.connect() as connection:
        breakdown = connection.execute(
            sa.select(
                error_category_breakdown.c.source_id,
                error_category_breakdown.c.stage,
                error_category_breakdown.c.error_category,
                error_category_breakdown.c.occurrences,
            )
        ).all()
        top = connection.execute(
            sa.select(top_failure_groups.c.source_id, top_failure_groups.c.stage)
        ).all()
        rates = connection.execute(
            sa.select(
                stage_success_rates.c.source_id,
                stage_success_rates.c.stage,
                stage_success_rates.c.events_processed_7d,
                stage_success_rates.c.success_rate_7d,
                stage_success_rates.c.top_error_category,
            )
        ).all()
    assert ("metro_meetups", "geocode", "geocoding_error", 2) in breakdown
    assert ("*", "geocode", "geocoding_error", 3) in breakdown
    assert {stage for _, stage in top} == {"geocode"} and len(top) == 4
    assert sorted(rates) == [
        # one occurrence each: the latest seen (cc-3) is the top failure
        ("city_concerts", "geocode", 3, pytest.approx(1 / 3), "unknown_error"),
        ("metro_meetups", "geocode", 3, pytest.approx(1 / 3), "geocoding_error"),
    ]
