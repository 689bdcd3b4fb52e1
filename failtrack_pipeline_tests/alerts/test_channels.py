"""Each channel against its real server on 127.0.0.1; what a refusal leaves behind (a retry
later, with the server's answer, scrubbed, as the row's last error); what retention prunes."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from failtrack_pipeline.alerts.channels import EmailSender, SlackSender, WebhookSender, render
from failtrack_pipeline.alerts.evaluate import queue
from failtrack_pipeline.alerts.outbox import deliver_due
from failtrack_pipeline.config.alerts import EmailChannel, SlackChannel, WebhookChannel
from failtrack_pipeline.db.schema import notifications
from failtrack_pipeline.tracking.retention import prune_failures
from failtrack_pipeline_tests.alerts.servers import SlackApi, SmtpServer, WebhookReceiver, running

MESSAGE = {"title": "failtrack: city is failing (health_change)", "text": "Why: 3 runs failed"}
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def test_email_logs_in_and_sends_subject_and_body() -> None:
    """The server takes mail only after a login with its password."""
    smtp = SmtpServer(login=("failtrack", "smtp-pass-1"))
    config = {"type": "email", "host": "127.0.0.1", "port": smtp.port, "sender": "f@example.com"}
    config |= {"to": ["a@example.com", "b@example.com"], "username": "failtrack"}
    with running(smtp):
        EmailSender(EmailChannel.model_validate(config | {"password": "smtp-pass-1"})).send(MESSAGE)
        anonymous = EmailSender(EmailChannel.model_validate(config | {"username": None}))
        with pytest.raises(smtplib.SMTPSenderRefused, match="530"):
            anonymous.send(MESSAGE)
    (mail,) = smtp.messages
    assert mail["Subject"] == MESSAGE["title"] and mail["To"] == "a@example.com, b@example.com"
    assert mail.get_payload().strip() == "Why: 3 runs failed"


def test_slack_posts_the_title_and_text_to_the_channel() -> None:
    slack = SlackApi()
    config = {"type": "slack", "token": "xoxb-1", "channel": "#scrapers"}
    with running(slack):
        SlackSender(SlackChannel.model_validate(config | {"base_url": slack.base_url})).send(
            MESSAGE
        )
    (posted,) = slack.received
    assert posted["channel"] == "#scrapers"
    assert posted["text"] == f"*{MESSAGE['title']}*\n{MESSAGE['text']}"


def test_a_webhook_template_is_filled_in_and_stays_json() -> None:
    template = {"content": '{{title}} "quoted"', "embeds": [{"text": "{{text}}", "n": 1}]}
    assert render(template, MESSAGE | {"text": 'a "b"\nc'}) == {
        "content": f'{MESSAGE["title"]} "quoted"',
        "embeds": [{"text": 'a "b"\nc', "n": 1}],
    }
    receiver = WebhookReceiver()
    config = {"type": "webhook", "url": f"{receiver.url}/x", "template": template}
    with running(receiver):
        WebhookSender(WebhookChannel.model_validate(config)).send(MESSAGE)
    assert receiver.received[0]["content"] == f'{MESSAGE["title"]} "quoted"'


def test_a_refused_notification_is_retried_later_with_the_reason(engine: sa.Engine) -> None:
    slack = SlackApi()
    slack.answer = lambda path, body: {"ok": False, "error": "channel_not_found"}  # type: ignore[method-assign]
    config = {"type": "slack", "token": "xoxb-secret-77", "channel": "#gone"}
    sender = SlackSender(SlackChannel.model_validate(config | {"base_url": slack.base_url}))
    with engine.begin() as connection:
        queue(connection, "health_change", "city", "failing", "healthy", ["s"], MESSAGE, NOW)
    with running(slack):
        delivery = deliver_due(engine, {"s": sender}, NOW)
    assert (delivery.sent, delivery.failed) == (0, 1)
    with engine.connect() as connection:
        row = connection.execute(sa.select(notifications)).one()
    assert row.sent_at is None and row.attempts == 1
    assert row.next_attempt_at == NOW + timedelta(seconds=30)
    assert "channel_not_found" in row.last_error and "xoxb-secret-77" not in row.last_error


def test_retention_prunes_sent_notifications_and_never_an_unsent_one(engine: sa.Engine) -> None:
    old = NOW - timedelta(days=100)
    with engine.begin() as connection:
        for subject in ("sent", "unsent"):
            queue(connection, "health_change", subject, "failing", "healthy", ["s"], MESSAGE, old)
        connection.execute(
            sa.update(notifications).where(notifications.c.subject == "sent").values(sent_at=old)
        )
    pruned = prune_failures(engine, cutoff=NOW - timedelta(days=90))
    assert pruned.notifications == 1
    with engine.connect() as connection:
        left = connection.execute(sa.select(notifications.c.subject)).scalars().all()
    assert left == ["unsent"]
