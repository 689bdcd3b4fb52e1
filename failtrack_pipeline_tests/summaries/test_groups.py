"""top_failure_groups: ranking by the last 7 days, new groups and regressed groups."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.db.schema import top_failure_groups
from failtrack_pipeline.summaries.groups import build_top_failure_groups
from failtrack_pipeline_tests.summaries.history import AS_OF, add_failures, at, days_ago


def groups(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(top_failure_groups)).mappings()
        return {row["error_message"]: dict(row) for row in rows}


def flags(engine: sa.Engine) -> dict[str, tuple[int, int, bool, bool]]:
    """message -> (rank, occurrences in 7 days, is_new, is_regressed)"""
    return {
        message: (row["rank"], row["occurrences_7d"], row["is_new"], row["is_regressed"])
        for message, row in groups(engine).items()
    }


def test_new_regressed_and_ordinary_groups_are_told_apart(engine: sa.Engine) -> None:
    for back in range(10):
        add_failures(engine, "alpha", "steady", days_ago(back), 3)
    add_failures(engine, "alpha", "brand new", AS_OF, 3)
    add_failures(engine, "beta", "came back", days_ago(8), 5)  # then 7 quiet days
    add_failures(engine, "beta", "came back", AS_OF, 2)
    add_failures(engine, "beta", "short pause", days_ago(7), 4)  # quiet for 6 days only
    add_failures(engine, "beta", "short pause", AS_OF, 1)
    add_failures(engine, "beta", "gone quiet", days_ago(3), 1)
    add_failures(engine, "beta", "last week only", days_ago(7), 9)  # outside the 7 days

    result = build_top_failure_groups(engine, AS_OF)
    assert flags(engine) == {
        "steady": (1, 21, False, False),
        "brand new": (2, 3, True, False),
        "came back": (3, 2, False, True),
        "short pause": (4, 1, False, False),  # ties with "gone quiet": seen later
        "gone quiet": (5, 1, False, False),
    }
    assert (result.rows, result.new_groups, result.regressed_groups) == (5, 1, 1)

    came_back = groups(engine)["came back"]
    assert (came_back["source_id"], came_back["error_category"]) == ("beta", "validation_error")
    assert (came_back["first_seen_at"], came_back["last_seen_at"]) == (at(days_ago(8)), at(AS_OF))
    assert came_back["occurrences_total"] == 7
    assert sorted(came_back["sample_external_ids"]) == ["ev-0", "ev-1", "ev-2", "ev-3", "ev-4"]
    assert str(came_back["as_of"]) == "2026-11-25"


def test_beyond_the_top_only_new_and_regressed_groups_are_kept(engine: sa.Engine) -> None:
    add_failures(engine, "alpha", "big", days_ago(1), 50)
    add_failures(engine, "alpha", "bigger", days_ago(2), 60)
    add_failures(engine, "alpha", "small", days_ago(1), 1)
    add_failures(engine, "alpha", "small and new", AS_OF, 2)
    add_failures(engine, "alpha", "small and back", days_ago(20), 1)
    add_failures(engine, "alpha", "small and back", AS_OF, 1)

    build_top_failure_groups(engine, AS_OF, limit=2)
    assert {message: rank for message, (rank, *_) in flags(engine).items()} == {
        "bigger": 1,
        "big": 2,
        "small and new": 3,
        "small and back": 4,  # "small" (rank 5) is neither: left out
    }


def test_as_of_in_the_past_ignores_later_days(engine: sa.Engine) -> None:
    add_failures(engine, "alpha", "early", days_ago(10), 2)
    add_failures(engine, "alpha", "later", days_ago(1), 2)
    build_top_failure_groups(engine, days_ago(10))
    assert flags(engine) == {"early": (1, 2, True, False)}
