"""The `failtrack/*` run tags: a run's outcome where the Dagster UI can filter on it.

The Runs list shows every user tag as a pill (Dagster 1.13 hides only its own `dagster/*`
ones by default), in key order, with no colour of their own. So the counts are one pill,
`failtrack/counts: 10 read · 8 stored · 2 failed · 0 skipped`, sorted right after the
partition, and a run that did not fully succeed starts it with `⚠` (the status pill says
why): Dagster's green "Success" alone does not tell a partial or silent failure from a
clean run. A status word in the pill would make it wrap onto a line of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.text import truncate
from failtrack_pipeline.db.schema import SCRAPE_STAGE
from failtrack_pipeline.processing.skips import SkipCause
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.outcome import (
    RunOutcome,
    RunStatus,
    format_skip_reasons,
    parse_skip_reasons,
)

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
    COUNTS = "failtrack/counts"
    ERROR_CATEGORY = "failtrack/error_category"
    ERROR_MESSAGE = "failtrack/error_message"
    EXTERNAL_ID = "failtrack/external_id"
    STAGE = "failtrack/stage"  # on a run that is one stage of a user's pipeline


def outcome_tags(
    outcome: RunOutcome, *, processed_at: datetime, status: RunStatus | None = None
) -> dict[str, str]:
    """The tags of a run that ended with `outcome` (or, with `status`, as that status)."""
    status = status or outcome.status
    counts = RunCounts(outcome.succeeded, outcome.failed, dict(outcome.skip_reasons))
    tags: dict[str, str] = {
        Tag.SOURCE: outcome.source_id,
        Tag.STATUS: status.value,
        Tag.PROCESSED_AT: iso_utc(processed_at),
        Tag.COUNTS: counts.tag_value(status),
    }
    top = outcome.top_failure()
    if top is not None:
        tags |= error_tags(*top)
    return {str(key): value for key, value in tags.items()}


# Before the counts were one tag, each had its own; runs tagged so are still read.
_LEGACY_PROCESSED_TAG: Final = "failtrack/events_processed"
_LEGACY_COUNT_TAGS: Final = (
    "failtrack/events_succeeded",
    "failtrack/events_failed",
    "failtrack/skip_reasons",
)
NEEDS_A_LOOK: Final = "⚠"
_COUNTS = re.compile(
    rf"""(?x) ^ (?:{NEEDS_A_LOOK}\s)?
    (?P<read>\d+)\sread\s·\s(?P<stored>\d+)\sstored\s·\s(?P<failed>\d+)\sfailed
    \s·\s(?P<skipped>\d+)\sskipped (?:\s\((?P<reasons>[a-z_=0-9,]+)\))? $"""
)


@dataclass(frozen=True)
class RunCounts:
    """A run's events as its `failtrack/counts` tag holds them: read = stored + failed + skipped."""

    succeeded: int = 0
    failed: int = 0
    skip_reasons: Mapping[SkipCause, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(self.skip_reasons.values())

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.skipped

    def tag_value(self, status: RunStatus) -> str:
        """`⚠ 10 read · 8 stored · 2 failed · 2 skipped (ended=2)`; `⚠` unless a success."""
        marker = "" if status is RunStatus.SUCCESS else f"{NEEDS_A_LOOK} "
        reasons = format_skip_reasons(self.skip_reasons)
        return (
            f"{marker}{self.processed} read · {self.succeeded} stored · {self.failed} failed · "
            f"{self.skipped} skipped" + (f" ({reasons})" if reasons else "")
        )


def run_counts(tags: Mapping[str, str]) -> RunCounts | None:
    """The counts in a run's tags, None without any; raises ValueError on a counts tag that
    `RunCounts.tag_value` could not have written, or counts that do not add up."""
    value = tags.get(Tag.COUNTS.value)
    if value is None:
        if _LEGACY_PROCESSED_TAG not in tags:
            return None
        succeeded, failed, reasons = (tags.get(key, "") for key in _LEGACY_COUNT_TAGS)
        return RunCounts(_number(succeeded), _number(failed), parse_skip_reasons(reasons))
    match = _COUNTS.match(value)
    if match is None:
        raise ValueError(
            f"tag {Tag.COUNTS.value} is {value!r}, not like '10 read · 8 stored · 2 failed · "
            "2 skipped (ended=2)'"
        )
    counts = RunCounts(
        int(match["stored"]), int(match["failed"]), parse_skip_reasons(match["reasons"] or "")
    )
    if (counts.processed, counts.skipped) != (int(match["read"]), int(match["skipped"])):
        raise ValueError(f"tag {Tag.COUNTS.value} is {value!r}: its counts do not add up")
    return counts


def tagged_counts(tags: Mapping[str, str]) -> RunCounts:
    """The counts in a run's tags; zero for a run that has none (its source did nothing)."""
    return run_counts(tags) or RunCounts()


def _number(value: str) -> int:
    return int(value) if value.isdigit() else 0


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
