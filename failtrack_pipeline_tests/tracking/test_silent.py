"""The silent-failure rule on hand-made yield histories (newest run first)."""

from __future__ import annotations

import pytest

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.config.policies import SilentFailurePolicy
from failtrack_pipeline.tracking.silent import YieldBaseline

RULE = SilentFailurePolicy()  # under 20 % of the median of the last 14 runs, after 3 runs


def judged(records: int, history: list[int], rule: SilentFailurePolicy = RULE) -> str | None:
    error = YieldBaseline(history, rule).judge(records)
    if error is None:
        return None
    assert error.category is ErrorCategory.SILENT_FAILURE
    return error.message


def test_an_empty_run_after_a_normal_history_is_a_silent_failure() -> None:
    # median of (118, 120, 125) = 120
    assert judged(0, [120, 118, 125]) == "yielded 0 records; median of last 3 runs is 120"


def test_a_run_under_the_threshold_share_of_the_median_is_one_and_at_it_is_not() -> None:
    history = [100, 90, 110, 100]  # median 100: the line is 20 records
    assert judged(19, history) == "yielded 19 records; median of last 4 runs is 100"
    assert judged(20, history) is None


def test_a_new_source_is_never_flagged_before_it_has_enough_history() -> None:
    assert judged(0, []) is None
    assert judged(0, [120, 120]) is None  # two earlier runs: one short of the minimum


def test_only_the_last_baseline_runs_count() -> None:
    # The 14 newest runs are empty (a source that shrank for good): their median is 0, so
    # nothing is flagged, whatever the older runs read.
    assert judged(0, [0] * 14 + [500] * 20) is None
    assert judged(0, [0] * 7 + [500] * 7) == "yielded 0 records; median of last 14 runs is 250"


def test_a_source_that_usually_reads_nothing_is_never_flagged() -> None:
    assert judged(0, [0, 0, 3, 0]) is None


def test_a_threshold_of_zero_turns_the_rule_off() -> None:
    assert judged(0, [120] * 5, SilentFailurePolicy(threshold=0)) is None


@pytest.mark.parametrize(
    ("threshold", "baseline_runs", "min_history"), [(1.5, 14, 3), (0.2, 3, 4), (0.2, 14, 0)]
)
def test_an_inconsistent_rule_is_refused(
    threshold: float, baseline_runs: int, min_history: int
) -> None:
    with pytest.raises(ValueError, match="threshold|min_history"):
        SilentFailurePolicy(
            threshold=threshold, baseline_runs=baseline_runs, min_history=min_history
        )
