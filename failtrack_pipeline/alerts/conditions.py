"""The conditions alerts watch, as one table (`CONDITIONS`): each row a name, what it is
about (a source, a failure group, the pipeline), the state that is normal, and a probe
that reads each subject's current state.

A notification is raised when a subject's state changes (`alerts.evaluate`), so a new
condition is a new row, not a new code path: a freshness state (`stale`) is one more value
of `source_success_rates.health`, already announced by `health_change`; a coverage drop
is one more `column_condition`, over `source_success_rates.coverage_state`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.config.alerts import ConditionSettings
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.db.schema import failure_group_triage as triage_table
from failtrack_pipeline.db.schema import source_success_rates
from failtrack_pipeline.tracking.outcome import RunStatus
from failtrack_pipeline.tracking.triage import TriageState, effective_state, with_triage


class Subject(StrEnum):
    SOURCE = "source"
    GROUP = "group"
    PIPELINE = "pipeline"


@dataclass(frozen=True)
class RunFact:
    """A finished scrape run as the alerts see it (from its `failtrack/*` tags)."""

    run_id: str
    source_id: str
    status: RunStatus
    ended_at: datetime


@dataclass(frozen=True)
class Observation:
    """What the evaluation knows besides the database: when it is, the latest runs of the
    sources it was told about (newest first), and how many spooled batches were set aside
    as unreadable (None: not looked at)."""

    now: datetime
    recent_runs: Mapping[str, Sequence[RunFact]] = field(default_factory=dict)
    dead_lettered: int | None = None


@dataclass(frozen=True)
class Verdict:
    """A subject's current state under one condition, and why."""

    state: str
    reason: str
    source_id: str | None = None
    group_id: int | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Params:
    threshold: int | None
    window_hours: int | None


Probe = Callable[[sa.Connection, Observation, Params], dict[str, Verdict]]


@dataclass(frozen=True)
class Condition:
    """One row of the table. A change into `ok` is a recovery, announced if `recovery`."""

    name: str
    subject: Subject
    ok: str
    probe: Probe
    recovery: bool
    threshold: int | None = None
    window_hours: int | None = None
    description: str = ""


def column_condition(
    name: str,
    column: sa.Column[Any],
    *,
    ok: str,
    not_judged: frozenset[str],
    reason: Callable[[sa.RowMapping], str],
    extra: Sequence[sa.Column[Any]] = (),
    description: str = "",
) -> Condition:
    """A per-source condition whose state is a column of a table keyed by `source_id`; a
    NULL or `not_judged` state is no verdict (nothing changes)."""
    table = column.table

    def probe(connection: sa.Connection, _: Observation, __: Params) -> dict[str, Verdict]:
        query = sa.select(table.c.source_id, column.label("state"), *extra)
        judged = column.is_not(None) & column.not_in(not_judged)
        rows = connection.execute(query.where(judged)).mappings()
        return {
            row["source_id"]: Verdict(row["state"], reason(row), source_id=row["source_id"])
            for row in rows
        }

    return Condition(name, Subject.SOURCE, ok, probe, recovery=True, description=description)


def _health_reason(row: sa.RowMapping) -> str:
    rate = row["success_rate_7d"]
    shown = "no events" if rate is None else f"{rate:.0%} of events succeeded"
    return f"last 7 days: {shown}, {row['failed_runs_7d']} of {row['runs_7d']} runs failed"


def _coverage_reason(row: sa.RowMapping) -> str:
    share = row["coverage_7d"]
    shown = "–" if share is None else f"{share:.0%}"
    state = "fine" if row["state"] == "ok" else row["state"].replace("_", " ")
    return f"worst field {row['coverage_field']}: {state}, filled in {shown} of 7 days' events"


def _consecutive_failures(
    _: sa.Connection, seen: Observation, params: Params
) -> dict[str, Verdict]:
    needed = params.threshold or 1
    verdicts = {}
    for source_id, runs in seen.recent_runs.items():
        if not runs:
            continue
        latest = runs[:needed]
        failing = len(latest) == needed and all(r.status is RunStatus.FAILED for r in latest)
        state, reason = (
            ("failing_runs", f"the last {needed} runs failed")
            if failing
            else ("ok", f"the latest run ended {runs[0].status.value}")
        )
        verdicts[source_id] = Verdict(state, reason, source_id=source_id, run_id=runs[0].run_id)
    return verdicts


def _silent_failure(_: sa.Connection, seen: Observation, __: Params) -> dict[str, Verdict]:
    verdicts = {}
    for source_id, runs in seen.recent_runs.items():
        if not runs:
            continue
        latest = runs[0]
        silent = latest.status is RunStatus.SILENT_FAILURE
        state, reason = (
            ("silent", "the latest run read far fewer records than the source usually has")
            if silent
            else ("ok", f"the latest run ended {latest.status.value}")
        )
        verdicts[source_id] = Verdict(state, reason, source_id=source_id, run_id=latest.run_id)
    return verdicts


def _alertable_groups(now: datetime, *columns: Any) -> sa.Select[Any]:
    """Failure groups that may raise an alert: every one but those ignored right now."""
    failures = failures_table.c
    return (
        sa.select(failures.id, failures.fingerprint, failures.source_id, *columns)
        .select_from(with_triage())
        .where(effective_state(now) != TriageState.IGNORED.value)
    )


def _group_verdicts(rows: Any, state: Callable[[Any], str], reason: Callable[[Any], str]) -> Any:
    return {
        row.fingerprint: Verdict(
            state(row),
            reason(row),
            source_id=row.source_id,
            group_id=row.id,
            run_id=row.last_run_id,
        )
        for row in rows
    }


def _new_groups(connection: sa.Connection, seen: Observation, params: Params) -> dict[str, Verdict]:
    since = seen.now - timedelta(hours=params.window_hours or 24)
    failures = failures_table.c
    query = _alertable_groups(seen.now, failures.first_seen_at, failures.last_run_id).where(
        failures.first_seen_at >= since
    )
    return _group_verdicts(
        connection.execute(query),
        lambda _: "new",
        lambda row: f"a new failure group, first seen {row.first_seen_at:%Y-%m-%d %H:%M} UTC",
    )


def _regressed_groups(
    connection: sa.Connection, seen: Observation, _: Params
) -> dict[str, Verdict]:
    triage = triage_table.c
    query = _alertable_groups(
        seen.now,
        triage.regressions,
        triage.regressed_at,
        triage.resolved_in_version,
        failures_table.c.last_run_id,
    ).where(triage.regressions > 0)

    def reason(row: Any) -> str:
        version = f" in version {row.resolved_in_version}" if row.resolved_in_version else ""
        return f"seen again {row.regressed_at:%Y-%m-%d %H:%M} UTC after it was resolved{version}"

    return _group_verdicts(
        connection.execute(query), lambda row: f"regressed #{row.regressions}", reason
    )


def _frequent_groups(
    connection: sa.Connection, seen: Observation, params: Params
) -> dict[str, Verdict]:
    threshold, hours = params.threshold or 1, params.window_hours or 24
    first_day: date = (seen.now - timedelta(hours=hours)).date()
    days = days_table.c
    recent = (
        sa.select(days.fingerprint, sa.func.sum(days.occurrences).label("recent"))
        .where(days.day >= first_day)
        .group_by(days.fingerprint)
        .subquery("recent")
    )
    query = _alertable_groups(seen.now, recent.c.recent, failures_table.c.last_run_id).join(
        recent, recent.c.fingerprint == failures_table.c.fingerprint
    )
    return _group_verdicts(
        connection.execute(query),
        lambda row: "frequent" if row.recent >= threshold else "ok",
        lambda row: f"{row.recent} occurrences since {first_day} (threshold {threshold})",
    )


def _dead_letters(_: sa.Connection, seen: Observation, __: Params) -> dict[str, Verdict]:
    count = seen.dead_lettered
    if count is None:
        return {}
    if count == 0:
        return {"spool": Verdict("ok", "no spooled batch is set aside")}
    reason = f"{count} spooled failure batches could not be read and wait in unreadable/"
    return {"spool": Verdict(f"{count} set aside", reason)}


CONDITIONS: Final[tuple[Condition, ...]] = (
    column_condition(
        "health_change",
        source_success_rates.c.health,
        ok="healthy",
        not_judged=frozenset({"no_data"}),
        reason=_health_reason,
        extra=(
            source_success_rates.c.success_rate_7d,
            source_success_rates.c.runs_7d,
            source_success_rates.c.failed_runs_7d,
        ),
        description="a source's health (source_success_rates.health) changes; and recovers",
    ),
    Condition(
        "consecutive_failures",
        Subject.SOURCE,
        "ok",
        _consecutive_failures,
        recovery=True,
        threshold=3,
        description="the last N runs of a source failed (threshold: N)",
    ),
    Condition(
        "silent_failure",
        Subject.SOURCE,
        "ok",
        _silent_failure,
        recovery=True,
        description="a source's latest run is a silent failure",
    ),
    column_condition(
        "coverage_drop",
        source_success_rates.c.coverage_state,
        ok="ok",
        not_judged=frozenset(),
        reason=_coverage_reason,
        extra=(source_success_rates.c.coverage_field, source_success_rates.c.coverage_7d),
        description="a source's field coverage is below its min_coverage or dropped "
        "(source_success_rates.coverage_state); and recovers",
    ),
    Condition(
        "new_group",
        Subject.GROUP,
        "none",
        _new_groups,
        recovery=False,
        window_hours=24,
        description="a failure group first seen in the last window_hours",
    ),
    Condition(
        "regressed_group",
        Subject.GROUP,
        "none",
        _regressed_groups,
        recovery=False,
        description="a resolved failure group is seen again",
    ),
    Condition(
        "group_occurrences",
        Subject.GROUP,
        "ok",
        _frequent_groups,
        recovery=False,
        threshold=100,
        window_hours=24,
        description="a group reaches threshold occurrences within window_hours (whole days)",
    ),
    Condition(
        "dead_letter",
        Subject.PIPELINE,
        "ok",
        _dead_letters,
        recovery=True,
        description="spooled failure batches were set aside as unreadable",
    ),
)


def configure(
    settings: Mapping[str, ConditionSettings],
    file: str,
    conditions: Sequence[Condition] = CONDITIONS,
) -> list[tuple[Condition, Params]]:
    """The enabled conditions with their parameters; an unknown name fails naming it."""
    known = {condition.name: condition for condition in conditions}
    for name in settings:
        if name not in known:
            problem = f"unknown condition (known: {', '.join(known)})"
            raise ConfigError(file, "alerts", f"conditions.{name}", problem)
    active = []
    for condition in conditions:
        setting = settings.get(condition.name, ConditionSettings())
        if setting.enabled:
            params = Params(
                threshold=setting.threshold or condition.threshold,
                window_hours=setting.window_hours or condition.window_hours,
            )
            active.append((condition, params))
    return active


def runs_needed(active: Sequence[tuple[Condition, Params]]) -> int:
    """How many recent runs per source the run-based conditions look at."""
    return max([params.threshold or 1 for _, params in active] + [1])
