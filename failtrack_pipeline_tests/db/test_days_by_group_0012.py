"""Migration 0012 keys the per-day counts by their group's id, and its downgrade undoes it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from failtrack_pipeline.db.engine import create_db_engine
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.db.schema import discovery_event_failure_days, discovery_event_failures
from failtrack_pipeline_tests.db.revisions import DAYS_BY_FINGERPRINT, at_revision, group

SEEN = datetime(2026, 11, 30, 8, tzinfo=UTC)
DAYS = [
    ("a", date(2026, 11, 29), 2, "scrape"),
    ("a", date(2026, 11, 30), 1, "scrape"),
    ("b", date(2026, 11, 30), 5, "enrich"),
    ("pruned", date(2026, 11, 1), 7, "scrape"),  # its group is gone: nothing joins it
]


def test_days_take_their_groups_ids_and_the_downgrade_gives_the_old_key_back(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with at_revision(engine, "0011") as connection:
        connection.execute(
            sa.insert(discovery_event_failures),
            [group("a", SEEN, SEEN, "r1"), group("b", SEEN, SEEN, "r2")],
        )
        connection.execute(
            sa.insert(DAYS_BY_FINGERPRINT),
            [
                {"fingerprint": f, "day": d, "source_id": "s", "occurrences": n, "stage": stage}
                for f, d, n, stage in DAYS
            ],
        )

    migrate(engine)

    failures, days = discovery_event_failures.c, discovery_event_failure_days.c
    with engine.connect() as connection:
        ids = dict(connection.execute(sa.select(failures.fingerprint, failures.id)).all())
        moved = connection.execute(
            sa.select(days.group_id, days.fingerprint, days.day, days.occurrences, days.stage)
        ).all()
    assert sorted(moved) == sorted(
        (ids[f], f, d, n, stage) for f, d, n, stage in DAYS if f != "pruned"
    )

    with at_revision(engine, "0011", down=True) as connection:
        old = DAYS_BY_FINGERPRINT.c
        back = connection.execute(sa.select(old.fingerprint, old.day, old.occurrences, old.stage))
        back = sorted(tuple(row) for row in back)
        # The old key holds again: a second row for (fingerprint, day) is refused.
        again = {"fingerprint": "a", "day": date(2026, 11, 30), "source_id": "s", "occurrences": 1}
        savepoint = connection.begin_nested()
        try:
            connection.execute(sa.insert(DAYS_BY_FINGERPRINT), [again])
        except sa.exc.IntegrityError:
            refused = True
        else:
            refused = False
        savepoint.rollback()
    assert back == [(f, d, n, stage) for f, d, n, stage in sorted(DAYS) if f != "pruned"]
    assert refused
    engine.dispose()
