"""`top_failure_groups`: the failure groups that matter most this week, new and regressed ones.

Built from the per-day counts (`discovery_event_failure_days`):
- the 20 groups with most occurrences in the 7 days ending on `as_of`;
- plus every group that is **new** (first seen on `as_of`) or **regressed** (seen on `as_of`,
  not in the 7 days before, and before that; or seen on `as_of` after it was resolved), so
  that no such group goes unflagged;
- each with its triage state (`tracking.triage`) as of the end of `as_of`.

Each row carries the group's `discovery_event_failures` id (what a retry takes), its count
on `as_of` ("24 h": the UTC day) and in the 7 days, and the last run that saw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import (
    discovery_event_failures,
    failure_group_triage,
    top_failure_groups,
)
from failtrack_pipeline.summaries.days import start_of_day, window_start
from failtrack_pipeline.summaries.sql import replace_all, sum_between, sum_where
from failtrack_pipeline.tracking.triage import effective_state

TOP_GROUPS = 20
QUIET_DAYS = 7


@dataclass(frozen=True)
class TopGroups:
    rows: int
    new_groups: int
    regressed_groups: int


def build_top_failure_groups(
    engine: sa.Engine, as_of: date, *, limit: int = TOP_GROUPS
) -> TopGroups:
    with engine.begin() as connection:
        rows = replace_all(connection, top_failure_groups, _top_groups(as_of, limit))
        table = top_failure_groups.c
        new, regressed = connection.execute(
            sa.select(sum_where(1, table.is_new), sum_where(1, table.is_regressed))
        ).one()
    return TopGroups(rows=rows, new_groups=new, regressed_groups=regressed)


def _top_groups(as_of: date, limit: int) -> sa.Select[Any]:
    days = days_table.c
    quiet_last = as_of - timedelta(days=1)
    quiet_first = window_start(quiet_last, QUIET_DAYS)
    # Only the last 8 days are read: "seen before the quiet week" is first_seen_at before it.
    activity = (
        sa.select(
            days.fingerprint,
            sum_between(days.occurrences, days.day, window_start(as_of, 7), as_of).label(
                "occurrences_7d"
            ),
            sum_between(days.occurrences, days.day, as_of, as_of).label("on_as_of"),
            sum_between(days.occurrences, days.day, quiet_first, quiet_last).label("quiet"),
        )
        .where(days.day.between(quiet_first, as_of))
        .group_by(days.fingerprint)
        .subquery("activity")
    )
    failures = discovery_event_failures.c
    is_new = failures.first_seen_at >= start_of_day(as_of)  # and active by as_of: on as_of
    end_of_as_of = start_of_day(as_of + timedelta(days=1))
    regressed_at = failure_group_triage.c.regressed_at
    is_regressed = sa.or_(
        sa.and_(
            activity.c.on_as_of > 0,
            activity.c.quiet == 0,
            failures.first_seen_at < start_of_day(quiet_first),
        ),
        sa.func.coalesce(regressed_at.between(start_of_day(as_of), end_of_as_of), False),
    )
    rank = sa.func.row_number().over(
        order_by=(
            activity.c.occurrences_7d.desc(),
            failures.last_seen_at.desc(),
            failures.fingerprint,
        )
    )
    ranked = (
        sa.select(
            failures.fingerprint,
            failures.id.label("failure_group_id"),
            rank.label("rank"),
            failures.source_id,
            failures.error_category,
            failures.error_message,
            failures.stage,
            activity.c.occurrences_7d,
            activity.c.on_as_of.label("occurrences_24h"),
            failures.occurrence_count.label("occurrences_total"),
            failures.sample_external_ids,
            failures.first_seen_at,
            failures.last_seen_at,
            failures.last_run_id,
            is_new.label("is_new"),
            is_regressed.label("is_regressed"),
            sa.literal(as_of, sa.Date()).label("as_of"),
            effective_state(end_of_as_of).label("triage_state"),
        )
        .join_from(
            activity, discovery_event_failures, failures.fingerprint == activity.c.fingerprint
        )
        .outerjoin(failure_group_triage, failure_group_triage.c.fingerprint == failures.fingerprint)
        .where(activity.c.occurrences_7d > 0)
        .subquery("ranked")
    )
    return sa.select(*ranked.c).where(
        sa.or_(ranked.c.rank <= limit, ranked.c.is_new, ranked.c.is_regressed)
    )
