"""Delivering queued notifications: each until its channel takes it, with backoff.

A row is claimed before it is sent (its next attempt pushed past a lease), so two
deliverers never send it twice. A failed send is kept with its (scrubbed) error and
retried after 30 s, 1 min, 2 min… up to an hour, for as long as it takes: nothing is
dropped. Once a channel fails, its other due rows wait as long as the failed one, instead
of each waiting out the same time-out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa

from failtrack_pipeline.alerts.channels import Channel
from failtrack_pipeline.base.scrub import scrub_secrets
from failtrack_pipeline.base.text import truncate
from failtrack_pipeline.db.schema import notifications

FIRST_RETRY: Final = timedelta(seconds=30)
MAX_RETRY: Final = timedelta(hours=1)
LEASE: Final = timedelta(minutes=5)
ERROR_MAX_CHARS: Final = 1000


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int
    waiting: int  # due, but left until their channel, which just failed, is tried again


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the `attempts`-th failed try: doubling from FIRST_RETRY to MAX_RETRY."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def deliver_due(
    engine: sa.Engine,
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    limit: int = 100,
) -> Delivery:
    """Send what is due at `now`, oldest first."""
    table = notifications.c
    with engine.connect() as connection:
        due = connection.execute(
            sa.select(table.id, table.channel, table.message, table.attempts)
            .where(table.sent_at.is_(None), table.next_attempt_at <= now)
            .order_by(table.id)
            .limit(limit)
        ).all()
    sent = failed = waiting = 0
    down: dict[str, datetime] = {}  # channel -> its next try
    for row in due:
        if row.channel in down:
            _postpone(engine, row.id, down[row.channel])
            waiting += 1
            continue
        if not _claim(engine, row.id, now):
            continue
        channel = channels.get(row.channel)
        try:
            if channel is None:
                raise LookupError(f"channel {row.channel!r} is not configured (any more)")
            channel.send(row.message)
        except Exception as error:  # any channel failure is a retry, never a crash
            down[row.channel] = now + retry_delay(row.attempts + 1)
            failed += 1
            _finish(engine, row.id, row.attempts + 1, now, error)
        else:
            sent += 1
            _finish(engine, row.id, row.attempts + 1, now, None)
    return Delivery(sent=sent, failed=failed, waiting=waiting)


def _claim(engine: sa.Engine, row_id: int, now: datetime) -> bool:
    table = notifications.c
    with engine.begin() as connection:
        claimed = connection.execute(
            sa.update(notifications)
            .where(table.id == row_id, table.sent_at.is_(None), table.next_attempt_at <= now)
            .values(next_attempt_at=now + LEASE)
        )
    return claimed.rowcount == 1


def _postpone(engine: sa.Engine, row_id: int, until: datetime) -> None:
    """Leave a row for when its channel, which just failed, is tried again."""
    with engine.begin() as connection:
        connection.execute(
            sa.update(notifications)
            .where(notifications.c.id == row_id, notifications.c.sent_at.is_(None))
            .values(next_attempt_at=until)
        )


def _finish(
    engine: sa.Engine, row_id: int, attempts: int, at: datetime, error: Exception | None
) -> None:
    if error is None:
        values = {"sent_at": at, "attempts": attempts, "last_error": None}
    else:
        problem = scrub_secrets(f"{type(error).__name__}: {error}")
        values = {
            "attempts": attempts,
            "next_attempt_at": at + retry_delay(attempts),
            "last_error": truncate(problem, ERROR_MAX_CHARS),
        }
    with engine.begin() as connection:
        connection.execute(
            sa.update(notifications).where(notifications.c.id == row_id).values(**values)
        )
