"""The scrape job on a real Dagster instance: run tags, events and the failure table.

Every test runs twice: Dagster storage and failtrack's tables on SQLite, then both on a
real PostgreSQL (the `backend` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dagster import DagsterEventType, build_run_status_sensor_context

from failtrack_pipeline.base.errors import RunConfigError
from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.db.schema import discovery_event_failures, events, source_daily_stats
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB
from failtrack_pipeline.defs.op_config import ScrapeConfig
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.summaries.days import utc_today
from failtrack_pipeline_tests.conftest import Backend, scrape_config

GOOD_CSV = """id,name,start,place
g1,Jazz night,2027-03-01T20:00:00,Blue Room
g2,Poetry slam,2027-03-02T19:00:00,Library
g3,Folk duo,2027-03-03T21:00:00,Blue Room
"""

MIXED_RECORDS = [
    {"id": "m1", "title": "Quiz", "when": "2027-04-01 19:00", "venue": "Pub"},
    {"id": "m2", "title": "Choir", "when": "2027-04-02 18:00", "venue": "Hall"},
    {"id": "m3", "title": "", "when": "2027-04-03 18:00", "venue": "Hall"},
    {"id": "m4", "title": "Late show", "when": "2027-13-45 18:00", "venue": "Hall"},
    {"id": "m5", "title": "Matinee", "when": "2027-02-30 14:00", "venue": "Hall"},
]

SOURCES_YAML = """
sources:
  - id: good
    name: Good CSV
    kind: csv
    url: good.csv
    fields: {external_id: id, title: name, starts_at: start, venue_name: place}
  - id: mixed
    name: Mixed JSON
    kind: json
    url: mixed.json
    records: data.items
    fields: {external_id: id, title: title, starts_at: when, venue_name: venue}
  - id: markets
    name: Markets (a site that changes its layout)
    kind: json
    url: markets.json
    records: items
    fields: {external_id: id, title: title, starts_at: when, venue_name: venue, category: kind,
             status: state}
    ignored_categories: [Parking]
  - id: down
    name: Unreachable
    kind: json
    url: http://127.0.0.1:9/events.json
    records: items
    fields: {external_id: id, title: title, starts_at: when}
"""


@pytest.fixture
def sources_path(tmp_path: Path) -> Path:
    (tmp_path / "good.csv").write_text(GOOD_CSV)
    (tmp_path / "mixed.json").write_text(json.dumps({"data": {"items": MIXED_RECORDS}}))
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES_YAML)
    return path


def run_source(
    backend: Backend, sources_path: Path, source_id: str, **config: Any
) -> dict[str, str]:
    defs = build_definitions(load_sources(sources_path))
    job = defs.get_job_def("scrape_sources_job")
    result = job.execute_in_process(
        partition_key=source_id,
        instance=backend.instance,
        raise_on_error=False,
        run_config=scrape_config(**config),
    )
    run = backend.instance.get_run_by_id(result.run_id)
    assert run is not None
    return {k: v for k, v in run.tags.items() if k.startswith("failtrack/")}


def failure_rows(engine: sa.Engine) -> dict[tuple[str, str, str], int]:
    with engine.connect() as connection:
        table = discovery_event_failures
        query = sa.select(
            table.c.source_id,
            table.c.error_category,
            table.c.error_message,
            table.c.occurrence_count,
        )
        return {(s, c, m): n for s, c, m, n in connection.execute(query)}


def test_a_clean_source_runs_as_success_with_its_counts_in_tags(
    backend: Backend, sources_path: Path
) -> None:
    tags = run_source(backend, sources_path, "good")
    assert tags.pop("failtrack/processed_at").endswith("Z")
    assert tags == {
        "failtrack/source": "good",
        "failtrack/status": "success",
        "failtrack/counts": "3 read · 3 stored · 0 failed · 0 skipped",
    }
    with backend.engine.connect() as connection:
        titles = connection.execute(sa.select(events.c.title).order_by(events.c.external_id))
        assert list(titles.scalars()) == ["Jazz night", "Poetry slam", "Folk duo"]
    assert failure_rows(backend.engine) == {}


def test_as_of_judges_the_events_at_that_moment_and_a_bad_config_is_no_failure_of_the_source(
    backend: Backend, sources_path: Path
) -> None:
    # The morning after the first show: it has ended (a skip), the others are to come.
    tags = run_source(backend, sources_path, "good", as_of="2027-03-02T06:00:00+01:00")
    assert tags["failtrack/counts"] == "3 read · 2 stored · 0 failed · 1 skipped (ended=1)"

    job_defs = build_definitions(load_sources(sources_path))
    result = job_defs.get_job_def("scrape_sources_job").execute_in_process(
        partition_key="good",
        instance=backend.instance,
        raise_on_error=False,
        run_config=scrape_config(as_of="2027-03-02T06:00:00"),
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_failure_data.error.message.startswith(
        "failtrack_pipeline.base.errors.RunConfigError: "
        "as_of: '2027-03-02T06:00:00' has no UTC offset"
    )
    # The source did nothing wrong: neither the hook nor the sensor records it.
    sense_run_failure(backend, sources_path, result.run_id, job_defs)
    assert failure_rows(backend.engine) == {}
    assert "failtrack/status" not in backend.instance.get_run_by_id(result.run_id).tags

    # Nor any other value pydantic refuses in the op's config.
    refused = job_defs.get_job_def("scrape_sources_job").execute_in_process(
        partition_key="good",
        instance=backend.instance,
        raise_on_error=False,
        run_config=scrape_config(silent_failure_threshold=1.5),
    )
    assert not refused.success
    sense_run_failure(backend, sources_path, refused.run_id, job_defs)
    assert failure_rows(backend.engine) == {}


def test_failed_events_make_a_partial_run_and_grouped_failure_rows(
    backend: Backend, sources_path: Path
) -> None:
    tags = run_source(backend, sources_path, "mixed")
    assert tags["failtrack/status"] == "partial"
    assert tags["failtrack/counts"] == "⚠ 5 read · 2 stored · 3 failed · 0 skipped"
    assert tags["failtrack/error_category"] == "validation_error"
    # The two bad dates share one parameterized message: the run's most frequent failure.
    assert tags["failtrack/error_message"] == "Invalid date <value> for starts_at"

    rows = failure_rows(backend.engine)
    assert rows == {
        ("mixed", "validation_error", "Invalid date <value> for starts_at"): 2,
        ("mixed", "validation_error", "title missing"): 1,
    }
    with backend.engine.connect() as connection:
        samples = connection.execute(
            sa.select(discovery_event_failures.c.sample_external_ids).where(
                discovery_event_failures.c.error_message.like("Invalid date%")
            )
        ).scalar_one()
        assert samples == ["m5", "m4"]
        stored = connection.execute(sa.select(sa.func.count()).select_from(events)).scalar()
        assert stored == 2


def test_running_the_same_data_again_doubles_counts_without_adding_rows(
    backend: Backend, sources_path: Path
) -> None:
    run_source(backend, sources_path, "mixed")
    first = failure_rows(backend.engine)
    run_source(backend, sources_path, "mixed")
    assert failure_rows(backend.engine) == {key: 2 * count for key, count in first.items()}


def test_an_unreachable_source_fails_the_run_and_the_hook_records_why(
    backend: Backend, sources_path: Path
) -> None:
    tags = run_source(backend, sources_path, "down")
    assert tags["failtrack/status"] == "failed"
    assert tags["failtrack/error_category"] == "network_error"
    assert "ConnectError" in tags["failtrack/error_message"]
    (key,) = failure_rows(backend.engine)
    assert key[:2] == ("down", "network_error")
    assert failure_rows(backend.engine)[key] == 1


def sense_run_failure(backend: Backend, sources_path: Path, run_id: str, defs: Any) -> None:
    """Evaluate the run-failure sensor on one failed run, as the daemon would."""
    instance = backend.instance
    sensor = defs.get_sensor_def("record_run_failure_sensor")
    (failure,) = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
    context = build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources={
            "failtrack_db": FailtrackDatabase(),
            "failtrack_sources": FailtrackSources(path=str(sources_path)),
        },
    ).for_run_failure()
    sensor(context)


def test_the_sensor_records_a_run_that_died_and_never_double_counts(
    backend: Backend, sources_path: Path
) -> None:
    instance = backend.instance
    defs = build_definitions(load_sources(sources_path))
    job = defs.get_job_def("scrape_sources_job")

    def sense(run_id: str) -> None:
        sense_run_failure(backend, sources_path, run_id, defs)

    # A run whose worker died: no op ever ran, so no hook saw it.
    died = instance.create_run_for_job(
        job, tags={"failtrack/source": "good", "dagster/partition": "good"}
    )
    instance.report_run_failed(died, message="Run worker process 4242 exited unexpectedly")
    sense(died.run_id)
    sense(died.run_id)
    # A run whose failure the hook already recorded.
    hooked = job.execute_in_process(
        partition_key="down", instance=instance, raise_on_error=False, run_config=scrape_config()
    )
    sense(hooked.run_id)

    rows = failure_rows(backend.engine)
    assert sum(n for (source, _, _), n in rows.items() if source == "good") == 1
    assert sum(n for (source, _, _), n in rows.items() if source == "down") == 1
    died_tags = instance.get_run_by_id(died.run_id).tags
    assert died_tags["failtrack/status"] == "failed"
    assert "exited unexpectedly" in died_tags["failtrack/error_message"]


ROW = {"title": "Market", "when": "2027-05-01 18:00", "venue": "Quay"}
MARKETS = [
    ROW | {"id": "k1"},
    ROW | {"id": "k2"},
    ROW | {"id": "k3"},
    ROW | {"id": "k4", "state": "Cancelled"},
    ROW | {"id": "k5", "kind": "parking"},
]
SILENT = "yielded <int> records; median of last <int> runs is <int>"


def test_skips_are_counted_apart_and_an_empty_run_after_a_normal_history_is_silent(
    backend: Backend, sources_path: Path
) -> None:
    feed = sources_path.parent / "markets.json"
    runs = []
    for items in ([], MARKETS, MARKETS, MARKETS, []):
        feed.write_text(json.dumps({"items": items}))
        runs.append(run_source(backend, sources_path, "markets"))
    new_and_empty, normal, *_, emptied = runs

    # A new source reading nothing has no history to fall short of: not flagged.
    assert new_and_empty["failtrack/status"] == "success"
    assert new_and_empty["failtrack/counts"] == "0 read · 0 stored · 0 failed · 0 skipped"
    # Skips: read (processed) but neither succeeded nor failed, and no failure.
    assert normal["failtrack/status"] == "success"
    assert normal["failtrack/counts"] == (
        "5 read · 3 stored · 0 failed · 2 skipped (cancelled=1,ignored_category=1)"
    )
    # After 0, 5, 5, 5 (newest first: median of 5, 5, 5, 0 is 5), reading 0 is silent.
    assert emptied["failtrack/status"] == "silent_failure"
    assert emptied["failtrack/error_category"] == "silent_failure"
    assert emptied["failtrack/error_message"] == SILENT
    assert failure_rows(backend.engine) == {("markets", "silent_failure", SILENT): 1}

    defs = build_definitions(load_sources(sources_path))
    dashboard = defs.resolve_job_def(DASHBOARD_JOB).execute_in_process(
        instance=backend.instance, partition_key=utc_today().isoformat()
    )
    assert dashboard.success
    stats = source_daily_stats.c
    with backend.engine.connect() as connection:
        row = connection.execute(
            sa.select(
                stats.runs,
                stats.silent_failures,
                stats.events_processed,
                stats.events_succeeded,
                stats.events_skipped,
                stats.success_rate,
            ).where(stats.source_id == "markets")
        ).one()
    assert tuple(row) == (5, 1, 15, 9, 6, 1.0)  # 9 / (9 + 0): the 6 skips count nowhere


def test_the_silent_failure_output_metadata_names_the_baseline_and_skips(
    backend: Backend, sources_path: Path
) -> None:
    (sources_path.parent / "markets.json").write_text(json.dumps({"items": MARKETS}))
    defs = build_definitions(load_sources(sources_path))
    result = defs.get_job_def("scrape_sources_job").execute_in_process(
        partition_key="markets", instance=backend.instance, run_config=scrape_config()
    )
    (output,) = [
        event.event_specific_data.metadata
        for event in result.all_node_events
        if event.is_successful_output
    ]
    values = {key: getattr(value, "value", value) for key, value in output.items()}
    assert values["events_skipped"] == 2
    assert (values["skipped_cancelled"], values["skipped_ignored_category"]) == (1, 1)
    assert values["baseline_runs"] == 0


def test_a_sources_own_threshold_wins_over_the_jobs_and_bad_settings_are_refused() -> None:
    config = ScrapeConfig()
    assert (config.policy(None).threshold, config.policy(0.5).threshold) == (0.2, 0.5)
    assert config.policy(0.0).threshold == 0.0  # 0 is a setting (off), not "unset"
    with pytest.raises(RunConfigError, match="min_history <= baseline_runs"):
        ScrapeConfig(baseline_runs=2, min_history=3)
    with pytest.raises(RunConfigError, match="threshold"):
        ScrapeConfig(silent_failure_threshold=1.5)
