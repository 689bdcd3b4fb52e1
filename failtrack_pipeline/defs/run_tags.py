"""The `failtrack/*` run tags: a run's outcome where the Dagster UI can filter on it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.text import truncate
from failtrack_pipeline.db.schema import SCRAPE_STAGE
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.outcome import RunOutcome, RunStatus, format_skip_reasons

# PostgreSQL's index on Dagster's run tags rejects very long values: stay far below it.
MAX_TAG_VALUE_CHARS: Final = 300
# Dagster's own tags, by their documented names (Dagster exports no public constants):
# the partition of a run, and the range of a single run over many (a single-run backfill).
PARTITION_TAG: Final = "dagster/partition"
PARTITION_RANGE_START_TAG: Final = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG: Final = "dagster/asset_partition_range_end"
# Seconds after which run monitoring stops a run.
MAX_RUNTIME_TAG: Final = "dagster/max_runtime"


class Tag(StrEnum):
    SOURCE = "failtrack/source"
    STATUS = "failtrack/status"
    PROCESSED_AT = "failtrack/processed_at"
    EVENTS_PROCESSED = "failtrack/events_processed"
    EVENTS_SUCCEEDED = "failtrack/events_succeeded"
    EVENTS_FAILED = "failtrack/events_failed"
    EVENTS_SKIPPED = "failtrack/events_skipped"
    SKIP_REASONS = "failtrack/skip_reasons"
    ERROR_CATEGORY = "failtrack/error_category"
    ERROR_MESSAGE = "failtrack/error_message"
    EXTERNAL_ID = "failtrack/external_id"
    STAGE = "failtrack/stage"  # on a run that is one stage of a user's pipeline


def outcome_tags(
    outcome: RunOutcome, *, processed_at: datetime, status: RunStatus | None = None
) -> dict[str, str]:
    """The tags of a run that ended with `outcome` (or, with `status`, as that status)."""
    tags: dict[str, str] = {
        Tag.SOURCE: outcome.source_id,
        Tag.STATUS: (status or outcome.status).value,
        Tag.PROCESSED_AT: iso_utc(processed_at),
        Tag.EVENTS_PROCESSED: str(outcome.processed),
        Tag.EVENTS_SUCCEEDED: str(outcome.succeeded),
        Tag.EVENTS_FAILED: str(outcome.failed),
        Tag.EVENTS_SKIPPED: str(outcome.skipped),
    }
    if outcome.skipped:
        tags[Tag.SKIP_REASONS] = format_skip_reasons(outcome.skip_reasons)
    top = outcome.top_failure()
    if top is not None:
        tags |= error_tags(*top)
    return {str(key): value for key, value in tags.items()}


def error_tags(category: ErrorCategory, message: str) -> dict[str, str]:
    return {
        Tag.ERROR_CATEGORY.value: category.value,
        Tag.ERROR_MESSAGE.value: bounded_tag_value(message),
    }


def failed_run_tags(failure: FailureRecord, *, processed_at: datetime) -> dict[str, str]:
    """Tags for a run whose source could not be scraped (or whose user step died)."""
    stage = {Tag.STAGE.value: failure.stage} if failure.stage != SCRAPE_STAGE else {}
    return (
        {
            Tag.SOURCE.value: failure.source_id,
            Tag.STATUS.value: RunStatus.FAILED.value,
            Tag.PROCESSED_AT.value: iso_utc(processed_at),
        }
        | stage
        | error_tags(failure.category, failure.message)
    )


def bounded_tag_value(value: str) -> str:
    return truncate(" ".join(value.split()), MAX_TAG_VALUE_CHARS)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
