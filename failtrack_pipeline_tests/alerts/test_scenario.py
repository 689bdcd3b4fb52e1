"""Several simulated days against real Slack, SMTP and webhook servers on 127.0.0.1: exactly
the expected notifications, once each; recoveries; nothing for an ignored group; a
regression after a resolve; a Slack outage delivered later, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from failtrack_pipeline.alerts.channels import build_channel
from failtrack_pipeline.alerts.conditions import configure
from failtrack_pipeline.alerts.setup import Alerting
from failtrack_pipeline.config.alerts import AlertsConfig
from failtrack_pipeline.db.schema import notifications
from failtrack_pipeline.tracking.outcome import RunStatus
from failtrack_pipeline.tracking.triage import TriageChange, TriageState, set_triage
from failtrack_pipeline_tests.alerts.scenario import (
    fail,
    group_id,
    runs,
    sent,
    set_health,
    tick,
)
from failtrack_pipeline_tests.alerts.servers import SlackApi, SmtpServer, WebhookReceiver, running

S, F, P = RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.SILENT_FAILURE
DAY1 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
WEBSERVER = "http://dagster.example:3000"


def day(n: int, minutes: int = 0) -> datetime:
    return DAY1 + timedelta(days=n - 1, minutes=minutes)


@pytest.fixture
def servers() -> Iterator[tuple[SlackApi, SmtpServer, WebhookReceiver]]:
    slack, smtp, webhook = SlackApi(), SmtpServer(), WebhookReceiver()
    with running(slack, smtp, webhook):
        yield slack, smtp, webhook


def alerting_for(
    slack: SlackApi, smtp: SmtpServer, webhook: WebhookReceiver, **overrides: object
) -> Alerting:
    config = AlertsConfig.model_validate(
        {
            "channels": {
                "team-slack": {
                    "type": "slack",
                    "token": "${TEST_SLACK_TOKEN}",
                    "channel": "#scrapers",
                    "base_url": slack.base_url,
                },
                "owner-mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "sender": "failtrack@example.com",
                    "to": ["theatre-owner@example.com"],
                },
                "hook": {
                    "type": "webhook",
                    "url": f"{webhook.url}/events",
                    "template": {"summary": "{{title}}", "state": "{{state}}", "body": "{{text}}"},
                },
            },
            "default_route": ["team-slack", "hook"],
            "owners": {"riverside": ["owner-mail"]},
            "webserver_url": WEBSERVER,
        }
        | overrides
    )
    channels = {name: build_channel(channel) for name, channel in config.channels.items()}
    return Alerting(config, configure(config.conditions, "test"), channels)


def test_simulated_days_send_exactly_one_notification_per_change(
    engine: sa.Engine,
    servers: tuple[SlackApi, SmtpServer, WebhookReceiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack, smtp, webhook = servers
    monkeypatch.setenv("TEST_SLACK_TOKEN", "xoxb-test-token")
    alerting = alerting_for(slack, smtp, webhook)
    expected: list[tuple[str, str, str, str]] = []

    def expect(condition: str, subject: str, state: str, *channels: str) -> None:
        expected.extend((channel, condition, subject, state) for channel in channels)

    team = ("team-slack", "hook")
    # Day 1: a new group on city; both sources healthy.
    set_health(engine, "city", "healthy", day(1))
    set_health(engine, "riverside", "healthy", day(1))
    a = fail(engine, "city", "Invalid date <value>", 5, day(1, -30), "r1")
    tick(engine, alerting, day(1), {"city": runs("city", S, at=day(1))})
    expect("new_group", a, "new", *team)
    tick(engine, alerting, day(1, 5), {"city": runs("city", S, at=day(1))})  # no news

    # Day 2: city degrades; a second group appears and is ignored at once; riverside's
    # latest run is a silent failure (its owner hears of it, not the team).
    set_health(engine, "city", "degraded", day(2))
    b = fail(engine, "city", "Missing venue", 50, day(2, -30), "r2")
    ignore = TriageChange(TriageState.IGNORED, by="ana", note="known", more_occurrences=1000)
    set_triage(engine, group_id(engine, b), ignore, day(2, -10))
    tick(engine, alerting, day(2), {"riverside": runs("riverside", P, S, at=day(2))})
    expect("health_change", "city", "degraded", *team)
    expect("silent_failure", "riverside", "silent", "owner-mail")

    # Day 3: city fails three runs in a row; A gets frequent, B more so (ignored: nothing);
    # riverside recovers. A is resolved afterwards.
    set_health(engine, "city", "failing", day(3))
    fail(engine, "city", "Invalid date <value>", 120, day(3, -30), "r3")
    fail(engine, "city", "Missing venue", 200, day(3, -30), "r3")
    recent = {
        "city": runs("city", F, F, F, at=day(3)),
        "riverside": runs("riverside", S, at=day(3)),
    }
    tick(engine, alerting, day(3), recent)
    expect("health_change", "city", "failing", *team)
    expect("consecutive_failures", "city", "failing_runs", *team)
    expect("silent_failure", "riverside", "ok", "owner-mail")
    expect("group_occurrences", a, "frequent", *team)
    fixed = TriageChange(TriageState.RESOLVED, by="ana", version="1.4", note="date parser")
    set_triage(engine, group_id(engine, a), fixed, day(3, 60))

    # Day 4: Slack is down. A comes back (a regression); city recovers.
    slack.down()
    set_health(engine, "city", "healthy", day(4))
    fail(engine, "city", "Invalid date <value>", 1, day(4, -30), "r4")
    tick(engine, alerting, day(4), {"city": runs("city", S, F, at=day(4))})
    expect("health_change", "city", "healthy", *team)
    expect("consecutive_failures", "city", "ok", *team)
    expect("regressed_group", a, "regressed #1", *team)
    slack_missed = len(slack.received)
    _, retry = tick(engine, alerting, day(4, 0) + timedelta(seconds=20))  # backoff: 30 s
    assert (retry.sent, retry.failed, retry.waiting) == (0, 0, 0)
    _, retry = tick(engine, alerting, day(4, 1))
    assert (retry.sent, retry.failed, retry.waiting) == (0, 1, 2)  # one try per channel

    # Day 5: Slack is back; what it missed arrives once; nothing else is new.
    slack.up()
    _, delivered = tick(engine, alerting, day(5))
    assert delivered.sent == 3
    tick(engine, alerting, day(5, 5), {"city": runs("city", S, at=day(5))})

    assert sent(engine) == expected
    with engine.connect() as connection:
        unsent = connection.execute(
            sa.select(sa.func.count()).where(notifications.c.sent_at.is_(None))
        ).scalar_one()
    assert unsent == 0
    slack_titles = [body["text"].split("\n")[0] for body in slack.received]
    assert slack_missed == 5 and len(slack.received) == 8
    assert len(set(slack_titles)) == 8  # each once, the outage's three too
    assert [body["state"] for body in webhook.received] == [
        e[3] for e in expected if e[0] == "hook"
    ]
    assert [mail["Subject"] for mail in smtp.messages] == [
        "failtrack: riverside is silent (silent_failure)",
        "failtrack: riverside recovered (silent_failure)",
    ]
    assert all(b not in body["body"] for body in webhook.received)  # B: never a word
    assert slack.headers[0]["Authorization"] == "Bearer xoxb-test-token"
