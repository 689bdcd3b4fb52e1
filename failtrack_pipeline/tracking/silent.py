"""Silent failures: a run that ends without error but yields far fewer records than usual.

A site that changes its layout often breaks a scraper without an error: it "succeeds" and
reads nothing. Each run's yield (records read: succeeded + failed + skipped) is judged
against the source's own recent runs; the caller supplies those yields, so this stays free
of Dagster (the scrape op reads them from the `failtrack/events_processed` tags of the
source's earlier successful runs).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from failtrack_pipeline.base.errors import ErrorCategory, FailtrackError


@dataclass(frozen=True)
class SilentFailureRule:
    """A yield under `threshold` x the median of the last `baseline_runs` runs is silent.

    A source needs `min_history` earlier runs before it can be flagged, so a new source
    never is; a threshold of 0 turns the rule off.
    """

    threshold: float = 0.2
    baseline_runs: int = 14
    min_history: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"silent-failure threshold must be in [0, 1], got {self.threshold!r}")
        if not 1 <= self.min_history <= self.baseline_runs:
            raise ValueError(
                "silent-failure history needs 1 <= min_history <= baseline_runs, got "
                f"min_history={self.min_history!r}, baseline_runs={self.baseline_runs!r}"
            )


@dataclass(frozen=True)
class YieldBaseline:
    """The records read by the source's earlier runs (newest first), and the rule."""

    history: Sequence[int]
    rule: SilentFailureRule

    def judge(self, records: int) -> FailtrackError | None:
        """The silent failure that a run reading `records` records is, or None.

        The message names both numbers (`yielded 0 records; median of last 14 runs is
        120`); they are parameterized when recorded, so every such run of a source lands
        in one failure group.
        """
        history = list(self.history)[: self.rule.baseline_runs]
        if len(history) < self.rule.min_history:
            return None
        median = statistics.median(history)
        if median <= 0 or records >= self.rule.threshold * median:
            return None
        message = f"yielded {records} records; median of last {len(history)} runs is {median:.0f}"
        return FailtrackError(message, category=ErrorCategory.SILENT_FAILURE)
