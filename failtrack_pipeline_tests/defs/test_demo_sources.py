"""The main job on the shipped demo sources fills the failure table with the expected groups."""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import build_schedule_context

from failtrack_pipeline.cli import HISTORY_RUNS, replay_history
from failtrack_pipeline.config.sources_file import default_sources_path, load_sources
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline_tests.conftest import Backend, scrape_config
from failtrack_pipeline_tests.defs.test_scrape_job import failure_rows

# Hand-checked against the feed files under failtrack_pipeline/sources/demo/feeds.
EXPECTED_GROUPS = {
    ("city_concerts", "validation_error", "title missing"): 3,
    ("city_concerts", "category_error", "unknown category <value>"): 1,
    ("metro_meetups", "parsing_error", "invalid iCalendar property DTSTART <value>"): 2,
    ("metro_meetups", "data_quality_error", "ends_at before starts_at"): 1,
    ("riverside_theatre", "geocoding_error", "latitude <float> out of range"): 1,
    ("riverside_theatre", "geocoding_error", "longitude <float> out of range"): 1,
    ("riverside_theatre", "data_integrity_error", "duplicate external_id <value>"): 1,
    ("riverside_theatre", "venue_error", "venue missing"): 1,
    ("box_office", "performer_error", "performers must be text or a list of texts, got dict"): 1,
    (
        "box_office",
        "validation_error",
        "url ftp://files.boxoffice.example/<path> must be an http(s) URL",
    ): 1,  # noqa: E501
    (
        "broken_json_feed",
        "parsing_error",
        "invalid JSON: parse error: premature EOF",
    ): 1,
    ("offline_calendar", "network_error", "ConnectError: [Errno <int>] Connection refused"): 1,
}
EXPECTED_STATUS = {
    "city_concerts": "partial",
    "metro_meetups": "partial",
    "riverside_theatre": "partial",
    "harbour_festival": "success",
    "box_office": "partial",
    "broken_json_feed": "failed",
    "offline_calendar": "failed",
    "night_markets": "success",  # reads nothing, but a new source is never flagged
}
SILENT_GROUP = (
    "night_markets",
    "silent_failure",
    "yielded <int> records; median of last <int> runs is <int>",
)


def test_the_demo_sources_fill_the_failure_table_and_a_rerun_doubles_the_counts(
    backend: Backend,
) -> None:
    sources = load_sources(default_sources_path())
    job = build_definitions(sources).get_job_def("scrape_sources_job")
    for attempt in (1, 2):
        statuses = {}
        for source in sources.enabled():
            result = job.execute_in_process(
                partition_key=source.id,
                instance=backend.instance,
                raise_on_error=False,
                run_config=scrape_config(),
            )
            statuses[source.id] = backend.instance.get_run_by_id(result.run_id).tags[
                "failtrack/status"
            ]
        assert statuses == EXPECTED_STATUS
        assert failure_rows(backend.engine) == {k: n * attempt for k, n in EXPECTED_GROUPS.items()}


def test_the_daily_schedule_asks_for_one_run_per_enabled_source() -> None:
    defs = build_definitions(load_sources(default_sources_path()))
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 25, 5, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    schedule = defs.get_schedule_def("daily_scrape_schedule")
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert sorted(r.partition_key for r in requests) == sorted(EXPECTED_STATUS)
    assert all(r.tags["failtrack/source"] == r.partition_key for r in requests)
    assert {r.run_key for r in requests} == {f"{s}:2026-11-25" for s in EXPECTED_STATUS}


def test_after_the_replayed_history_night_markets_empty_scrape_is_a_silent_failure(
    backend: Backend,
) -> None:
    sources = load_sources(default_sources_path())
    assert replay_history(backend.instance, sources.ids()) == ["night_markets"]
    job = build_definitions(sources).get_job_def("scrape_sources_job")
    result = job.execute_in_process(
        partition_key="night_markets", instance=backend.instance, run_config=scrape_config()
    )
    tags = backend.instance.get_run_by_id(result.run_id).tags
    assert tags["failtrack/status"] == "silent_failure"
    assert tags["failtrack/error_message"] == SILENT_GROUP[2]  # 0 records; median 6 of 4 runs
    assert tags["failtrack/counts"] == "⚠ 0 read · 0 stored · 0 failed · 0 skipped"
    assert failure_rows(backend.engine) == {SILENT_GROUP: 1}
    history = backend.instance.get_runs()[1:]
    assert len(history) == HISTORY_RUNS
    assert {run.tags["failtrack/counts"] for run in history} == {
        "6 read · 6 stored · 0 failed · 0 skipped"
    }
