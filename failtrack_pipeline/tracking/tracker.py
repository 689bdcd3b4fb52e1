"""Tracking the events of any pipeline step (geocode, match venues, ...), free of Dagster.

A `StageTracker` gathers one run step's outcomes per (source, stage) in memory and records
them once, as one batch, through the same `FailureRecorder` the scrape uses: the ledger
counts the batch once per run attempt, an outage spools it, a refused batch is a dead letter.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import MessageRule
from failtrack_pipeline.base.errors import FailtrackError
from failtrack_pipeline.tracking.failures import FailureRecord, StageCounts, describe_failure
from failtrack_pipeline.tracking.spool import FailureRecorder, Recording

# A stage is a name people filter on and a key column: a slug that fits the tables.
STAGE_PATTERN = re.compile(r"[a-z0-9_]{1,64}")
MAX_SOURCE_ID_CHARS = 64


class TrackerError(ValueError):
    """The tracker was used wrongly: a bad stage or source id, or an event after recording."""


def check_stage(stage: str) -> str:
    """`stage` if it is a slug of at most 64 characters, else a `TrackerError` naming it."""
    if not isinstance(stage, str) or not STAGE_PATTERN.fullmatch(stage):
        raise TrackerError(f"stage {stage!r}: expected 1 to 64 characters of [a-z0-9_]")
    return stage


class StageTracker:
    """One run step's per-event outcomes, recorded once when the step is done (`record`).

    `with tracker.event(source_id, external_id, stage="geocode"):` counts the event as a
    success, or catches its exception (an `Exception`, never an interrupt), describes it
    (categorized with `rules`, scrubbed, parameterized) and lets the caller's loop go on.
    """

    def __init__(
        self,
        recorder: FailureRecorder,
        *,
        run_id: str,
        batch: str,
        rules: Sequence[MessageRule] | None = None,
    ) -> None:
        self.recorder = recorder
        self.run_id = run_id
        self.batch = batch
        self.rules = rules
        self.failures: list[FailureRecord] = []
        self._succeeded: Counter[tuple[str, str]] = Counter()
        self._failed: Counter[tuple[str, str]] = Counter()
        self.recording: Recording | None = None

    @contextmanager
    def event(
        self, source_id: str, external_id: str | None = None, *, stage: str
    ) -> Iterator[None]:
        """Around one event's work: its exception becomes a counted failure, never raised."""
        self._check(source_id, stage)
        try:
            yield
        except Exception as error:
            self.failed(source_id, external_id, stage=stage, error=error)
        else:
            self.succeeded(source_id, external_id, stage=stage)

    def succeeded(self, source_id: str, external_id: str | None = None, *, stage: str) -> None:
        """Count one event of `source_id` that went through `stage`."""
        self._check(source_id, stage)
        self._succeeded[(source_id, stage)] += 1

    def failed(
        self,
        source_id: str,
        external_id: str | None = None,
        *,
        stage: str,
        error: BaseException | str | None = None,
        category: ErrorCategory | str | None = None,
    ) -> FailureRecord:
        """Count one failed event: `error` (an exception or a message) is categorized unless
        `category` says what it is; returns the failure as it will be stored."""
        self._check(source_id, stage)
        if category is not None:
            message = str(error) if error is not None else ErrorCategory(category).value
            error = FailtrackError(message, category=ErrorCategory(category))
        failure = describe_failure(
            source_id,
            error if error is not None else "failed",
            seen_at=datetime.now(UTC),
            external_id=external_id,
            rules=self.rules,
            stage=stage,
        )
        self.failures.append(failure)
        self._failed[(source_id, stage)] += 1
        return failure

    def counts(self) -> list[StageCounts]:
        """Per (source, stage): processed = succeeded + failed, in a stable order."""
        keys = sorted(set(self._succeeded) | set(self._failed))
        return [
            StageCounts(
                source_id=source_id,
                stage=stage,
                processed=self._succeeded[(source_id, stage)] + self._failed[(source_id, stage)],
                succeeded=self._succeeded[(source_id, stage)],
                failed=self._failed[(source_id, stage)],
            )
            for source_id, stage in keys
        ]

    def stages(self) -> list[str]:
        return sorted({stage for _, stage in (*self._succeeded, *self._failed)})

    def record(self) -> Recording | None:
        """Record everything gathered, once (later calls do nothing); None: nothing to record."""
        if self.recording is None:
            counts = self.counts()
            if not counts:
                return None
            self.recording = self.recorder.record(
                self.failures, run_id=self.run_id, batch=self.batch, counts=counts
            )
        return self.recording

    def _check(self, source_id: str, stage: str) -> None:
        if self.recording is not None:
            raise TrackerError(
                f"run {self.run_id} ({self.batch}) was already recorded: "
                "track events before the step ends"
            )
        check_stage(stage)
        if not source_id or len(source_id) > MAX_SOURCE_ID_CHARS:
            raise TrackerError(
                f"source_id {source_id!r}: expected 1 to {MAX_SOURCE_ID_CHARS} characters"
            )
