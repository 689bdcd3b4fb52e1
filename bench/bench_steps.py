"""What one Dagster step per event costs, against one run per source.

    .venv/bin/python bench/bench_steps.py [--events 100000] [--steps 200 1000]
                                          [--multiprocess-steps 20]

The original design implies one Dagster step per event: a job whose first op fans out one
dynamic output per record, and one op per record that validates it and records its outcome
(the valid event upserted, the failure recorded through `record_failures`). We run that
job on a temporary instance, in process for each `--steps` N and with the multiprocess
executor (what a deployment runs) for `--multiprocess-steps` N, and time it per event.
In the same run, the baseline is ours: `SourceScrape` over a synthetic `python` source of
`--events` events, best of 2 before and 2 after the naive runs. Both write failtrack's
tables to a fresh SQLite file and use bench_tracking's feed (every tenth event fails).
Target: the naive way >= 500x slower per event.
"""

# No `from __future__ import annotations`: Dagster reads the ops' annotations.
import argparse
import os
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from bench_tracking import (
    BENCH_SOURCE_ID,
    EVENTS_ENV,
    NOW,
    fresh_engine,
    time_scrape,
    write_bench_sources,
)
from dagster import (
    DagsterInstance,
    DynamicOut,
    DynamicOutput,
    EnvVar,
    OpExecutionContext,
    execute_job,
    in_process_executor,
    job,
    multiprocess_executor,
    op,
    reconstructable,
)

from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.base.events import Event
from failtrack_pipeline.config.environment import DATABASE_URL_ENV, SOURCES_FILE_ENV
from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.db.schema import discovery_event_failures, events
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.processing.validate import process_records
from failtrack_pipeline.source_scrape import SourceScrape, upsert_events
from failtrack_pipeline.sources.readers import read_records
from failtrack_pipeline.tracking.failures import describe_failure
from failtrack_pipeline.tracking.store import record_failures

OUR_REPEATS = 2  # before and again after the naive runs: load drift hits both
TARGET_RATIO = 500
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # events still stored
RESOURCES = {
    "failtrack_db": FailtrackDatabase(),  # FAILTRACK_DATABASE_URL, set per measurement
    "failtrack_sources": FailtrackSources(path=EnvVar(SOURCES_FILE_ENV)),
}


@op(out=DynamicOut(dict))
def fan_out_events(failtrack_sources: FailtrackSources):
    """One dynamic output, hence one downstream step, per record of the feed."""
    source = failtrack_sources.load().get(BENCH_SOURCE_ID)
    for index, record in enumerate(read_records(source)):
        yield DynamicOutput(record, mapping_key=str(index))


@op
def track_one_event(
    context: OpExecutionContext,
    record: dict,
    failtrack_sources: FailtrackSources,
    failtrack_db: FailtrackDatabase,
) -> None:
    """Validate one record and record its outcome, as a step of its own."""
    source = failtrack_sources.load().get(BENCH_SOURCE_ID)
    engine = failtrack_db.get_engine()
    [item] = process_records([record], source, now=NOW)
    if isinstance(item, EventError):
        failure = describe_failure(source.id, item, seen_at=NOW)
        batch = f"event-{context.get_mapping_key()}"
        record_failures(engine, [failure], run_id=context.run_id, batch=batch)
    elif isinstance(item, Event):
        upsert_events(engine, [item], run_id=context.run_id, now=NOW)
    # else: left out on purpose (a skip), nothing to write


@job(resource_defs=RESOURCES, executor_def=in_process_executor)
def step_per_event_job():
    fan_out_events().map(track_one_event)


@job(resource_defs=RESOURCES, executor_def=multiprocess_executor)
def step_per_event_multiprocess_job():
    fan_out_events().map(track_one_event)


def time_naive(steps: int, multiprocess: bool, workdir: Path) -> float:
    """Seconds per event for one run of the step-per-event job over `steps` events."""
    os.environ[EVENTS_ENV] = str(steps)
    engine = fresh_engine("sqlite", None, workdir)
    os.environ[DATABASE_URL_ENV] = engine.url.render_as_string(hide_password=False)
    with tempfile.TemporaryDirectory(dir=workdir) as home:
        instance = DagsterInstance.local_temp(home)
        started = time.perf_counter()
        if multiprocess:
            with execute_job(
                reconstructable(step_per_event_multiprocess_job),
                instance=instance,
                run_config=QUIET,
            ) as result:
                success = result.success
        else:
            success = step_per_event_job.execute_in_process(
                instance=instance, run_config=QUIET
            ).success
        elapsed = time.perf_counter() - started
        instance.dispose()
    assert success, "the step-per-event run failed"
    assert _outcomes(engine) == _expected_outcomes(), "not every event's outcome was recorded"
    engine.dispose()
    return elapsed / steps


def _expected_outcomes() -> int:
    """How many of the feed's records end as a stored event or a recorded failure."""
    source = load_sources(os.environ[SOURCES_FILE_ENV]).get(BENCH_SOURCE_ID)
    items = process_records(read_records(source), source, now=NOW)
    return sum(isinstance(item, Event | EventError) for item in items)


def _outcomes(engine: sa.Engine) -> int:
    """Events stored plus failures counted: each event's outcome, exactly once."""
    with engine.connect() as connection:
        stored = connection.scalar(sa.select(sa.func.count()).select_from(events))
        failed = connection.scalar(
            sa.select(sa.func.sum(discovery_event_failures.c.occurrence_count))
        )
    return int(stored or 0) + int(failed or 0)


def time_ours(events_count: int, sources_file: Path, workdir: Path) -> float:
    """Seconds per event of `SourceScrape` over `events_count` events, best of OUR_REPEATS."""
    os.environ[EVENTS_ENV] = str(events_count)
    source = load_sources(sources_file).get(BENCH_SOURCE_ID)
    best = min(
        time_scrape(SourceScrape, source, lambda: fresh_engine("sqlite", None, workdir))
        for _ in range(OUR_REPEATS)
    )
    return best / events_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events for our scrape")
    parser.add_argument(
        "--steps", type=int, nargs="+", default=[200, 1_000], help="events (steps) per naive run"
    )
    parser.add_argument(
        "--multiprocess-steps",
        type=int,
        default=20,
        help="events for the naive run on the multiprocess executor (0: skip it)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sources_file = write_bench_sources(workdir)
        os.environ[SOURCES_FILE_ENV] = str(sources_file)
        ours_before = time_ours(args.events, sources_file, workdir)
        naive = [
            (f"in-process executor, {n:,} events", time_naive(n, False, workdir))
            for n in args.steps
        ]
        if args.multiprocess_steps:
            n = args.multiprocess_steps
            naive.append((f"multiprocess executor, {n:,} events", time_naive(n, True, workdir)))
        ours = min(ours_before, time_ours(args.events, sources_file, workdir))

    print(
        f"\n== one Dagster step per event vs one run per source (SQLite, {os.cpu_count()} CPUs) =="
    )
    ours_label = f"ours: SourceScrape, {args.events:,} events"
    print(
        f"{ours_label:<42}: {ours * 1e6:9.1f} us/event  ({1 / ours:,.0f} events/s per source run)"
    )
    for label, per_event in naive:
        print(
            f"{'naive: ' + label:<42}: {per_event * 1e3:9.1f} ms/step   "
            f"{per_event / ours:8,.0f}x slower per event (target >= {TARGET_RATIO}x)"
        )


if __name__ == "__main__":
    main()
