"""The optional daily digest: what was announced in the last 24 hours and what is still
wrong, queued once a day (the day is its subject) at or after the configured hour."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa

from failtrack_pipeline.alerts.conditions import CONDITIONS, Condition
from failtrack_pipeline.alerts.evaluate import lock_alerts, queue
from failtrack_pipeline.alerts.notice import scrubbed
from failtrack_pipeline.config.alerts import AlertsConfig
from failtrack_pipeline.db.schema import alert_states, notifications

DIGEST: Final = "digest"


def queue_digest(
    engine: sa.Engine,
    config: AlertsConfig,
    now: datetime,
    conditions: Sequence[Condition] = CONDITIONS,
) -> bool:
    """Queue today's digest if it is due and not queued yet; True if it was queued now."""
    digest = config.digest
    if digest is None or now.hour < digest.hour_utc:
        return False
    channels = digest.channels if digest.channels is not None else config.default_route
    day = now.date().isoformat()
    table = notifications.c
    with engine.begin() as connection:
        lock_alerts(connection)
        queued = connection.execute(
            sa.select(table.id).where(table.condition == DIGEST, table.subject == day).limit(1)
        ).first()
        if queued is not None or not channels:
            return False
        lines = ["Announced in the last 24 hours:"]
        recent = connection.execute(
            sa.select(table.condition, table.subject, table.state)
            .distinct()
            .where(table.condition != DIGEST, table.created_at >= now - timedelta(days=1))
            .order_by(table.condition, table.subject)
        ).all()
        lines += [f"- {row.subject}: {row.state} ({row.condition})" for row in recent] or ["- none"]
        normal = {condition.name: condition.ok for condition in conditions}
        states = alert_states.c
        wrong = [
            row
            for row in connection.execute(
                sa.select(states.condition, states.subject, states.state).order_by(
                    states.condition, states.subject
                )
            )
            if normal.get(row.condition) not in (None, row.state)
        ]
        lines.append("Still not normal:")
        lines += [f"- {row.subject}: {row.state} ({row.condition})" for row in wrong] or ["- none"]
        message = scrubbed(
            {"title": f"failtrack daily digest, {day}", "text": "\n".join(lines), "state": day}
        )
        queue(connection, DIGEST, day, "queued", None, channels, message, now)
    return True
