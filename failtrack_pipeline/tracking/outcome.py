"""What one scrape run amounted to, and the `failtrack/*` run tags that show it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from failtrack_pipeline.errors import ErrorCategory
from failtrack_pipeline.tracking.failures import Failure

TAG_PREFIX = "failtrack/"
# PostgreSQL's index on Dagster's run tags rejects very long values: stay far below it.
MAX_TAG_VALUE_CHARS = 300


class Tag(StrEnum):
    SOURCE = "failtrack/source"
    STATUS = "failtrack/status"
    PROCESSED_AT = "failtrack/processed_at"
    EVENTS_PROCESSED = "failtrack/events_processed"
    EVENTS_SUCCEEDED = "failtrack/events_succeeded"
    EVENTS_FAILED = "failtrack/events_failed"
    ERROR_CATEGORY = "failtrack/error_category"
    ERROR_MESSAGE = "failtrack/error_message"
    EXTERNAL_ID = "failtrack/external_id"


class RunStatus(StrEnum):
    SUCCESS = "success"  # every event made it
    PARTIAL = "partial"  # the source was read, some events failed
    FAILED = "failed"  # the source could not be scraped at all


@dataclass
class RunOutcome:
    """Counts of one run, gathered in one place as events succeed or fail."""

    source_id: str
    succeeded: int = 0
    failed: int = 0
    failure_groups: Counter[tuple[ErrorCategory, str]] = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed

    def add_success(self) -> None:
        self.succeeded += 1

    def add_failure(self, failure: Failure) -> None:
        self.failed += 1
        self.failure_groups[(failure.category, failure.message)] += 1

    @property
    def status(self) -> RunStatus:
        return RunStatus.PARTIAL if self.failed else RunStatus.SUCCESS

    def top_failure(self) -> tuple[ErrorCategory, str] | None:
        """The most frequent failure of the run (ties: the first seen)."""
        most = self.failure_groups.most_common(1)
        return most[0][0] if most else None

    def tags(self, *, processed_at: datetime, status: RunStatus | None = None) -> dict[str, str]:
        status = status or self.status
        tags = {
            Tag.SOURCE: self.source_id,
            Tag.STATUS: status.value,
            Tag.PROCESSED_AT: iso_utc(processed_at),
            Tag.EVENTS_PROCESSED: str(self.processed),
            Tag.EVENTS_SUCCEEDED: str(self.succeeded),
            Tag.EVENTS_FAILED: str(self.failed),
        }
        top = self.top_failure()
        if top is not None:
            tags |= error_tags(*top)
        return {str(key): value for key, value in tags.items()}


def error_tags(category: ErrorCategory, message: str) -> dict[str, str]:
    return {
        Tag.ERROR_CATEGORY.value: category.value,
        Tag.ERROR_MESSAGE.value: bounded_tag_value(message),
    }


def failed_run_tags(failure: Failure, *, processed_at: datetime) -> dict[str, str]:
    """Tags for a run whose source could not be scraped."""
    return {
        Tag.SOURCE.value: failure.source_id,
        Tag.STATUS.value: RunStatus.FAILED.value,
        Tag.PROCESSED_AT.value: iso_utc(processed_at),
    } | error_tags(failure.category, failure.message)


def bounded_tag_value(value: str) -> str:
    value = " ".join(value.split())
    if len(value) <= MAX_TAG_VALUE_CHARS:
        return value
    return value[: MAX_TAG_VALUE_CHARS - 1] + "…"


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
