"""Upgrading the grouping rules re-keys stored groups instead of starting new ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.normalize import GROUPING_VERSION
from failtrack_pipeline.config.rules import load_rules
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.tracking.failures import describe_failure, fingerprint
from failtrack_pipeline.tracking.store import record_failures, regroup

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
# Two variants that version 1 kept apart (its time rule ran before its IP rule).
OLD_VARIANTS = [
    ("connection refused by <int>.<int>.<int>.<time>", "connection refused by 10.0.0.1:80"),
    ("connection refused by <int>.<int>.<int>.<time>", "connection refused by 10.0.0.2:8080"),
    ("connection refused by <host>:<int>", "connection refused by 10.0.0.3:443"),
]


def _insert_version_1_rows(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        for n, (message, example) in enumerate(OLD_VARIANTS):
            key = fingerprint("src", ErrorCategory.NETWORK, message + str(n), version=1)
            seen = T0 + timedelta(days=n)
            group_id = connection.execute(
                sa.insert(failures_table).values(
                    fingerprint=key,
                    source_id="src",
                    error_category=ErrorCategory.NETWORK.value,
                    error_message=message,
                    example_message=example,
                    sample_external_ids=[f"e{n}", "shared"],
                    occurrence_count=10 + n,
                    first_seen_at=seen,
                    last_seen_at=seen + timedelta(hours=1),
                    last_run_id=f"run-{n}",
                    grouping_version=1,
                )
            ).inserted_primary_key.id
            connection.execute(
                sa.insert(days_table).values(
                    group_id=group_id,
                    fingerprint=key,
                    day=T0.date(),
                    source_id="src",
                    occurrences=10 + n,
                )
            )


def test_an_upgrade_merges_old_groups_with_counts_times_samples_and_days(
    engine: sa.Engine,
) -> None:
    _insert_version_1_rows(engine)
    new = describe_failure("src", "connection refused by 10.9.9.9:5432", seen_at=T0)
    assert new.category is ErrorCategory.NETWORK

    record_failures(engine, [new], run_id="run-new", batch="b")

    with engine.connect() as connection:
        rows = connection.execute(sa.select(failures_table)).all()
        days = connection.execute(sa.select(days_table)).all()
    assert len(rows) == 1
    (row,) = rows
    assert row.fingerprint == new.fingerprint
    assert row.error_message == "connection refused by <host>:<int>"
    assert row.grouping_version == GROUPING_VERSION
    assert row.occurrence_count == 10 + 11 + 12 + 1
    assert row.first_seen_at == T0
    assert row.last_seen_at == T0 + timedelta(days=2, hours=1)
    assert row.example_message == "connection refused by 10.0.0.3:443"
    assert row.sample_external_ids == ["e2", "shared", "e1", "e0"]
    assert [(d.group_id, d.fingerprint, d.day, d.occurrences) for d in days] == [
        (row.id, new.fingerprint, T0.date(), 10 + 11 + 12 + 1)
    ]


def test_regrouping_moves_days_to_the_surviving_group_under_its_new_key(engine: sa.Engine) -> None:
    _insert_version_1_rows(engine)

    regroup(engine)

    with engine.connect() as connection:
        (row,) = connection.execute(sa.select(failures_table)).all()
        days = connection.execute(sa.select(days_table)).all()
    assert [(d.group_id, d.fingerprint, d.occurrences) for d in days] == [
        (row.id, row.fingerprint, 10 + 11 + 12)
    ]


def test_regrouping_twice_changes_nothing(engine: sa.Engine) -> None:
    _insert_version_1_rows(engine)

    assert regroup(engine) == len(OLD_VARIANTS)
    assert regroup(engine) == 0


def test_a_group_named_by_a_user_rule_keeps_its_name(engine: sa.Engine) -> None:
    rules = load_rules(
        [
            {
                "name": "moved",
                "category": "network_error",
                "pattern": "moved",
                "group_as": "feed moved",
            }
        ],  # noqa: E501
        "rules.yaml",
    )
    named = describe_failure("src", "feed moved to 10.0.0.1:80", seen_at=T0, rules=rules)
    record_failures(engine, [named], run_id="run-1", batch="b")

    assert regroup(engine) == 0
    with engine.connect() as connection:
        (row,) = connection.execute(sa.select(failures_table)).all()
    assert (row.error_message, row.fingerprint) == ("feed moved", named.fingerprint)
