"""Recording a run whose source could not be scraped: one function for the hook and the sensor.

Both report the same failed run; the ledger counts its `run` batch once, whoever is first.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import DagsterInstance, DagsterRun

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import MessageRule
from failtrack_pipeline.base.errors import FailtrackError, RunConfigError
from failtrack_pipeline.db.schema import SCRAPE_STAGE
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.run_tags import PARTITION_TAG, Tag, failed_run_tags
from failtrack_pipeline.tracking.failures import describe_failure
from failtrack_pipeline.tracking.spool import Recording

RUN_FAILURE_BATCH = "run"
# Why a run that was stopped from outside failed: like a killed worker, a dependency error
# (the step needed to run to its end); its source's scrape is incomplete, so it counts.
TERMINATED = FailtrackError(
    "run terminated before the scrape finished", category=ErrorCategory.DEPENDENCY
)


def record_run_failure(
    instance: DagsterInstance,
    run: DagsterRun,
    error: Any,
    database: FailtrackDatabase,
    rules: Sequence[MessageRule] | None = None,
    *,
    stage: str = SCRAPE_STAGE,
    batch: str = RUN_FAILURE_BATCH,
) -> bool:
    """Record a failed run's reason once and tag the run failed; False if already recorded.

    A reason spooled while the database is down counts as recorded: the spool's replay
    counts it once, whoever else reports the run meanwhile. A user's step (`stage`) that
    died is its own `batch`, so two steps dying in one run are both counted.
    """
    source_id = run.tags.get(Tag.SOURCE.value) or run.tags.get(PARTITION_TAG)
    if not source_id or is_run_config_error(error):
        return False
    now = datetime.now(UTC)
    failure = describe_failure(source_id, error, seen_at=now, rules=rules, stage=stage)
    recording = database.recorder(instance).record([failure], run_id=run.run_id, batch=batch)
    if recording is Recording.ALREADY_RECORDED:
        return False
    instance.add_run_tags(run.run_id, failed_run_tags(failure, processed_at=now))
    return True


def is_run_config_error(error: Any) -> bool:
    """A mistake in the run's own config (the hook sees the exception, the sensor its
    serialized form): the run failed before reading the source, which did nothing wrong.
    Every op config value is checked as the op starts and refused as a RunConfigError."""
    name = getattr(error, "cls_name", None) or type(error).__name__
    return name == RunConfigError.__name__
