"""A failure group's triage: open, resolved (optionally in a version) or ignored, and by whom.

A group with no row is open. Resolving says "fixed": a resolved group seen again after it
was resolved is open again and counts a regression (`reopen_resolved`, called by the
store as it records). Ignoring lasts until a moment, or until N more occurrences (like
Sentry's archive-until-escalating), or for good; an ignored group is still counted, but
raises no alert. The effective state (`effective_state`) is worked out when read, so an
ignore that is over needs no job to end it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa

from failtrack_pipeline.db.engine import dialect_insert
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.db.schema import failure_group_triage as triage_table

REGRESSION_ACTOR: Final = "failtrack"
REGRESSION_NOTE: Final = "seen again after it was resolved"


class TriageState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class TriageError(ValueError):
    """A triage request that cannot be applied: an unknown group or options that clash."""


@dataclass(frozen=True)
class TriageChange:
    """What someone decides about a group; `version` only when resolving, `until` and
    `more_occurrences` only when ignoring."""

    state: TriageState
    by: str
    note: str | None = None
    version: str | None = None
    until: datetime | None = None
    more_occurrences: int | None = None

    def check(self, now: datetime) -> None:
        if not self.by.strip():
            raise TriageError("say who decides (by)")
        if self.version is not None and self.state is not TriageState.RESOLVED:
            raise TriageError("a version goes with resolve only")
        ignoring = self.until is not None or self.more_occurrences is not None
        if ignoring and self.state is not TriageState.IGNORED:
            raise TriageError("until and more_occurrences go with ignore only")
        if self.until is not None and self.until <= now:
            raise TriageError(f"ignore until {self.until.isoformat()}: that is not in the future")
        if self.more_occurrences is not None and self.more_occurrences < 1:
            raise TriageError("more_occurrences must be at least 1")


@dataclass(frozen=True)
class GroupTriage:
    """A failure group as the group list shows it."""

    id: int
    fingerprint: str
    source_id: str
    error_category: str
    error_message: str
    occurrence_count: int
    last_seen_at: datetime
    state: TriageState
    changed_by: str | None
    changed_at: datetime | None
    note: str | None
    resolved_in_version: str | None
    regressions: int


def effective_state(now: datetime) -> sa.ColumnElement[str]:
    """The triage state of a row of `discovery_event_failures` outer-joined to the triage
    table: an ignore whose date or occurrence count is reached reads `open`."""
    triage, failures = triage_table.c, failures_table.c
    still_ignored = sa.and_(
        triage.state == TriageState.IGNORED.value,
        sa.or_(triage.ignored_until.is_(None), triage.ignored_until > now),
        sa.or_(
            triage.ignored_until_occurrences.is_(None),
            failures.occurrence_count < triage.ignored_until_occurrences,
        ),
    )
    return sa.case(
        (still_ignored, TriageState.IGNORED.value),
        (triage.state == TriageState.RESOLVED.value, TriageState.RESOLVED.value),
        else_=TriageState.OPEN.value,
    )


def with_triage() -> sa.Join:
    """`discovery_event_failures` left-joined to its triage rows."""
    return failures_table.outerjoin(
        triage_table, triage_table.c.fingerprint == failures_table.c.fingerprint
    )


def set_triage(engine: sa.Engine, group_id: int, change: TriageChange, now: datetime) -> None:
    """Apply `change` to the group with id `group_id` (a `discovery_event_failures` row)."""
    change.check(now)
    with engine.begin() as connection:
        group = connection.execute(
            sa.select(failures_table.c.fingerprint, failures_table.c.occurrence_count).where(
                failures_table.c.id == group_id
            )
        ).first()
        if group is None:
            raise TriageError(f"no failure group {group_id} (see `failtrack groups list`)")
        more = change.more_occurrences
        values: dict[str, Any] = {
            "state": change.state.value,
            "resolved_in_version": change.version,
            "ignored_until": change.until,
            "ignored_until_occurrences": None if more is None else group.occurrence_count + more,
            "changed_by": change.by.strip(),
            "changed_at": now,
            "note": change.note,
        }
        insert = dialect_insert(connection, triage_table)
        connection.execute(
            insert.values(fingerprint=group.fingerprint, **values).on_conflict_do_update(
                index_elements=[triage_table.c.fingerprint], set_=values
            )
        )


def list_groups(
    engine: sa.Engine,
    now: datetime,
    *,
    source_id: str | None = None,
    state: TriageState | None = None,
    limit: int = 50,
) -> list[GroupTriage]:
    """Failure groups, most recently seen first, with their effective triage state."""
    failures, triage = failures_table.c, triage_table.c
    current = effective_state(now).label("state")
    query = (
        sa.select(
            failures.id,
            failures.fingerprint,
            failures.source_id,
            failures.error_category,
            failures.error_message,
            failures.occurrence_count,
            failures.last_seen_at,
            current,
            triage.changed_by,
            triage.changed_at,
            triage.note,
            triage.resolved_in_version,
            sa.func.coalesce(triage.regressions, 0).label("regressions"),
        )
        .select_from(with_triage())
        .order_by(failures.last_seen_at.desc(), failures.id)
        .limit(limit)
    )
    if source_id is not None:
        query = query.where(failures.source_id == source_id)
    if state is not None:
        query = query.where(effective_state(now) == state.value)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [GroupTriage(**{**row, "state": TriageState(row["state"])}) for row in rows]


def with_resolved(
    rows: sa.FromClause, fingerprint: sa.ColumnElement[str]
) -> tuple[sa.Join, sa.ColumnElement[bool]]:
    """`rows` (just recorded, keyed by `fingerprint`) left-joined to the triage of their
    groups, and whether each group is resolved: the ones `reopen_resolved` may reopen."""
    triage = triage_table.c
    resolved = sa.and_(
        triage.fingerprint == fingerprint, triage.state == TriageState.RESOLVED.value
    )
    return rows.outerjoin(triage_table, resolved), triage.fingerprint.is_not(None)


def reopen_resolved(connection: sa.Connection, seen: Sequence[tuple[str, datetime]]) -> None:
    """Groups resolved before the moment they were seen again are open again, one more
    regression each (`seen`: (fingerprint, last seen) pairs of what was just recorded
    and `with_resolved` found resolved, in the order to lock them).

    A failure recorded late (a spool replay) from before the resolution is no regression.
    """
    if not seen:
        return
    triage = triage_table.c
    connection.execute(
        sa.update(triage_table)
        .where(
            triage.fingerprint == sa.bindparam("seen_fingerprint"),
            triage.state == TriageState.RESOLVED.value,
            triage.changed_at < sa.bindparam("seen_at"),
        )
        .values(
            state=TriageState.OPEN.value,
            regressions=triage.regressions + 1,
            regressed_at=sa.bindparam("seen_at"),
            changed_at=sa.bindparam("seen_at"),
            changed_by=REGRESSION_ACTOR,
            note=REGRESSION_NOTE,
        ),
        [{"seen_fingerprint": fingerprint, "seen_at": at} for fingerprint, at in seen],
    )
