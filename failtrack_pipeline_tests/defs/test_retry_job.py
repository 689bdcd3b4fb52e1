from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from failtrack_pipeline.db.schema import discovery_event_failures, events
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.retry_job import build_retry_job
from failtrack_pipeline_tests.conftest import Backend, scrape_config
from failtrack_pipeline_tests.defs.test_scrape_job import run_source

SOURCES_YAML = """
sources:
  - id: shows
    name: Shows
    kind: json
    url: shows.json
    records: items
    fields: {external_id: id, title: title, starts_at: when, venue_name: venue}
"""


def write_feed(folder: Path, bad_date: str) -> None:
    items = [
        {"id": "s1", "title": "Opera", "when": "2027-05-01 19:00", "venue": "Hall"},
        {"id": "s2", "title": "Ballet", "when": bad_date, "venue": "Hall"},
        {"id": "s3", "title": "Revue", "when": "2027-05-03 19:00", "venue": "Hall"},
    ]
    (folder / "shows.json").write_text(json.dumps({"items": items}))


@pytest.fixture
def sources_path(tmp_path: Path) -> Path:
    write_feed(tmp_path, bad_date="2027-02-30 19:00")
    (tmp_path / "sources.yaml").write_text(SOURCES_YAML)
    return tmp_path / "sources.yaml"


def retry(backend: Backend, sources_path: Path, **config: object):
    result = build_retry_job().execute_in_process(
        instance=backend.instance,
        resources={
            "failtrack_db": FailtrackDatabase(),
            "failtrack_sources": FailtrackSources(path=str(sources_path)),
        },
        run_config=scrape_config("retry_events", **config),
        raise_on_error=False,
    )
    run = backend.instance.get_run_by_id(result.run_id)
    return result, {k: v for k, v in run.tags.items() if k.startswith("failtrack/")}


def the_group(backend: Backend) -> sa.Row:
    with backend.engine.connect() as connection:
        return connection.execute(sa.select(discovery_event_failures)).one()


def test_a_retry_of_a_group_that_now_succeeds_updates_it_without_counting_a_failure(
    backend: Backend, sources_path: Path
) -> None:
    run_source(backend, sources_path, "shows")
    group = the_group(backend)
    assert (group.occurrence_count, group.sample_external_ids) == (1, ["s2"])

    write_feed(sources_path.parent, bad_date="2027-03-01 19:00")  # the source fixed it
    result, tags = retry(backend, sources_path, source_id="shows", failure_group_id=group.id)

    assert result.success
    assert tags["failtrack/failure_group"] == str(group.id)
    assert tags["failtrack/status"] == "success"
    assert tags["failtrack/counts"] == "1 read · 1 stored · 0 failed · 0 skipped"
    after = the_group(backend)
    assert (after.occurrence_count, after.sample_external_ids) == (1, [])
    with backend.engine.connect() as connection:
        stored = connection.execute(sa.select(events.c.external_id).order_by("external_id"))
        assert stored.scalars().all() == ["s1", "s2", "s3"]


def test_retrying_one_event_that_still_fails_is_failed_counts_again_and_tags_the_event(
    backend: Backend, sources_path: Path
) -> None:
    run_source(backend, sources_path, "shows")
    result, tags = retry(backend, sources_path, source_id="shows", external_ids=["s2"])
    assert result.success
    assert tags["failtrack/external_id"] == "s2"
    # The one event it ran failed: nothing made it, so the run failed (not partial).
    assert (tags["failtrack/status"], tags["failtrack/counts"]) == (
        "failed",
        "⚠ 1 read · 0 stored · 1 failed · 0 skipped",
    )
    assert the_group(backend).occurrence_count == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"source_id": "nope", "external_ids": ["s1"]}, "unknown source 'nope' (known: shows)"),
        ({"source_id": "shows", "failure_group_id": 999}, "no failure group with id 999"),
        ({"source_id": "shows"}, "give either external_ids or failure_group_id"),
    ],
)
def test_bad_retry_config_fails_with_a_clear_error_before_anything_runs(
    backend: Backend, sources_path: Path, config: dict, message: str
) -> None:
    result, tags = retry(backend, sources_path, **config)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert message in failure.step_failure_data.error.message
    # Filterable as a failed run with its reason, but against no source.
    assert (tags["failtrack/status"], "failtrack/source" in tags) == ("failed", False)
    assert message in tags["failtrack/error_message"]
    with backend.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 0
        failures = sa.select(sa.func.count()).select_from(discovery_event_failures)
        assert connection.execute(failures).scalar() == 0
