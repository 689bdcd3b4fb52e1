"""Evaluating the conditions: one notification per state change, per subject, per channel.

Each subject's last announced state is kept in `alert_states`; a verdict equal to it is
no news. A change within the cool-down of the subject's last announcement waits: the next
evaluation after the cool-down announces the state then (nothing, if it changed back), so
a flapping source pages once. The first state ever seen is news only when it is not the
normal one. Notifications are only queued here (`notifications`); `alerts.outbox`
delivers them, so an evaluation never waits on, nor fails with, a channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa

from failtrack_pipeline.alerts.conditions import Condition, Observation, Params, Verdict
from failtrack_pipeline.alerts.notice import build_notice, top_group
from failtrack_pipeline.config.alerts import AlertsConfig
from failtrack_pipeline.db.engine import dialect_insert
from failtrack_pipeline.db.schema import alert_states, notifications

# PostgreSQL advisory lock held while evaluating, so two sensors never announce one change
# twice (SQLite's BEGIN IMMEDIATE serializes writers already).
_EVALUATION_LOCK_KEY: Final = 0x616C_6572  # "aler"


@dataclass(frozen=True)
class Announcement:
    condition: str
    subject: str
    state: str
    previous_state: str
    channels: tuple[str, ...]


def evaluate(
    engine: sa.Engine,
    seen: Observation,
    config: AlertsConfig,
    active: Sequence[tuple[Condition, Params]],
) -> list[Announcement]:
    """Run every active condition and queue a notification for each change it finds."""
    announced: list[Announcement] = []
    with engine.begin() as connection:
        lock_alerts(connection)
        for condition, params in active:
            verdicts = condition.probe(connection, seen, params)
            if verdicts:
                announced += _changes(connection, condition, verdicts, seen.now, config)
    return announced


def lock_alerts(connection: sa.Connection) -> None:
    """Serialize whoever queues notifications, until the transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_EVALUATION_LOCK_KEY)))


def _changes(
    connection: sa.Connection,
    condition: Condition,
    verdicts: dict[str, Verdict],
    now: datetime,
    config: AlertsConfig,
) -> list[Announcement]:
    states = alert_states.c
    stored = {
        row.subject: row
        for row in connection.execute(
            sa.select(states.subject, states.state, states.announced_at).where(
                states.condition == condition.name, states.subject.in_(list(verdicts))
            )
        )
    }
    cooldown = timedelta(minutes=config.cooldown_minutes)
    announced = []
    for subject, verdict in sorted(verdicts.items()):
        row = stored.get(subject)
        previous = row.state if row is not None else condition.ok
        if verdict.state == previous:
            continue
        if row is not None and row.announced_at and now - row.announced_at < cooldown:
            continue  # held: looked at again after the cool-down
        _remember(connection, condition.name, subject, verdict.state, now)
        if verdict.state == condition.ok and not condition.recovery:
            continue
        channels = tuple(config.route(verdict.source_id))
        if channels:
            group = top_group(
                connection, now=now, source_id=verdict.source_id, group_id=verdict.group_id
            )
            message = build_notice(
                condition, subject, verdict, previous, group, config.webserver_url
            )
            queue(
                connection, condition.name, subject, verdict.state, previous, channels, message, now
            )
        announced.append(Announcement(condition.name, subject, verdict.state, previous, channels))
    return announced


def _remember(
    connection: sa.Connection, condition: str, subject: str, state: str, now: datetime
) -> None:
    values = {"state": state, "announced_at": now, "observed_at": now}
    insert = dialect_insert(connection, alert_states)
    connection.execute(
        insert.values(condition=condition, subject=subject, **values).on_conflict_do_update(
            index_elements=[alert_states.c.condition, alert_states.c.subject], set_=values
        )
    )


def queue(
    connection: sa.Connection,
    condition: str,
    subject: str,
    state: str,
    previous: str | None,
    channels: Sequence[str],
    message: dict[str, Any],
    now: datetime,
) -> None:
    """One row per channel, due now."""
    connection.execute(
        sa.insert(notifications),
        [
            {
                "condition": condition,
                "subject": subject,
                "state": state,
                "previous_state": previous,
                "channel": channel,
                "message": message,
                "created_at": now,
                "next_attempt_at": now,
            }
            for channel in channels
        ],
    )
