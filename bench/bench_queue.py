"""Many sources through the run queue: runs per minute, where the time goes, cost per source.

    .venv/bin/python bench/bench_queue.py [--sources 50 200] [--events 1000] [--postgres URL]

For each count of sources, a deployment as in production on this machine (a real
`dagster-daemon` and `dagster-webserver`, Dagster's storage and failtrack's tables on
PostgreSQL, the shipped queue: 8 runs at once, one per source) scrapes that many copies of
`bench_tracking.py`'s synthetic source (`--events` records each, every tenth bad) in one
backfill. Each run's event log tells where its time went: waiting in the queue, starting
its worker (a process that loads the code), scraping and recording in the op, finishing.

The baseline, measured in the same run: the same sources scraped one after the other in
this process, once with tracking off and once on, which splits the op's work into scraping
and recording.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from dagster import DagsterRunStatus, RunsFilter

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from bench_tracking import (  # noqa: E402
    EVENTS_ENV,
    NOW,
    UntrackedScrape,
    events_wanted,
    fresh_engine,
)

from failtrack_pipeline.config.sources_file import SourceConfig, load_sources  # noqa: E402
from failtrack_pipeline.source_scrape import SourceScrape  # noqa: E402
from failtrack_pipeline.testing.deployment import (  # noqa: E402
    Timeline,
    peak_concurrency,
    running_deployment,
    timeline,
)
from failtrack_pipeline.testing.postgres import (  # noqa: E402
    fresh_postgres_database,
    postgres_server,
)

SCRAPE_JOB = "scrape_sources_job"


def write_sources(path: Path, count: int) -> Path:
    """`count` copies of the synthetic source, `bench_000`…"""
    lines = ["sources:"]
    for index in range(count):
        lines += [
            f"  - id: bench_{index:03d}",
            f"    name: Synthetic feed {index}",
            "    kind: python",
            "    callable: bench_tracking:synthetic_events",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def in_process(sources: list[SourceConfig], engine: sa.Engine) -> tuple[float, float]:
    """Seconds per source to scrape with tracking off, and with it on, in this process."""
    timings = {}
    for cls in (UntrackedScrape, SourceScrape):
        started = time.perf_counter()
        for source in sources:
            cls(source, engine, run_id=uuid.uuid4().hex, now=NOW).run()
        timings[cls] = (time.perf_counter() - started) / len(sources)
    return timings[UntrackedScrape], timings[SourceScrape]


def through_the_queue(
    workdir: Path, sources_file: Path, source_ids: list[str], postgres_url: str
) -> list[Timeline]:
    """Backfill every source through a fresh deployment; each run's timeline."""
    with (
        fresh_postgres_database(postgres_url) as dagster_url,
        fresh_postgres_database(postgres_url) as failtrack_url,
        running_deployment(
            workdir / f"home-{len(source_ids)}",
            dagster_postgres_url=dagster_url,
            failtrack_url=failtrack_url,
            sources_file=sources_file,
            extra_env={"PYTHONPATH": str(BENCH), EVENTS_ENV: str(events_wanted())},
        ) as deployment,
    ):
        backfill = deployment.launch_backfill(SCRAPE_JOB, source_ids, {})
        runs = deployment.wait_for_runs(
            RunsFilter(tags={"dagster/backfill": backfill}), len(source_ids), timeout=3600
        )
        failed = [run.run_id for run in runs if run.status != DagsterRunStatus.SUCCESS]
        assert not failed, f"runs failed: {failed}\n{deployment.logs()}"
        return [timeline(deployment.instance, run.run_id) for run in runs]


def report(count: int, timelines: list[Timeline], untracked: float, tracked: float) -> float:
    """Print one deployment's numbers; returns its wall time."""
    wall = max(t.ended for t in timelines) - min(t.queued for t in timelines)
    queue = statistics.median(t.launched - t.queued for t in timelines)
    run = statistics.median(t.ended - t.launched for t in timelines)
    parts = {
        "worker start, code load": [t.started - t.launched for t in timelines],
        "op: scrape + record": [t.op_ended - t.op_started for t in timelines],
        "run teardown": [t.ended - t.op_ended for t in timelines],
    }
    print(
        f"\n{count} sources: {wall:.1f} s, {count / wall * 60:.1f} runs/min, "
        f"{wall / count:.2f} s per source, peak {peak_concurrency(timelines)} runs at once"
    )
    print(f"  per run (median of {count}), launched to ended {run:.2f} s:")
    print(f"    {'waiting in the queue':26}{queue:7.2f} s (not part of the run)")
    for part, spans in parts.items():
        median = statistics.median(spans)
        print(f"    {part:26}{median:7.2f} s ({median / run:.0%})")
    print(
        f"  recording, part of the op: ~{tracked - untracked:.2f} s in process "
        f"(scrape {untracked:.3f} s, with tracking {tracked:.3f} s)"
    )
    print(
        f"  vs in process, one after the other: {wall / count / tracked:.1f}x the time per source"
    )
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--events", type=int, default=1_000, help="records per source")
    parser.add_argument("--postgres", help="a PostgreSQL URL we may create databases on")
    args = parser.parse_args()
    os.environ[EVENTS_ENV] = str(args.events)

    with tempfile.TemporaryDirectory() as tmp, postgres_server(args.postgres) as postgres_url:
        workdir = Path(tmp)
        print(f"{args.events} records per source, every tenth bad; PostgreSQL for both stores")
        walls = {}
        for count in args.sources:
            sources_file = write_sources(workdir / f"sources-{count}.yaml", count)
            sources = load_sources(sources_file).enabled()
            engine = fresh_engine("postgresql", postgres_url, workdir)
            untracked, tracked = in_process(sources, engine)
            engine.dispose()
            ids = [source.id for source in sources]
            timelines = through_the_queue(workdir, sources_file, ids, postgres_url)
            walls[count] = report(count, timelines, untracked, tracked)
        if len(walls) > 1:
            (few, few_wall), (many, many_wall) = min(walls.items()), max(walls.items())
            print(
                f"\neach source added: +{(many_wall - few_wall) / (many - few):.2f} s "
                f"of wall time ({few} → {many} sources)"
            )


if __name__ == "__main__":
    main()
