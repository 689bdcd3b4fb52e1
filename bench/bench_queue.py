"""Many sources through the run queue: runs per minute, and where the CPU goes, per setting.

    .venv/bin/python bench/bench_queue.py [--sources 200] [--events 100] [--rounds 2]
        [--variants shipped ...] [--postgres URL]

Each variant is a deployment as in production on this machine (a real `dagster-daemon` and
`dagster-webserver`, Dagster's storage and failtrack's tables on PostgreSQL) over the
shipped `deploy/postgres/dagster.yaml` with one group of Dagster settings changed; each
scrapes `--sources` copies of `bench_tracking.py`'s synthetic source (`--events` records,
every tenth bad) in one backfill.

The baseline is `shipped`, the file as it is, measured in the same run: the variants run
interleaved, round after round (ABC, then CBA, ...), so that the load other processes put on
the machine hits each alike. For each deployment: wall time and runs per minute; the CPU
seconds per run of each of its processes (daemon, code servers, run workers, webserver,
PostgreSQL), counted by the kernel, children included; what those CPU seconds would give
on the machine's cores alone (`capacity`); and how loaded the machine was meanwhile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa
import yaml
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
from failtrack_pipeline.defs.executors import (  # noqa: E402
    CELERY_BACKEND_URL_ENV,
    CELERY_BROKER_URL_ENV,
)
from failtrack_pipeline.source_scrape import SourceScrape  # noqa: E402
from failtrack_pipeline.testing.celery import celery_workers, redis_server  # noqa: E402
from failtrack_pipeline.testing.deployment import (  # noqa: E402
    Deployment,
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
CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class Variant:
    """Dagster settings laid over the shipped dagster.yaml (nested keys merged)."""

    description: str
    overrides: Mapping[str, Any]
    max_concurrent_runs: int = 8
    celery_workers: int = 0  # workers (each max_concurrent_runs / workers processes) + Redis


def _queue(**config: Any) -> dict[str, Any]:
    return {"run_coordinator": {"config": config}}


VARIANTS = {
    "shipped": Variant("deploy/postgres/dagster.yaml as shipped", {}),
    "dequeue_1s": Variant("the queue checks every 1 s", _queue(dequeue_interval_seconds=1)),
    "dequeue_1s_4_runs": Variant(
        "every 1 s, at most 4 runs at once", _queue(dequeue_interval_seconds=1), 4
    ),
    "dequeue_1s_16_runs": Variant(
        "every 1 s, at most 16 runs at once", _queue(dequeue_interval_seconds=1), 16
    ),
    "dequeue_1s_one_launcher": Variant(
        "every 1 s, one launch at a time (no dequeue threads)",
        _queue(dequeue_interval_seconds=1, dequeue_use_threads=False),
    ),
    "no_compute_logs": Variant(
        "every 1 s, stdout/stderr not captured (NoOpComputeLogManager)",
        {
            **_queue(dequeue_interval_seconds=1),
            "compute_logs": {
                "module": "dagster.core.storage.noop_compute_log_manager",
                "class": "NoOpComputeLogManager",
            },
        },
    ),
    "celery_run_launcher": Variant(
        "deploy/celery/dagster.yaml: runs as tasks on 2 Celery workers (CeleryRunLauncher)",
        yaml.safe_load((BENCH.parent / "deploy" / "celery" / "dagster.yaml").read_text()),
        celery_workers=2,
    ),
    "dequeue_1s_no_monitoring": Variant(
        "every 1 s, run monitoring off",
        {**_queue(dequeue_interval_seconds=1), "run_monitoring": {"enabled": False}},
    ),
}


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
    """CPU seconds per source to scrape with tracking off, and with it on, in this process."""
    timings = {}
    for cls in (UntrackedScrape, SourceScrape):
        started = time.process_time()
        for source in sources:
            cls(source, engine, run_id=uuid.uuid4().hex, now=NOW).run()
        timings[cls] = (time.process_time() - started) / len(sources)
    return timings[UntrackedScrape], timings[SourceScrape]


def _role(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    for marker, role in (
        ("redis-server", "redis"),
        ("celery", "celery workers"),
        ("dagster-daemon", "daemon"),
        ("dagster-webserver", "webserver"),
        ("api grpc", "code servers"),
        ("code-server", "code servers"),
        ("multiprocessing", "run workers"),
    ):
        if marker in text:
            return role
    return "other"


# Whose reaped children a role's `children_*` CPU times are. The daemon's and webserver's
# are code servers that exited (restarted when their heartbeat timed out), with their runs.
RESTARTED = "exited code servers with their runs"
CHILDREN_OF = {
    "code servers": "run workers",
    "run workers": "run workers",
    "celery workers": "celery workers",
}


def process_cpu(postmaster: psutil.Process | None) -> dict[str, float]:
    """CPU seconds so far of the processes this benchmark started, by role, and of the
    PostgreSQL server; a process that has exited counts in its parent's children times."""
    totals: dict[str, float] = defaultdict(float)
    for process in psutil.Process().children(recursive=True):
        try:
            with process.oneshot():
                role = _role(process.cmdline())
                times = process.cpu_times()
        except psutil.Error:
            continue
        totals[role] += times.user + times.system
        totals[CHILDREN_OF.get(role, RESTARTED)] += times.children_user + times.children_system
    if postmaster is not None:
        for process in [postmaster, *postmaster.children()]:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            totals["postgres"] += times.user + times.system + times.children_user
            totals["postgres"] += times.children_system
    return totals


def find_postmaster(server_url: str) -> psutil.Process | None:
    """The server's postmaster when it runs on this machine (pgserver's does), else None."""
    socket_dir = sa.make_url(server_url).query.get("host")
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "-D" not in cmdline or "postgres" not in (process.info["name"] or ""):
            continue
        pid_file = Path(cmdline[cmdline.index("-D") + 1]) / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            continue
        if socket_dir in lines[4:5] and int(lines[0]) == process.pid:
            return process
    return None


@dataclass
class Measured:
    """One variant's backfill: its runs' timelines, CPU by role, and the machine's load."""

    variant: str
    timelines: list[Timeline]
    cpu: dict[str, float]
    load: float
    failed: int

    @property
    def runs(self) -> int:
        return len(self.timelines)

    @property
    def wall(self) -> float:
        return max(t.ended for t in self.timelines) - min(t.queued for t in self.timelines)

    @property
    def runs_per_minute(self) -> float:
        return self.runs / self.wall * 60

    @property
    def cpu_per_run(self) -> float:
        return sum(self.cpu.values()) / self.runs

    @property
    def capacity(self) -> float:
        """Runs per minute these CPU seconds allow on this machine's cores, had we them alone."""
        return CORES * 60 / self.cpu_per_run


def through_the_queue(
    workdir: Path,
    sources_file: Path,
    source_ids: list[str],
    postgres_url: str,
    name: str,
) -> Measured:
    """Backfill every source through a fresh deployment with the variant's settings."""
    variant = VARIANTS[name]
    postmaster = find_postmaster(postgres_url)
    home = workdir / f"home-{name}-{uuid.uuid4().hex[:6]}"
    with ExitStack() as stack:
        env = {"PYTHONPATH": str(BENCH), EVENTS_ENV: str(events_wanted())}
        if variant.celery_workers:
            redis_url = stack.enter_context(redis_server(home.with_suffix(".redis")))
            env |= {
                CELERY_BROKER_URL_ENV: f"{redis_url}/0",
                CELERY_BACKEND_URL_ENV: f"{redis_url}/1",
            }
        deployment = stack.enter_context(
            running_deployment(
                home,
                dagster_postgres_url=stack.enter_context(fresh_postgres_database(postgres_url)),
                failtrack_url=stack.enter_context(fresh_postgres_database(postgres_url)),
                sources_file=sources_file,
                max_concurrent_runs=variant.max_concurrent_runs,
                extra_env=env,
                instance_overrides=variant.overrides,
            )
        )
        if variant.celery_workers:
            names = [f"bench-{n}" for n in range(variant.celery_workers)]
            per_worker = variant.max_concurrent_runs // variant.celery_workers
            stack.enter_context(celery_workers(deployment, names, per_worker))
        return _backfill(deployment, source_ids, postmaster, name)


def _backfill(
    deployment: Deployment, source_ids: list[str], postmaster: psutil.Process | None, name: str
) -> Measured:
    """One backfill of every source on a running deployment, measured."""
    cpu_before = process_cpu(postmaster)
    load_before = os.getloadavg()[0]
    backfill = deployment.launch_backfill(SCRAPE_JOB, source_ids, {})
    runs = deployment.wait_for_runs(
        RunsFilter(tags={"dagster/backfill": backfill}), len(source_ids), timeout=3600
    )
    cpu_after = process_cpu(postmaster)
    load = (load_before + os.getloadavg()[0]) / 2
    failed = [run.run_id for run in runs if run.status != DagsterRunStatus.SUCCESS]
    if failed:  # counted and shown, not fatal: a long measurement is worth keeping
        records = deployment.instance.get_records_for_run(failed[0]).records
        print(f"  {len(failed)} runs failed; the first, {failed[0]}:")
        for record in records:
            print(f"    {record.event_log_entry.message[:300]}")
    timelines = [timeline(deployment.instance, run.run_id) for run in runs]
    cpu = {role: cpu_after[role] - cpu_before.get(role, 0.0) for role in cpu_after}
    return Measured(name, timelines, cpu, load, len(failed))


def describe(m: Measured) -> None:
    """One deployment's numbers, printed as soon as it is done."""
    print(
        f"  [{m.variant}] {m.runs} runs in {m.wall:.1f} s: {m.runs_per_minute:.1f} runs/min, "
        f"{m.failed} failed, peak {peak_concurrency(m.timelines)} at once; CPU per run "
        f"{m.cpu_per_run:.2f} s (capacity {m.capacity:.1f} runs/min on {CORES} cores); our "
        f"processes busy {sum(m.cpu.values()) / m.wall:.2f} cores, load average {m.load:.1f}"
    )
    by_role = sorted(m.cpu.items(), key=lambda item: -item[1])
    print("    CPU per run: " + ", ".join(f"{r} {s / m.runs:.2f} s" for r, s in by_role))
    spans = {
        "in the queue": [t.launched - t.queued for t in m.timelines],
        "worker start, code load": [t.started - t.launched for t in m.timelines],
        "op": [t.op_ended - t.op_started for t in m.timelines],
        "teardown": [t.ended - t.op_ended for t in m.timelines],
    }
    print(
        "    per run, median wall: "
        + ", ".join(f"{part} {statistics.median(values):.2f} s" for part, values in spans.items()),
        flush=True,
    )


def summarize(name: str, rounds: list[Measured], baseline: list[Measured]) -> None:
    """One variant's medians over its rounds, each as a ratio against the baseline's."""
    rate = statistics.median(m.runs_per_minute for m in rounds)
    cpu = statistics.median(m.cpu_per_run for m in rounds)
    base_rate = statistics.median(m.runs_per_minute for m in baseline)
    base_cpu = statistics.median(m.cpu_per_run for m in baseline)
    print(
        f"{name:26} {rate:5.1f} runs/min ({rate / base_rate:.2f}x shipped), CPU per run "
        f"{cpu:.2f} s ({cpu / base_cpu:.2f}x), capacity {CORES * 60 / cpu:.1f} runs/min: "
        f"{VARIANTS[name].description}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--events", type=int, default=100, help="records per source")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--variants", nargs="+", default=["shipped", "celery_run_launcher"], choices=VARIANTS
    )
    parser.add_argument("--postgres", help="a PostgreSQL URL we may create databases on")
    args = parser.parse_args()
    os.environ[EVENTS_ENV] = str(args.events)
    names = ["shipped", *(name for name in args.variants if name != "shipped")]

    with tempfile.TemporaryDirectory() as tmp, postgres_server(args.postgres) as postgres_url:
        workdir = Path(tmp)
        sources_file = write_sources(workdir / "sources.yaml", args.sources)
        sources = load_sources(sources_file).enabled()
        engine = fresh_engine("postgresql", postgres_url, workdir)
        untracked, tracked = in_process(sources, engine)
        engine.dispose()
        print(
            f"{args.sources} sources of {args.events} records, every tenth bad; PostgreSQL for "
            f"both stores; {CORES} cores. In this process a source costs {tracked:.3f} s of CPU "
            f"to scrape and record ({untracked:.3f} s with tracking off)."
        )
        ids = [source.id for source in sources]
        measured: dict[str, list[Measured]] = defaultdict(list)
        for round_ in range(args.rounds):
            for name in names if round_ % 2 == 0 else reversed(names):
                result = through_the_queue(workdir, sources_file, ids, postgres_url, name)
                measured[name].append(result)
                describe(result)
        print(f"\nmedians of {args.rounds} rounds, ratios against `shipped`:")
        for name in names:
            summarize(name, measured[name], measured["shipped"])


if __name__ == "__main__":
    main()
