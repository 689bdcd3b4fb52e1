"""What a notification says (source, state and why, the top group, links; scrubbed), the
cool-down that keeps a flapping source to one page, and the daily digest, once a day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from failtrack_pipeline.alerts.conditions import Observation
from failtrack_pipeline.alerts.digest import queue_digest
from failtrack_pipeline.alerts.evaluate import evaluate
from failtrack_pipeline.alerts.notice import runs_page_url
from failtrack_pipeline.db.schema import notifications
from failtrack_pipeline.tracking.triage import TriageChange, TriageState, set_triage
from failtrack_pipeline_tests.alerts.scenario import fail, group_id, sent, set_health, tick
from failtrack_pipeline_tests.alerts.servers import SlackApi, SmtpServer, WebhookReceiver, running
from failtrack_pipeline_tests.alerts.test_scenario import alerting_for

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    with running(receiver):
        yield receiver


def hook_only(webhook: WebhookReceiver, **overrides: object):
    """Alerts to the webhook alone, which receives each stored message as it is."""
    channels = {"hook": {"type": "webhook", "url": webhook.url}}
    return alerting_for(
        SlackApi(),
        SmtpServer(),
        webhook,
        channels=channels,
        default_route=["hook"],
        owners={},
        **overrides,
    )


def test_a_notice_names_the_state_why_the_top_group_and_links_and_hides_secrets(
    engine: sa.Engine, webhook: WebhookReceiver
) -> None:
    alerting = hook_only(webhook, conditions={"new_group": {"enabled": False}})
    secret = "GET https://api.example/feed?api_key=SeCr3tKey99 timed out"
    top = group_id(engine, fail(engine, "city", secret, 7, T0 - timedelta(hours=2), "r1"))
    busier = group_id(engine, fail(engine, "city", "No title", 40, T0 - timedelta(hours=1), "r1"))
    set_triage(engine, busier, TriageChange(TriageState.IGNORED, by="ana"), T0)
    set_health(engine, "city", "failing", T0)
    tick(engine, alerting, T0)
    (body,) = webhook.received
    assert body["title"] == "failtrack: city is failing (health_change)"
    assert (body["source"], body["state"], body["previous_state"]) == ("city", "failing", "healthy")
    assert body["reason"] == "last 7 days: 50% of events succeeded, 3 of 7 runs failed"
    group = body["group"]  # the busiest group that is not ignored
    assert (group["id"], group["count"], group["category"]) == (top, 7, "validation_error")
    assert group["first_seen"] == "2027-03-01 07:00 UTC" and group["sample"].startswith("r1-")
    assert body["runs_url"] == runs_page_url("http://dagster.example:3000", "city")
    assert body["runs_url"].endswith("/runs?q%5B%5D=tag%3Afailtrack%2Fsource%3Dcity")
    assert "SeCr3tKey99" not in str(body) and "api_key=***" in body["text"]


def test_a_flapping_source_pages_once_within_the_cool_down(
    engine: sa.Engine, webhook: WebhookReceiver
) -> None:
    alerting = hook_only(webhook, cooldown_minutes=60)
    for minutes, health in [(0, "failing"), (10, "healthy"), (20, "failing"), (30, "healthy")]:
        set_health(engine, "city", health, T0)
        tick(engine, alerting, T0 + timedelta(minutes=minutes))
    assert sent(engine) == [("hook", "health_change", "city", "failing")]
    tick(engine, alerting, T0 + timedelta(minutes=61))  # after it: the recovery, held till now
    set_health(engine, "city", "degraded", T0)
    tick(engine, alerting, T0 + timedelta(minutes=70))  # a new cool-down from the recovery
    tick(engine, alerting, T0 + timedelta(minutes=122))
    assert [row[3] for row in sent(engine)] == ["failing", "healthy", "degraded"]


def test_the_daily_digest_is_queued_once_a_day_from_its_hour(
    engine: sa.Engine, webhook: WebhookReceiver
) -> None:
    alerting = hook_only(webhook, digest={"hour_utc": 8})
    set_health(engine, "city", "failing", T0)
    tick(engine, alerting, T0)
    early = T0.replace(hour=7) + timedelta(days=1)
    assert not queue_digest(engine, alerting.config, early)
    assert queue_digest(engine, alerting.config, early + timedelta(hours=1))
    assert not queue_digest(engine, alerting.config, early + timedelta(hours=5))
    tick(engine, alerting, early + timedelta(hours=6))
    digest = webhook.received[-1]
    assert digest["title"] == "failtrack daily digest, 2027-03-02"
    assert "- city: failing (health_change)" in digest["text"].split("Still not normal:")[1]
    with engine.connect() as connection:
        kinds = connection.execute(sa.select(notifications.c.condition)).scalars().all()
    assert kinds == ["health_change", "digest"]


def test_spooled_batches_set_aside_are_announced_and_so_is_their_clearing(
    engine: sa.Engine, webhook: WebhookReceiver
) -> None:
    alerting = hook_only(webhook)
    for minutes, count in [(0, 0), (1, 2), (2, 2), (90, 3), (200, 0)]:
        seen = Observation(T0 + timedelta(minutes=minutes), dead_lettered=count)
        evaluate(engine, seen, alerting.config, alerting.active)
    assert [row[1:] for row in sent(engine)] == [
        ("dead_letter", "spool", "2 set aside"),
        ("dead_letter", "spool", "3 set aside"),
        ("dead_letter", "spool", "ok"),
    ]
