"""error_category_breakdown: per source and category, and `*` for all sources together."""

from __future__ import annotations

import sqlalchemy as sa

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.db.schema import error_category_breakdown
from failtrack_pipeline.summaries.breakdown import build_error_category_breakdown
from failtrack_pipeline_tests.summaries.history import add_failures, at, days_ago

NETWORK, PARSING = ErrorCategory.NETWORK, ErrorCategory.PARSING


def test_occurrences_shares_groups_last_seen_and_next_step(engine: sa.Engine) -> None:
    add_failures(engine, "alpha", "timeout after <int>s", days_ago(3), 6, NETWORK)
    add_failures(engine, "alpha", "connection refused", days_ago(1), 2, NETWORK)
    add_failures(engine, "alpha", "bad JSON at <int>", days_ago(2), 2, PARSING)
    add_failures(engine, "beta", "timeout after <int>s", days_ago(5), 10, NETWORK)

    breakdown = build_error_category_breakdown(engine)
    assert (breakdown.rows, breakdown.total_failures) == (5, 20)
    with engine.connect() as connection:
        rows = {
            (row.source_id, row.error_category): tuple(row)[3:]
            for row in connection.execute(sa.select(error_category_breakdown))
            if row.stage == "scrape"  # failtrack's readers: every failure here
        }
    assert rows == {
        # occurrences, share of the source's failures, distinct groups, last seen, next step
        ("alpha", "network_error"): (8, 0.8, 2, at(days_ago(1)), NETWORK.next_step),
        ("alpha", "parsing_error"): (2, 0.2, 1, at(days_ago(2)), PARSING.next_step),
        ("beta", "network_error"): (10, 1.0, 1, at(days_ago(5)), NETWORK.next_step),
        ("*", "network_error"): (18, 0.9, 3, at(days_ago(1)), NETWORK.next_step),
        ("*", "parsing_error"): (2, 0.1, 1, at(days_ago(2)), PARSING.next_step),
    }


def test_no_failures_make_an_empty_breakdown(engine: sa.Engine) -> None:
    add_failures(engine, "alpha", "timeout", days_ago(1))
    build_error_category_breakdown(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM discovery_event_failures"))
    breakdown = build_error_category_breakdown(engine)
    assert (breakdown.rows, breakdown.total_failures) == (0, 0)
