"""What one scrape run amounted to: its counts, its status and its main failure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.processing.skips import SkipCause
from failtrack_pipeline.tracking.failures import FailureRecord


class RunStatus(StrEnum):
    SUCCESS = "success"  # every event made it
    PARTIAL = "partial"  # the source was read, some events failed, some made it
    FAILED = "failed"  # the source could not be scraped, or every event judged failed
    SILENT_FAILURE = "silent_failure"  # no error, but far fewer records than usual


@dataclass
class RunOutcome:
    """Counts of one run, gathered in one place as events succeed, fail or are skipped.

    `processed` is every record read: succeeded + failed + skipped. A silent failure (set
    once the whole run is judged) is the run's status and its error, not a failed event.
    """

    source_id: str
    succeeded: int = 0
    failed: int = 0
    skip_reasons: Counter[SkipCause] = field(default_factory=Counter)
    failure_groups: Counter[tuple[ErrorCategory, str]] = field(default_factory=Counter)
    silent_failure: FailureRecord | None = None

    @property
    def skipped(self) -> int:
        return self.skip_reasons.total()

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.skipped

    def add_success(self) -> None:
        self.succeeded += 1

    def add_failure(self, failure: FailureRecord) -> None:
        self.failed += 1
        self.failure_groups[(failure.category, failure.message)] += 1

    def add_skip(self, reason: SkipCause) -> None:
        self.skip_reasons[reason] += 1

    @property
    def status(self) -> RunStatus:
        if self.silent_failure is not None:
            return RunStatus.SILENT_FAILURE
        return events_status(self.succeeded, self.failed)

    def top_failure(self) -> tuple[ErrorCategory, str] | None:
        """A silent failure, else the most frequent failure of the run (ties: the first seen)."""
        if self.silent_failure is not None:
            return self.silent_failure.category, self.silent_failure.message
        most = self.failure_groups.most_common(1)
        return most[0][0] if most else None


def events_status(succeeded: int, failed: int) -> RunStatus:
    """The status of a run that read its source. Partial only when some events made it: a
    run (e.g. a one-event retry) whose every judged event failed stored nothing, so failed."""
    if not failed:
        return RunStatus.SUCCESS
    return RunStatus.PARTIAL if succeeded else RunStatus.FAILED


def format_skip_reasons(counts: Mapping[SkipCause, int]) -> str:
    """`cancelled=1,ended=2`: the per-reason counts as one tag value, in reason order."""
    return ",".join(
        f"{reason.value}={counts[reason]}" for reason in SkipCause if counts.get(reason)
    )


def parse_skip_reasons(value: str) -> dict[SkipCause, int]:
    """The counts `format_skip_reasons` wrote; parts it could not have written are ignored."""
    counts: dict[SkipCause, int] = {}
    for part in value.split(","):
        name, _, count = part.partition("=")
        try:
            counts[SkipCause(name.strip())] = int(count)
        except ValueError:
            continue
    return counts
