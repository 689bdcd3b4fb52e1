"""A production-shaped failtrack deployment on loopback, for end-to-end tests and benchmarks.

The shipped `deploy/postgres/dagster.yaml` (PostgreSQL storage, the run queue with its
one-run-per-source limit, run monitoring) over a fresh Dagster home, a real `dagster-daemon`
and `dagster-webserver` serving the repository's `workspace.yaml`, failtrack's tables in
their own PostgreSQL database. Runs are launched the way the UI launches them, through the
webserver's GraphQL, and then go through the daemon's queue.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRun, RunsFilter
from sqlalchemy.engine import make_url

from failtrack_pipeline.config.environment import DATABASE_URL_ENV, SOURCES_FILE_ENV
from failtrack_pipeline.config.sources_file import DEMO_SOURCES_FILE
from failtrack_pipeline.defs.run_history import FINISHED_RUN_STATUSES
from failtrack_pipeline.testing.webserver import (
    REPO,
    WORKSPACE,
    dagster_process,
    dagster_webserver,
    graphql,
    log_tail,
)

SHIPPED_DAGSTER_YAML = REPO / "deploy" / "postgres" / "dagster.yaml"
DAGSTER_POSTGRES_URL_ENV = "DAGSTER_POSTGRES_URL"
REPOSITORY = {"repositoryLocationName": "failtrack", "repositoryName": "__repository__"}


@dataclass
class Deployment:
    """A running daemon and webserver over `home`, and an instance to inspect them with."""

    home: Path
    url: str
    instance: DagsterInstance
    env: Mapping[str, str]

    def launch_backfill(
        self, job_name: str, partitions: Sequence[str], run_config: Mapping[str, Any]
    ) -> str:
        """Backfill `partitions` of `job_name` as the UI does; returns the backfill id."""
        params = {
            "selector": {
                "partitionSetName": f"{job_name}_partition_set",
                "repositorySelector": REPOSITORY,
            },
            "partitionNames": list(partitions),
            "runConfigData": dict(run_config),
        }
        answer = graphql(self.url, LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
        if answer["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {answer}")
        return answer["backfillId"]

    def launch_run(
        self, job_name: str, run_config: Mapping[str, Any], tags: Mapping[str, str]
    ) -> str:
        """Submit one run of `job_name` to the queue, as the launchpad does; returns its id."""
        params = {
            "selector": {**REPOSITORY, "jobName": job_name},
            "runConfigData": dict(run_config),
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        answer = graphql(self.url, LAUNCH_RUN, params=params)["launchRun"]
        if answer["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"run not launched: {answer}")
        return answer["run"]["runId"]

    def terminate(self, run_id: str) -> None:
        """What the UI's Terminate button does: ask the webserver to stop the run."""
        answer = graphql(self.url, TERMINATE_RUN, runId=run_id)["terminateRun"]
        if answer["__typename"] != "TerminateRunSuccess":
            raise RuntimeError(f"terminating {run_id} failed: {answer}")

    def wait_for_runs(
        self, filters: RunsFilter, count: int, timeout: float, interval: float = 1.0
    ) -> list[DagsterRun]:
        """The `count` runs matching `filters`, once all have finished; else fail with logs."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.instance.get_runs(filters=filters)
            if len(runs) >= count and all(run.status in FINISHED_RUN_STATUSES for run in runs):
                return runs
            if time.monotonic() > deadline:
                states = sorted(f"{run.tags.get('dagster/partition')}:{run.status}" for run in runs)
                raise TimeoutError(
                    f"{len(runs)}/{count} runs after {timeout} s: {states}\n{self.logs()}"
                )
            time.sleep(interval)

    def wait_until(self, ready: Callable[[], Any], timeout: float, what: str) -> Any:
        """`ready()`'s first truthy answer; fail with the daemon's log after `timeout`."""
        deadline = time.monotonic() + timeout
        while not (answer := ready()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not after {timeout} s\n{self.logs()}")
            time.sleep(1)
        return answer

    def run_messages(self, run_id: str) -> str:
        """The run's event log as text: what went wrong wherever the run executed."""
        records = self.instance.get_records_for_run(run_id, limit=10_000).records
        return "\n".join(
            f"{record.event_log_entry.message} {record.event_log_entry.error_info or ''}"
            for record in records
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {command}:\n{log_tail(self.home, command)}"
            for command in ("dagster-daemon", "dagster-webserver")
        )


@dataclass(frozen=True)
class Timeline:
    """When one run was queued, launched, started, ran its op and ended (epoch seconds)."""

    queued: float
    launched: float
    started: float
    op_started: float
    op_ended: float
    ended: float


def timeline(instance: DagsterInstance, run_id: str) -> Timeline:
    """The run's milestones, from its event log."""
    moments: dict[DagsterEventType, float] = {}
    for record in instance.get_records_for_run(run_id, limit=10_000).records:
        event = record.event_log_entry.dagster_event
        if event is not None:
            moments.setdefault(event.event_type, record.timestamp)
    ended = moments.get(DagsterEventType.RUN_SUCCESS) or moments[DagsterEventType.RUN_FAILURE]
    op_ended = (
        moments.get(DagsterEventType.STEP_SUCCESS)
        or moments.get(DagsterEventType.STEP_FAILURE)
        or ended
    )
    return Timeline(
        queued=moments[DagsterEventType.RUN_ENQUEUED],
        launched=moments[DagsterEventType.RUN_STARTING],
        started=moments.get(DagsterEventType.RUN_START, ended),
        op_started=moments.get(DagsterEventType.STEP_START, ended),
        op_ended=op_ended,
        ended=ended,
    )


def peak_concurrency(timelines: Sequence[Timeline]) -> int:
    """The most runs in flight (launched, not yet ended) at one moment."""
    # (moment, +1 launch / -1 end): at the same moment an end sorts before a launch.
    edges = sorted([(t.launched, 1) for t in timelines] + [(t.ended, -1) for t in timelines])
    peak = current = 0
    for _moment, step in edges:
        current += step
        peak = max(peak, current)
    return peak


# What the tests change in the shipped file: they react quicker (the queue checks every
# second, run monitoring every 5 s).
QUICK_TO_REACT: Mapping[str, Any] = {
    "run_coordinator": {"config": {"dequeue_interval_seconds": 1}},
    "run_monitoring": {"poll_interval_seconds": 5},
}


def write_instance_config(
    home: Path, max_concurrent_runs: int, overrides: Mapping[str, Any] = QUICK_TO_REACT
) -> None:
    """The shipped PostgreSQL `dagster.yaml` in `home` with `max_concurrent_runs` and
    `overrides` merged in (nested mappings key by key)."""
    config = yaml.safe_load(SHIPPED_DAGSTER_YAML.read_text())
    config["run_coordinator"]["config"]["max_concurrent_runs"] = max_concurrent_runs
    config = merged(config, overrides)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it, nested mappings merged key by key."""
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def write_sources_file(path: Path, extra_sources: Sequence[Mapping[str, Any]] = ()) -> Path:
    """The demo sources (their feeds by absolute path) plus `extra_sources`, in `path`."""
    document = yaml.safe_load(DEMO_SOURCES_FILE.read_text())
    for source in document["sources"]:
        url = source.get("url")
        if url and "://" not in url:
            source["url"] = str((DEMO_SOURCES_FILE.parent / url).resolve())
    document["sources"].extend(extra_sources)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@contextmanager
def running_deployment(
    home: Path,
    *,
    dagster_postgres_url: str,
    failtrack_url: str,
    sources_file: Path,
    max_concurrent_runs: int = 8,
    extra_env: Mapping[str, str] | None = None,
    instance_overrides: Mapping[str, Any] = QUICK_TO_REACT,
) -> Iterator[Deployment]:
    """Daemon and webserver over a fresh `home`; stopped, with their run workers, on exit.

    `dagster_postgres_url` may name any driver: dagster-postgres gets its libpq form. The
    credentials reach the processes through the environment only, as in production; the
    same environment is `Deployment.env`, for any other process that must load the code.
    """
    write_instance_config(home, max_concurrent_runs, instance_overrides)
    libpq_url = make_url(dagster_postgres_url).set(drivername="postgresql")
    env = {
        DAGSTER_POSTGRES_URL_ENV: libpq_url.render_as_string(hide_password=False),
        DATABASE_URL_ENV: failtrack_url,
        SOURCES_FILE_ENV: str(sources_file),
        **(extra_env or {}),
    }
    with ExitStack() as stack:
        stack.enter_context(
            dagster_process("dagster-daemon", ["run", "-w", str(WORKSPACE)], home, env)
        )
        url = stack.enter_context(dagster_webserver(home, env))
        instance = stack.enter_context(_instance(home, env))
        yield Deployment(home, url, instance, {**env, "DAGSTER_HOME": str(home)})


@contextmanager
def _instance(home: Path, env: Mapping[str, str]) -> Iterator[DagsterInstance]:
    """The deployment's instance in this process (its storage URL comes from `env`)."""
    with (
        patch.dict(os.environ, env),
        DagsterInstance.from_config(str(home)) as instance,
    ):
        yield instance


LAUNCH_BACKFILL = """
mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""

LAUNCH_RUN = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""

TERMINATE_RUN = """
mutation ($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
  }
}
"""
