from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.defs.run_tags import (
    MAX_TAG_VALUE_CHARS,
    RunCounts,
    failed_run_tags,
    outcome_tags,
    run_counts,
)
from failtrack_pipeline.processing.skips import SkipCause
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.outcome import (
    RunOutcome,
    RunStatus,
    format_skip_reasons,
    parse_skip_reasons,
)

AT = datetime(2026, 11, 25, 6, 30, 5, 123456, tzinfo=UTC)


def failure(message: str, category: ErrorCategory = ErrorCategory.VALIDATION) -> FailureRecord:
    return FailureRecord("src", category, message, message, None, AT)


def test_a_run_without_failures_is_a_success_and_says_so_in_its_tags() -> None:
    outcome = RunOutcome("src")
    for _ in range(3):
        outcome.add_success()
    assert outcome_tags(outcome, processed_at=AT) == {
        "failtrack/source": "src",
        "failtrack/status": "success",
        "failtrack/processed_at": "2026-11-25T06:30:05Z",
        "failtrack/counts": "3 read · 3 stored · 0 failed · 0 skipped",
    }


def test_a_run_with_failures_is_partial_and_names_its_most_frequent_failure() -> None:
    outcome = RunOutcome("src")
    outcome.add_success()
    outcome.add_failure(failure("venue missing", ErrorCategory.VENUE))
    for _ in range(2):
        outcome.add_failure(failure("Invalid date <value> for starts_at"))
    tags = outcome_tags(outcome, processed_at=AT)
    assert outcome.status is RunStatus.PARTIAL
    assert tags["failtrack/status"] == "partial"
    assert tags["failtrack/counts"] == "⚠ 4 read · 1 stored · 3 failed · 0 skipped"
    assert tags["failtrack/error_category"] == "validation_error"
    assert tags["failtrack/error_message"] == "Invalid date <value> for starts_at"


def test_a_run_whose_every_judged_event_failed_is_failed_not_partial() -> None:
    outcome = RunOutcome("src")
    outcome.add_failure(failure("Invalid date <value> for starts_at"))
    outcome.add_skip(SkipCause.ENDED)  # skipped events are not judged: nothing made it
    assert outcome.status is RunStatus.FAILED
    outcome.add_success()
    assert outcome.status is RunStatus.PARTIAL


def test_processed_at_is_utc_whatever_the_clock_zone() -> None:
    local = AT.astimezone(timezone(timedelta(hours=-5)))
    assert outcome_tags(RunOutcome("s"), processed_at=local)["failtrack/processed_at"].endswith(
        "06:30:05Z"
    )


def test_long_or_multiline_messages_are_bounded_single_line_tag_values() -> None:
    tags = failed_run_tags(failure("boom\n" + "x" * 5000), processed_at=AT)
    message = tags["failtrack/error_message"]
    assert len(message) == MAX_TAG_VALUE_CHARS
    assert "\n" not in message and message.endswith("…")
    assert tags["failtrack/status"] == "failed"


def test_skips_are_processed_but_neither_succeeded_nor_failed_and_tagged_by_reason() -> None:
    outcome = RunOutcome("src")
    outcome.add_success()
    for reason in (SkipCause.ENDED, SkipCause.CANCELLED, SkipCause.ENDED):
        outcome.add_skip(reason)
    tags = outcome_tags(outcome, processed_at=AT)
    assert outcome.status is RunStatus.SUCCESS  # a skip is no failure
    assert tags["failtrack/counts"] == (
        "4 read · 1 stored · 0 failed · 3 skipped (ended=2,cancelled=1)"
    )
    assert run_counts(tags) == RunCounts(1, 0, {SkipCause.ENDED: 2, SkipCause.CANCELLED: 1})


def test_the_counts_read_back_from_the_one_tag_and_from_the_tags_before_it() -> None:
    outcome = RunOutcome("src")
    outcome.add_success()
    outcome.add_failure(failure("venue missing", ErrorCategory.VENUE))
    outcome.add_skip(SkipCause.CANCELLED)
    counts = run_counts(outcome_tags(outcome, processed_at=AT))
    assert counts == RunCounts(1, 1, {SkipCause.CANCELLED: 1})
    assert (counts.processed, counts.skipped) == (3, 1)
    legacy = {
        "failtrack/events_processed": "3",
        "failtrack/events_succeeded": "1",
        "failtrack/events_failed": "1",
        "failtrack/events_skipped": "1",
        "failtrack/skip_reasons": "cancelled=1",
    }
    assert run_counts(legacy) == counts
    assert run_counts({"failtrack/status": "failed"}) is None  # e.g. a refused retry config


@pytest.mark.parametrize(
    "value",
    [
        "3 stored",
        "4 read · 1 stored · 0 failed · 2 skipped (ended=2)",  # 1 + 0 + 2 is not 4
        "10 read · 8 stored · 0 failed · 0 skipped (ended=2)",  # 2 skipped, not 0
    ],
)
def test_a_counts_tag_that_was_not_written_so_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ValueError, match="tag failtrack/counts is '"):
        run_counts({"failtrack/counts": value})


def test_skip_reasons_that_were_never_written_are_ignored_when_read() -> None:
    assert parse_skip_reasons("") == {}
    assert parse_skip_reasons("ended=2,bogus=1,cancelled=x,ignored_category=4") == {
        SkipCause.ENDED: 2,
        SkipCause.IGNORED_CATEGORY: 4,
    }
    assert format_skip_reasons({}) == ""


def test_a_silent_failure_is_the_runs_status_and_its_error() -> None:
    outcome = RunOutcome("src")
    outcome.add_failure(failure("venue missing", ErrorCategory.VENUE))
    message = "yielded <int> records; median of last <int> runs is <int>"
    outcome.silent_failure = failure(message, ErrorCategory.SILENT_FAILURE)
    tags = outcome_tags(outcome, processed_at=AT)
    assert (tags["failtrack/status"], tags["failtrack/counts"]) == (
        "silent_failure",
        "⚠ 1 read · 0 stored · 1 failed · 0 skipped",
    )
    assert (tags["failtrack/error_category"], tags["failtrack/error_message"]) == (
        "silent_failure",
        message,
    )
