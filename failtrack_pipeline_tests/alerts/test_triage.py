"""Triage of failure groups: resolve, ignore (until a date or N more occurrences), reopen;
a resolved group seen again is open and regressed; the CLI, the launchpad job and the group
list show the state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from failtrack_pipeline.cli import main
from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.db.schema import failure_group_triage, top_failure_groups
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.triage_job import build_triage_job
from failtrack_pipeline.summaries.groups import build_top_failure_groups
from failtrack_pipeline.tracking.triage import (
    TriageChange,
    TriageError,
    TriageState,
    list_groups,
    set_triage,
)
from failtrack_pipeline_tests.alerts.scenario import fail, group_id

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def state_of(engine: sa.Engine, gid: int, now: datetime) -> TriageState:
    (group,) = [g for g in list_groups(engine, now) if g.id == gid]
    return group.state


def test_a_resolved_group_seen_again_is_open_and_counts_a_regression(engine: sa.Engine) -> None:
    gid = group_id(engine, fail(engine, "city", "Invalid date <value>", 3, T0, "r1"))
    assert state_of(engine, gid, T0) is TriageState.OPEN  # no row: open
    resolve = TriageChange(TriageState.RESOLVED, by="ana", note="fixed", version="1.4")
    set_triage(engine, gid, resolve, T0 + timedelta(hours=1))
    # A late replay of a failure from before the fix is no regression.
    fail(engine, "city", "Invalid date <value>", 1, T0 + timedelta(minutes=30), "late")
    assert state_of(engine, gid, T0 + timedelta(hours=2)) is TriageState.RESOLVED
    fail(engine, "city", "Invalid date <value>", 1, T0 + timedelta(days=1), "r2")
    (group,) = list_groups(engine, T0 + timedelta(days=1))
    assert (group.state, group.regressions, group.changed_by) == (TriageState.OPEN, 1, "failtrack")
    assert group.resolved_in_version == "1.4" and group.occurrence_count == 5
    build_top_failure_groups(engine, (T0 + timedelta(days=1)).date())
    with engine.connect() as connection:
        flagged = connection.execute(sa.select(top_failure_groups.c.is_regressed)).scalar_one()
    assert flagged  # after one quiet day only: regressed because it had been resolved


def test_an_ignore_ends_at_its_date_or_after_n_more_occurrences(engine: sa.Engine) -> None:
    by_date = group_id(engine, fail(engine, "city", "Missing venue", 2, T0, "r1"))
    by_count = group_id(engine, fail(engine, "city", "No title", 2, T0, "r1"))
    until = TriageChange(TriageState.IGNORED, by="ana", until=T0 + timedelta(days=7))
    set_triage(engine, by_date, until, T0)
    set_triage(
        engine, by_count, TriageChange(TriageState.IGNORED, by="ana", more_occurrences=3), T0
    )
    fail(engine, "city", "Missing venue", 50, T0 + timedelta(days=1), "r2")
    fail(engine, "city", "No title", 2, T0 + timedelta(days=1), "r2")
    later = T0 + timedelta(days=1, hours=1)
    assert state_of(engine, by_date, later) is TriageState.IGNORED  # still counted though
    assert state_of(engine, by_count, later) is TriageState.IGNORED
    ignored = list_groups(engine, later, state=TriageState.IGNORED)
    assert {g.id for g in ignored} == {by_date, by_count}
    fail(engine, "city", "No title", 1, T0 + timedelta(days=2), "r3")  # the third more
    assert state_of(engine, by_count, T0 + timedelta(days=2)) is TriageState.OPEN
    assert state_of(engine, by_date, T0 + timedelta(days=7)) is TriageState.OPEN


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (TriageChange(TriageState.OPEN, by="ana", version="1.2"), "version goes with resolve"),
        (TriageChange(TriageState.RESOLVED, by="ana", more_occurrences=3), "go with ignore"),
        (TriageChange(TriageState.IGNORED, by="ana", until=T0), "not in the future"),
        (TriageChange(TriageState.IGNORED, by="ana", more_occurrences=0), "at least 1"),
        (TriageChange(TriageState.RESOLVED, by=" "), "who decides"),
    ],
)
def test_a_triage_that_makes_no_sense_is_refused_naming_why(
    engine: sa.Engine, change: TriageChange, problem: str
) -> None:
    gid = group_id(engine, fail(engine, "city", "Missing venue", 1, T0, "r1"))
    with pytest.raises(TriageError, match=problem):
        set_triage(engine, gid, change, T0)
    with pytest.raises(TriageError, match="no failure group 999"):
        set_triage(engine, 999, TriageChange(TriageState.RESOLVED, by="ana"), T0)


def test_the_group_list_shows_the_state_and_ignored_groups_raise_no_warning(
    engine: sa.Engine,
) -> None:
    new = fail(engine, "city", "Missing venue", 4, T0, "r1")
    ignored = fail(engine, "city", "No title", 9, T0, "r1")
    set_triage(engine, group_id(engine, ignored), TriageChange(TriageState.IGNORED, by="a"), T0)
    counts = build_top_failure_groups(engine, T0.date())
    assert counts.new_groups == 2  # still counted
    table = top_failure_groups.c
    with engine.connect() as connection:
        states = dict(connection.execute(sa.select(table.fingerprint, table.triage_state)).all())
    assert states == {new: "open", ignored: "ignored"}


def test_the_cli_lists_resolves_ignores_and_reopens_groups(
    db_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, db_url)
    gid = group_id(engine, fail(engine, "city", "Missing venue", 4, T0, "r1"))
    assert main(["groups", "resolve", str(gid), "--note", "mapped the venue", "--by", "ana"]) == 0
    assert main(["groups", "list", "--state", "resolved"]) == 0
    listed = capsys.readouterr().out
    assert f"failure group {gid}: resolved (by ana)" in listed
    assert "Missing venue" in listed and "resolved" in listed.splitlines()[-1]
    assert main(["groups", "ignore", str(gid), "--until", "2999-01-01", "--by", "ana"]) == 0
    assert main(["groups", "reopen", str(gid), "--by", "bo", "--note", "back"]) == 0
    with engine.connect() as connection:
        row = connection.execute(sa.select(failure_group_triage)).one()
    assert (row.state, row.changed_by, row.note, row.ignored_until) == ("open", "bo", "back", None)
    assert main(["groups", "resolve", "999", "--by", "ana"]) == 2
    assert "no failure group 999" in capsys.readouterr().err


def test_the_launchpad_job_resolves_a_group_and_refuses_a_bad_request(
    db_url: str, engine: sa.Engine
) -> None:
    gid = group_id(engine, fail(engine, "city", "Missing venue", 4, T0, "r1"))
    job = build_triage_job()
    resources = {"failtrack_db": FailtrackDatabase(url=db_url)}
    config = {"group_id": gid, "action": "resolve", "by": "ana", "version": "2.0"}
    with DagsterInstance.ephemeral() as instance:
        ok = job.execute_in_process(
            run_config={"ops": {"triage_failure_group": {"config": config}}},
            resources=resources,
            instance=instance,
        )
        assert ok.success
        bad = config | {"action": "reopen"}
        refused = job.execute_in_process(
            run_config={"ops": {"triage_failure_group": {"config": bad}}},
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.is_step_failure]
    assert "a version goes with resolve only" in str(failure.step_failure_data.error)
    (group,) = list_groups(engine, T0)
    assert (group.state, group.resolved_in_version) == (TriageState.RESOLVED, "2.0")
