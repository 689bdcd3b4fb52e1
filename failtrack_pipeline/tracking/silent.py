"""Silent failures: a run that ends without error but yields far fewer records than usual.

A site that changes its layout often breaks a scraper without an error: it "succeeds" and
reads nothing. Each run's yield (records read: succeeded + failed + skipped) is judged
against the source's own recent runs; the caller supplies those yields, so this stays free
of Dagster (the scrape op reads them from the `failtrack/counts` tags of the source's
earlier successful runs).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import FailtrackError
from failtrack_pipeline.config.policies import SilentFailurePolicy


@dataclass(frozen=True)
class YieldBaseline:
    """The records read by the source's earlier runs (newest first), and the rule."""

    history: Sequence[int]
    rule: SilentFailurePolicy

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
