"""Every number the sources overview shows, checked against the runs' own tags.

Scrape and retry runs are tagged as the real ops tag them; their failures are recorded as the
scrape op records them. The dashboard's run then builds the overview, and each cell of each
row is recomputed here from Dagster's run records alone (tags, start times, run status).
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus, Definitions, RunsFilter

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB, build_summary_definitions
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.run_tags import RunCounts, tagged_counts
from failtrack_pipeline.summaries.days import utc_today
from failtrack_pipeline.summaries.present import SOURCES_OVERVIEW, TREND, format_cell, sparkline
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.store import record_failures
from failtrack_pipeline_tests.conftest import Backend
from failtrack_pipeline_tests.summaries.fake_scrape import scrape

SOURCES = ["steady", "broke", "went_quiet", "mixed", "never"]
TITLE = "Missing title for event <int>"
DATE = "Invalid date <value> for starts_at"


def scrape_and_record(backend: Backend, source: str, *args: Any, **kwargs: Any) -> str:
    """A run, and its failed events recorded under its error message, as the op does."""
    run_id = scrape(backend.instance, source, *args, **kwargs)
    failed = args[2] if len(args) > 2 else 0
    if failed:
        now = datetime.now(UTC)
        failures = [
            FailureRecord(
                source, ErrorCategory.VALIDATION, kwargs["error"], "e", f"{source}-{i}", now
            )
            for i in range(failed)
        ]
        record_failures(backend.engine, failures, run_id=run_id, batch="events")
    return run_id


def build_history(backend: Backend) -> None:
    scrape_and_record(backend, "steady", "success", 10, 0)
    scrape_and_record(backend, "steady", "partial", 9, 1, error=TITLE)
    scrape_and_record(backend, "steady", "success", 10, 0)
    # A retry of one event that still fails: a run like any other, but not the last run.
    scrape_and_record(backend, "steady", "partial", 0, 1, error=TITLE, retry=True)

    scrape_and_record(backend, "broke", "success", 5, 0)
    scrape_and_record(backend, "broke", "partial", 3, 2, error=DATE)
    scrape(backend.instance, "broke", fail=True)  # no status tag: the feed broke off

    for _ in range(3):
        scrape_and_record(backend, "went_quiet", "success", 6, 0)
    scrape_and_record(backend, "went_quiet", "silent_failure", 0, 0)

    scrape_and_record(backend, "mixed", "partial", 4, 4, error=TITLE)
    scrape_and_record(backend, "mixed", "partial", 7, 1, error=DATE)
    scrape_and_record(backend, "mixed", "partial", 7, 1, error=DATE)
    scrape_and_record(backend, "mixed", "partial", 7, 1, error=DATE)


def overview_after_dashboard(backend: Backend) -> dict[str, dict[str, Any]]:
    defs = Definitions.merge(
        build_summary_definitions(SOURCES, "scrape_sources_job"),
        Definitions(resources={"failtrack_db": FailtrackDatabase()}),
    )
    result = defs.resolve_job_def(DASHBOARD_JOB).execute_in_process(
        instance=backend.instance, partition_key=utc_today().isoformat()
    )
    (overview,) = [
        event.event_specific_data.materialization.metadata["sources_overview"]
        for event in result.get_asset_materialization_events()
        if event.asset_key.to_user_string() == "source_success_rates"
    ]
    return {record.data["source_id"]: record.data for record in overview.records}


def expected_from_tags(instance: DagsterInstance, source: str) -> dict[str, Any]:
    """The overview row of `source`, from its runs' tags and Dagster's records only."""
    records = [
        record
        for job in ("scrape_sources_job", "retry_events_job")
        for record in instance.get_run_records(
            RunsFilter(job_name=job, tags={"failtrack/source": source})
        )
    ]
    records.sort(key=lambda record: record.start_time)

    def status(record: Any) -> str:
        succeeded = record.dagster_run.status == DagsterRunStatus.SUCCESS
        return record.dagster_run.tags.get("failtrack/status", "success" if succeeded else "failed")

    def counts(record: Any) -> RunCounts:
        return tagged_counts(record.dagster_run.tags)

    if not records:
        return {"source_id": source, "health": "no_data", "runs_7d": "0"}
    statuses = Counter(status(record) for record in records)
    runs, failed, silent = len(records), statuses["failed"], statuses["silent_failure"]
    succeeded = sum(counts(record).succeeded for record in records)
    failed_events = sum(counts(record).failed for record in records)
    run_rate = (runs - failed - silent) / runs
    event_rate = succeeded / (succeeded + failed_events) if succeeded + failed_events else None
    worst = min(run_rate, run_rate if event_rate is None else event_rate)
    health = "healthy" if worst >= 0.95 else "degraded" if worst >= 0.80 else "failing"

    scrapes = [record for record in records if record.dagster_run.job_name != "retry_events_job"]
    successes = [record.start_time for record in scrapes if status(record) == "success"]
    last_success = max(successes, default=None)
    since = None
    if status(scrapes[-1]) != "success":
        since = min(
            r.start_time for r in scrapes if last_success is None or r.start_time > last_success
        )
    failed_by_message: Counter[str] = Counter()
    for record in records:
        tags = record.dagster_run.tags
        if "failtrack/error_message" in tags:
            failed_by_message[tags["failtrack/error_message"]] += counts(record).failed
    top = failed_by_message.most_common(1)[0][0] if failed_by_message else None

    def moment(epoch: float | None) -> datetime | None:
        return None if epoch is None else datetime.fromtimestamp(epoch, UTC)

    return {
        "source_id": source,
        "health": health,
        "top_error_message": format_cell("top_error_message", top),
        "failing_since": format_cell("failing_since", moment(since)),
        "last_success_at": format_cell("last_success_at", moment(last_success)),
        "runs_7d": str(runs),
        "events_succeeded_7d": str(succeeded),
        "events_failed_7d": str(failed_events),
        "success_rate_7d": format_cell("success_rate_7d", event_rate),
        "run_success_rate_7d": format_cell("run_success_rate_7d", run_rate),
        "anomaly": "–",  # a day of history is too little to be anomalous against
        TREND: "·" * 13 + sparkline([worst]),  # today only: no change against last week
    }


def test_every_number_of_the_overview_matches_the_runs_tags(backend: Backend) -> None:
    build_history(backend)
    shown = overview_after_dashboard(backend)

    assert list(shown) == ["broke", "went_quiet", "mixed", "steady", "never"]  # worst first
    for source in SOURCES:
        expected = expected_from_tags(backend.instance, source)
        assert {column: shown[source][column] for column in expected} == expected, source
    assert set(shown["steady"]) == {*SOURCES_OVERVIEW.columns, TREND}


def test_the_reason_names_the_rate_that_decided_the_health(backend: Backend) -> None:
    build_history(backend)
    reasons = {
        source: row["health_reason"] for source, row in overview_after_dashboard(backend).items()
    }
    assert reasons == {
        # A third of its runs failed: that, not its events, makes it failing.
        "broke": "run rate 66.7 % (1 failed of 3 runs); event rate 80.0 % (2 of 10 events failed)",
        "mixed": "event rate 78.1 % (7 of 32 events failed); run rate 100.0 % (4 runs)",
        "went_quiet": "silent failures: run rate 75.0 % (1 silent of 4 runs); "
        "event rate 100.0 % (0 of 18 events failed)",
        "steady": "event rate 93.5 % (2 of 31 events failed); run rate 100.0 % (4 runs)",
        "never": "no run yet",
    }
