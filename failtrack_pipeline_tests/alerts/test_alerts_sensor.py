"""The alert sensors on a real Dagster instance (SQLite and PostgreSQL): evaluated as a
scrape run ends, and a channel that is down neither fails a scrape nor loses a notice."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import DagsterEventType, build_run_status_sensor_context, build_sensor_context

from failtrack_pipeline.config.sources_file import load_sources
from failtrack_pipeline.db.schema import notifications
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.alerts_sensor import FailtrackAlerts
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline_tests.alerts.servers import WebhookReceiver
from failtrack_pipeline_tests.conftest import Backend, scrape_config

GOOD_CSV = "id,name,start,place\ng1,Jazz night,2027-03-01T20:00:00,Blue Room\n"
SOURCES = """
sources:
  - id: good
    name: Good CSV
    kind: csv
    url: good.csv
    fields: {{external_id: id, title: name, starts_at: start, venue_name: place}}
  - id: down
    name: Unreachable
    kind: json
    url: http://127.0.0.1:9/events.json
    records: items
    fields: {{external_id: id, title: title, starts_at: when}}
alerts:
  channels:
    hook:
      type: webhook
      url: {hook}/alerts
      headers: {{Authorization: "Bearer ${{TEST_HOOK_TOKEN}}"}}
  default_route: [hook]
  conditions:
    consecutive_failures: {{threshold: 2}}
    new_group: {{enabled: false}}
"""


@pytest.fixture
def receiver() -> WebhookReceiver:
    return WebhookReceiver()  # down until a test brings it up


@pytest.fixture
def sources_path(tmp_path: Path, receiver: WebhookReceiver, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_HOOK_TOKEN", "hook-secret-123")
    (tmp_path / "good.csv").write_text(GOOD_CSV)
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES.format(hook=receiver.url))
    return path


def _resources(sources_path: Path) -> dict[str, object]:
    return {
        "failtrack_db": FailtrackDatabase(),
        "failtrack_sources": FailtrackSources(path=str(sources_path)),
        "failtrack_alerts": FailtrackAlerts(),
    }


def _scrape(backend: Backend, sources_path: Path, source_id: str) -> str:
    job = build_definitions(load_sources(sources_path)).get_job_def("scrape_sources_job")
    result = job.execute_in_process(
        partition_key=source_id,
        instance=backend.instance,
        raise_on_error=False,
        run_config=scrape_config(),
    )
    return result.run_id


def _sense_failure(backend: Backend, sources_path: Path, run_id: str) -> str:
    """The failure sensor's tick on one failed run, as the daemon would run it."""
    instance = backend.instance
    defs = build_definitions(load_sources(sources_path))
    sensor = defs.get_sensor_def("alert_on_run_failure_sensor")
    (failure,) = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
    context = build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources=_resources(sources_path),
    ).for_run_failure()
    return sensor(context).skip_message


def _pending(backend: Backend) -> list[sa.Row]:
    table = notifications.c
    with backend.engine.connect() as connection:
        return connection.execute(
            sa.select(table.condition, table.subject, table.attempts, table.last_error).where(
                table.sent_at.is_(None)
            )
        ).all()


def test_a_channel_outage_loses_no_notification_and_never_fails_a_scrape(
    backend: Backend, sources_path: Path, receiver: WebhookReceiver
) -> None:
    first = _scrape(backend, sources_path, "down")
    assert "0 changes announced" in _sense_failure(backend, sources_path, first)
    second = _scrape(backend, sources_path, "down")
    # The receiver is down: the change is announced, its delivery fails, the tick does not.
    tick = _sense_failure(backend, sources_path, second)
    assert "1 changes announced" in tick and "1 failed (retried later)" in tick
    ((condition, subject, attempts, error),) = _pending(backend)
    assert (condition, subject, attempts) == ("consecutive_failures", "down", 1)
    assert "ConnectError" in error
    # A scrape meanwhile is as it would be without alerts.
    good = backend.instance.get_run_by_id(_scrape(backend, sources_path, "good"))
    assert good.is_success and good.tags["failtrack/status"] == "success"

    receiver.up()
    try:
        deliver = build_definitions(load_sources(sources_path)).get_sensor_def(
            "deliver_alerts_sensor"
        )
        # Once the backoff (30 s) is over; the test does not wait: it moves the row's clock.
        with backend.engine.begin() as connection:
            connection.execute(
                sa.update(notifications).values(
                    next_attempt_at=sa.select(notifications.c.created_at).scalar_subquery()
                )
            )
        context = build_sensor_context(
            instance=backend.instance, resources=_resources(sources_path)
        )
        assert "1 sent" in deliver(context).skip_message
        assert "0 sent" in deliver(context).skip_message
    finally:
        receiver.down()
    assert _pending(backend) == []
    (body,) = receiver.received
    assert body["condition"] == "consecutive_failures" and body["state"] == "failing_runs"
    assert body["source"] == "down" and body["run_url"].endswith(f"/runs/{second}")
    assert receiver.headers[0]["Authorization"] == "Bearer hook-secret-123"
    with backend.engine.connect() as connection:  # the secret went to the receiver alone
        stored = [str(row) for row in connection.execute(sa.select(notifications)).all()]
    assert stored and not any("hook-secret-123" in row for row in stored)
    assert "hook-secret-123" not in tick + error
