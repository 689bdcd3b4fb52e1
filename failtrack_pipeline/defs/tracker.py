"""Tracking your own steps: the resource, the failure hook and the run-failure sensor.

For a data engineer's own ops and assets (geocode, match venues, ...): per-event outcomes
through `FailtrackTracker.tracking(context)`, an op that dies through
`failtrack_failure_hook`, a run that dies before any hook runs through
`failtrack_run_failure_sensor(jobs)`. All of them record through the scrape's own path
(`FailureRecorder`: ledger, spool, dead letters), so each failure counts once per attempt.
"""

# No `from __future__ import annotations`: Dagster reads the sensor's resource annotations.

import hashlib
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    DefaultSensorStatus,
    HookContext,
    JobDefinition,
    OpExecutionContext,
    RunFailureSensorContext,
    SensorDefinition,
    failure_hook,
    run_failure_sensor,
)
from pydantic import Field, PrivateAttr

from failtrack_pipeline.base.categorize import MessageRule, effective_rules
from failtrack_pipeline.config.rules import load_rules_file
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.run_failure_sensor import failure_reason
from failtrack_pipeline.defs.run_failures import RUN_FAILURE_BATCH, record_run_failure
from failtrack_pipeline.defs.run_tags import Tag
from failtrack_pipeline.tracking.tracker import StageTracker, check_stage

TRACKER_KEY = "failtrack_tracker"
_BATCH_CHARS = 64  # failure_recordings.batch
_NOT_A_STAGE_CHAR = re.compile(r"[^a-z0-9_]+")


class FailtrackTracker(ConfigurableResource):
    """failtrack for your own steps: where failures go, and your categorization rules."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of failtrack's database (FAILTRACK_DATABASE_URL); "
        "unset: SQLite failtrack.db under DAGSTER_HOME.",
    )
    spool_dir: str | None = Field(
        default=None,
        description="Where failure batches wait while the database is down "
        "(FAILTRACK_SPOOL_DIR); unset: failtrack_spool/ under the Dagster home.",
    )
    rules_file: str | None = Field(
        default=None, description="Your categorization rules (FAILTRACK_RULES_FILE)."
    )
    _opened: Counter[tuple[str, int]] = PrivateAttr(default_factory=Counter)  # blocks per attempt

    def database(self) -> FailtrackDatabase:
        return FailtrackDatabase(url=self.url, spool_dir=self.spool_dir)

    def rules(self) -> list[MessageRule]:
        """Your rules ahead of failtrack's defaults."""
        return effective_rules(load_rules_file(Path(self.rules_file)) if self.rules_file else [])

    @contextmanager
    def tracking(
        self, context: OpExecutionContext | AssetExecutionContext
    ) -> Iterator[StageTracker]:
        """A tracker for this step's events, recorded once as the block ends, however it ends.

        Each block of a step attempt is its own batch (`attempt-N/track/<step>`): a
        RetryPolicy retry counts afresh, nothing within one attempt counts twice. A run
        whose events all went through one stage is tagged `failtrack/stage`.
        """
        op_context = (
            context.op_execution_context if isinstance(context, AssetExecutionContext) else context
        )
        attempt = (op_context.get_step_execution_context().step.key, op_context.retry_number)
        self._opened[attempt] += 1
        tracker = StageTracker(
            self.database().recorder(op_context.instance),
            run_id=op_context.run_id,
            batch=tracker_batch(*attempt, self._opened[attempt]),
            rules=self.rules(),
        )
        try:
            yield tracker
        finally:
            recording = tracker.record()
            stages = tracker.stages()
            if recording is not None:
                failed = len(tracker.failures)
                op_context.log.info(
                    f"failtrack: {failed} failures in {', '.join(stages)}: {recording.value}"
                )
            if len(stages) == 1:
                op_context.instance.add_run_tags(op_context.run_id, {Tag.STAGE.value: stages[0]})


def tracker_batch(step_key: str, attempt: int, block: int = 1) -> str:
    """The ledger's name for one tracking block: at most 64 characters, unique per step."""
    name = f"attempt-{attempt}/track/{step_key}" + (f"/{block}" if block > 1 else "")
    if len(name) <= _BATCH_CHARS:
        return name
    return f"attempt-{attempt}/track/{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def step_stage(run_tags: dict[str, str], step_key: str | None) -> str:
    """The stage a dead step is recorded in: the run's `failtrack/stage`, else the step's
    name as a slug; the hook and the sensor derive it alike, so they agree."""
    tagged = run_tags.get(Tag.STAGE.value)
    if tagged:
        return check_stage(tagged)
    slug = _NOT_A_STAGE_CHAR.sub("_", (step_key or "run").lower()).strip("_")
    return slug[:64] or "run"


def step_failure_batch(step_key: str | None) -> str:
    """One batch per dead step, whoever reports it (hook or sensor)."""
    if not step_key:
        return RUN_FAILURE_BATCH
    name = f"{RUN_FAILURE_BATCH}/{step_key}"
    return (
        name
        if len(name) <= _BATCH_CHARS
        else f"run/{hashlib.sha256(name.encode()).hexdigest()[:40]}"
    )


def _record_dead_step(
    context: Any, tracker: FailtrackTracker, run: Any, error: Any, step_key: str | None
) -> bool:
    return record_run_failure(
        context.instance,
        run,
        error,
        tracker.database(),
        tracker.rules(),
        stage=step_stage(dict(run.tags), step_key),
        batch=step_failure_batch(step_key),
    )


@failure_hook(required_resource_keys={TRACKER_KEY})
def failtrack_failure_hook(context: HookContext) -> None:
    """Record why your op died, against the run's source (its `failtrack/source` tag or
    partition key) and stage; never raises, so the op's own error stays the run's story."""
    try:
        run = context.instance.get_run_by_id(context.run_id)
        assert run is not None
        tracker = getattr(context.resources, TRACKER_KEY)
        _record_dead_step(context, tracker, run, context.op_exception, context.step_key)
    except Exception:
        context.log.exception("failtrack: could not record this step's failure")


def failtrack_run_failure_sensor(
    jobs: Sequence[JobDefinition | Any], *, name: str = "failtrack_run_failure_sensor"
) -> SensorDefinition:
    """A sensor recording the failed runs of `jobs` (job definitions, or asset jobs from
    `define_asset_job`, which Dagster exports no type for) no hook saw: start-up errors,
    dead workers. A step the hook already recorded is counted once (the same batch)."""

    @run_failure_sensor(
        name=name,
        monitored_jobs=list(jobs),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
    def _sensor(context: RunFailureSensorContext, failtrack_tracker: FailtrackTracker) -> None:
        run = context.dagster_run
        step_failures = context.get_step_failure_events()
        for failure in step_failures:  # each dead step is its own batch, as the hook has it
            reason = failure.step_failure_data.error
            _record_dead_step(context, failtrack_tracker, run, reason, failure.step_key)
        if not step_failures:  # the run died around its steps (start-up, a killed worker)
            _record_dead_step(context, failtrack_tracker, run, failure_reason(context), None)

    return _sensor
