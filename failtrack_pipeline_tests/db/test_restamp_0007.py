"""Migration 0007 re-stamps failure groups that an `as_of` run stamped with the wrong clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.db.schema import (
    discovery_event_failure_days,
    discovery_event_failures,
    failure_recordings,
)
from failtrack_pipeline_tests.db.revisions import DAYS_BY_FINGERPRINT, at_revision, group

AS_OF = datetime(2026, 11, 25, 6, tzinfo=UTC)  # what the old code stamped per-event failures with


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11 if day > 1 else 12, day, hour, minute, tzinfo=UTC)


def test_groups_stamped_with_as_of_take_the_time_the_ledger_recorded(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with at_revision(engine, "0003") as connection:
        connection.execute(
            sa.insert(discovery_event_failures),
            [
                group("only_as_of", AS_OF, AS_OF, "r1"),  # every sighting under the wrong clock
                group("right", at(20, 8), at(1, 8, 59), "r2"),  # recorded a minute later
                group("seen_before", at(20, 10), AS_OF, "r3"),  # a real start, a wrong end
            ],
        )
        connection.execute(
            sa.insert(failure_recordings),
            [
                {"run_id": "r1", "batch": "events-00001", "recorded_at": at(1, 9)},
                {"run_id": "r2", "batch": "events-00001", "recorded_at": at(1, 9)},
                {"run_id": "r3", "batch": "events-00001", "recorded_at": at(30, 12)},
                {"run_id": "r3", "batch": "events-00002", "recorded_at": at(30, 11)},
            ],
        )
        days = [
            ("only_as_of", date(2026, 11, 25), 3),
            ("right", date(2026, 11, 20), 1),
            ("right", date(2026, 12, 1), 2),
            ("seen_before", date(2026, 11, 20), 1),
            ("seen_before", date(2026, 11, 25), 2),
            ("seen_before", date(2026, 11, 30), 1),
        ]
        connection.execute(
            sa.insert(DAYS_BY_FINGERPRINT),
            [{"fingerprint": f, "day": d, "source_id": "s", "occurrences": n} for f, d, n in days],
        )

    migrate(engine)

    failures, per_day = discovery_event_failures.c, discovery_event_failure_days.c
    with engine.connect() as connection:
        stamps = connection.execute(
            sa.select(failures.fingerprint, failures.first_seen_at, failures.last_seen_at)
        ).all()
        counts = connection.execute(
            sa.select(per_day.fingerprint, per_day.day, per_day.occurrences)
        ).all()
    assert sorted(stamps) == [
        ("only_as_of", at(1, 9), at(1, 9)),
        ("right", at(20, 8), at(1, 8, 59)),
        ("seen_before", at(20, 10), at(30, 12)),
    ]
    assert sorted(counts) == [
        ("only_as_of", date(2026, 12, 1), 3),
        ("right", date(2026, 11, 20), 1),
        ("right", date(2026, 12, 1), 2),
        ("seen_before", date(2026, 11, 20), 1),
        ("seen_before", date(2026, 11, 30), 3),
    ]
