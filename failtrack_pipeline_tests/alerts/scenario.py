"""Helpers for alert tests: failures recorded at chosen moments, health as the dashboard
writes it, and one evaluate-and-deliver tick at a chosen moment (a controlled clock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa

from failtrack_pipeline.alerts.conditions import Observation, RunFact
from failtrack_pipeline.alerts.evaluate import Announcement, evaluate
from failtrack_pipeline.alerts.outbox import Delivery, deliver_due
from failtrack_pipeline.alerts.setup import Alerting
from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.db.engine import dialect_insert
from failtrack_pipeline.db.schema import discovery_event_failures, notifications
from failtrack_pipeline.db.schema import source_success_rates as rates
from failtrack_pipeline.tracking.failures import FailureRecord
from failtrack_pipeline.tracking.outcome import RunStatus
from failtrack_pipeline.tracking.store import record_failures


def fail(
    engine: sa.Engine, source_id: str, message: str, count: int, at: datetime, run_id: str
) -> str:
    """Record `count` failures of one group seen at `at` (its own batch of run `run_id`);
    returns the group's fingerprint."""
    failures = [
        FailureRecord(source_id, ErrorCategory.VALIDATION, message, message, f"{run_id}-{i}", at)
        for i in range(count)
    ]
    record_failures(engine, failures, run_id=run_id, batch=f"{message}@{at.isoformat()}"[:64])
    return failures[0].fingerprint


def group_id(engine: sa.Engine, fingerprint: str) -> int:
    table = discovery_event_failures.c
    with engine.connect() as connection:
        return connection.execute(
            sa.select(table.id).where(table.fingerprint == fingerprint)
        ).scalar_one()


def set_health(engine: sa.Engine, source_id: str, health: str, at: datetime) -> None:
    """The row the dashboard's refresh writes, reduced to what alerts read."""
    failed = {"healthy": 0, "degraded": 1, "failing": 3}[health]
    values = {
        "as_of": at.date(),
        "success_rate_7d": {"healthy": 0.99, "degraded": 0.9, "failing": 0.5}[health],
        "runs_7d": 7,
        "failed_runs_7d": failed,
        "events_succeeded_7d": 100,
        "events_failed_7d": failed * 10,
        "health": health,
    }
    with engine.begin() as connection:
        insert = dialect_insert(connection, rates)
        connection.execute(
            insert.values(source_id=source_id, **values).on_conflict_do_update(
                index_elements=[rates.c.source_id], set_=values
            )
        )


def runs(source_id: str, *statuses: RunStatus, at: datetime) -> list[RunFact]:
    """Runs of a source, newest first, named run-<source>-<n>."""
    return [
        RunFact(f"run-{source_id}-{at:%m%d}-{n}", source_id, status, at)
        for n, status in enumerate(statuses)
    ]


def tick(
    engine: sa.Engine,
    alerting: Alerting,
    now: datetime,
    recent: Mapping[str, Sequence[RunFact]] | None = None,
) -> tuple[list[Announcement], Delivery]:
    """What a sensor tick does: evaluate at `now`, then deliver what is due."""
    announced = evaluate(engine, Observation(now, recent or {}), alerting.config, alerting.active)
    return announced, deliver_due(engine, alerting.channels, now)


def sent(engine: sa.Engine) -> list[tuple[str, str, str, str]]:
    """(channel, condition, subject, state) of every notification, in the order queued."""
    table = notifications.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.channel, table.condition, table.subject, table.state).order_by(table.id)
        ).all()
    return [tuple(row) for row in rows]
