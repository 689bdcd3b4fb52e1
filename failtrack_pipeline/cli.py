"""`failtrack demo` runs the main job end to end; `failtrack migrate` prepares the storage;
`failtrack dead-letters` lists (and `--retry` retries) the batches the database refused;
`failtrack groups` lists and triages failure groups."""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from failtrack_pipeline.config.environment import (
    DATABASE_URL_ENV,
    SOURCES_FILE_ENV,
    SPOOL_DIR_ENV,
    configured,
)
from failtrack_pipeline.config.sources_file import DEMO_SOURCES_FILE
from failtrack_pipeline.db.engine import create_db_engine, database_url_from_env, redacted
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.defs.run_tags import Tag, tagged_counts
from failtrack_pipeline.sources.demo import DEMO_AS_OF
from failtrack_pipeline.tracking.triage import (
    TriageChange,
    TriageError,
    TriageState,
    list_groups,
    set_triage,
)

# The project folder (pyproject.toml with its [tool.dg] table) `dg dev` serves.
PROJECT = Path(__file__).resolve().parents[1]

if TYPE_CHECKING:
    from dagster import DagsterInstance, Definitions


# The story is in the tags and tables; the failing demo sources are expected.
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# The demo's archived feeds are judged as of the day they were captured; a user's own
# sources file is judged as of now.
_DEMO_SCRAPE = _QUIET | {"ops": {"scrape_source": {"config": {"as_of": DEMO_AS_OF}}}}
# Earlier scrapes the demo replays first, so that a source has a baseline to fall short of.
DEMO_HISTORY_FILE = Path(__file__).parent / "sources" / "demo" / "history.yaml"
HISTORY_RUNS = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="failtrack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo",
        help="scrape every enabled source once and show the results (the demo sources also "
        "get 30 days of history)",
    )
    commands.add_parser(
        "migrate", help="bring failtrack's tables and Dagster's storage to the newest schema"
    )
    dead_letters = commands.add_parser(
        "dead-letters", help="list the failure batches the database refused for their content"
    )
    dead_letters.add_argument(
        "--retry", action="store_true", help="after the fix: record them (again refused: kept)"
    )
    _add_groups_parser(commands)
    args = parser.parse_args(argv)
    try:
        if args.command == "groups":
            return _groups(args)
        home = _dagster_home()
        if args.command == "migrate":
            url = database_url_from_env()
            revision = migrate(create_db_engine(url))
            print(f"failtrack schema at revision {revision} in {redacted(url)}")
            _migrate_dagster_storage()
            print(f"Dagster storage at the newest schema (DAGSTER_HOME={home})")
            return 0
        if args.command == "dead-letters":
            return _dead_letters(retry=args.retry)
        return _demo(home)
    except (RuntimeError, ValueError) as error:
        print(f"failtrack: {error}", file=sys.stderr)
        return 2
    except sa.exc.OperationalError as error:  # unreachable, refused, bad credentials
        reason = str(error.orig).strip().split("\n", 1)[0]
        print(f"failtrack: cannot use the database: {reason}", file=sys.stderr)
        return 2


def _add_groups_parser(commands: argparse._SubParsersAction) -> None:
    groups = commands.add_parser("groups", help="list and triage failure groups")
    actions = groups.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="failure groups, most recently seen first")
    listing.add_argument("--source", help="only this source's groups")
    listing.add_argument("--state", choices=[state.value for state in TriageState])
    listing.add_argument("--limit", type=int, default=50)
    for action, help_text in _TRIAGE_ACTIONS.items():
        command = actions.add_parser(action, help=help_text)
        command.add_argument("group_id", type=int, help="the id `failtrack groups list` shows")
        command.add_argument("--note", help="why")
        command.add_argument("--by", default=getpass.getuser(), help="who (default: you)")
        if action == "resolve":
            command.add_argument("--version", help="fixed in this version")
        if action == "ignore":
            command.add_argument("--until", type=_moment, help="ISO-8601 date or moment (UTC)")
            command.add_argument("--more", type=int, help="until N more occurrences")


_TRIAGE_ACTIONS = {
    "resolve": "mark a group fixed: seen again, it is open again (a regression)",
    "ignore": "no alerts for a group: for good, until a date or for N more occurrences",
    "reopen": "set a group back to open",
}
_STATES = {"resolve": TriageState.RESOLVED, "ignore": TriageState.IGNORED}


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _groups(args: argparse.Namespace) -> int:
    engine = create_db_engine(database_url_from_env())
    migrate(engine)
    now = datetime.now(UTC)
    if args.action == "list":
        state = TriageState(args.state) if args.state else None
        groups = list_groups(engine, now, source_id=args.source, state=state, limit=args.limit)
        rows = [
            {
                "id": group.id,
                "source": group.source_id,
                "category": group.error_category,
                "count": group.occurrence_count,
                "last seen": f"{group.last_seen_at:%Y-%m-%d %H:%M}",
                "state": group.state.value,
                "by": group.changed_by or "",
                "message": group.error_message[:60],
            }
            for group in groups
        ]
        print(pd.DataFrame(rows).to_string(index=False) if rows else "no failure groups")
        return 0
    change = TriageChange(
        _STATES.get(args.action, TriageState.OPEN),
        by=args.by,
        note=args.note,
        version=getattr(args, "version", None),
        until=getattr(args, "until", None),
        more_occurrences=getattr(args, "more", None),
    )
    try:
        set_triage(engine, args.group_id, change, now)
    except TriageError as error:
        print(f"failtrack: {error}", file=sys.stderr)
        return 2
    print(f"failure group {args.group_id}: {change.state.value} (by {change.by})")
    return 0


def _dagster_home() -> Path:
    """DAGSTER_HOME, or the current folder when it holds the project's dagster.yaml."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        if not Path("dagster.yaml").is_file():
            raise RuntimeError("set DAGSTER_HOME, or run from the folder holding dagster.yaml")
        home = os.environ["DAGSTER_HOME"] = str(Path.cwd())
    return Path(home).resolve()


def _instance() -> DagsterInstance:
    """The Dagster instance of DAGSTER_HOME, which must be a folder."""
    from dagster import DagsterInstance

    home = _dagster_home()
    if not home.is_dir():
        raise RuntimeError(f"DAGSTER_HOME={home} is no folder: create it, or point it at one")
    return DagsterInstance.get()


def _migrate_dagster_storage() -> None:
    """Create or upgrade Dagster's own storage (runs, event log, schedules) once, here.

    On a fresh DAGSTER_HOME, each Dagster process creates the SQLite storage it opens
    first; several starting at once (a daemon, a webserver, runs) can break Dagster's own
    migration ("more than one head"). Done beforehand, they find it ready.
    """
    with _instance() as instance:
        instance.upgrade()


def _dead_letters(*, retry: bool) -> int:
    """List the dead letters; with `retry`, move them back into the spool and replay it."""
    from failtrack_pipeline.defs.resources import FailtrackDatabase

    with _instance() as instance:
        database = FailtrackDatabase(spool_dir=configured(os.environ, SPOOL_DIR_ENV))
        spool = database.spool(instance)
        if retry:
            moved = spool.retry_dead_letters()
            result = database.recorder(instance).replay()
            print(
                f"Retried {moved} dead letters: {result.recorded} batches recorded, "
                f"{result.already_recorded} counted before, {result.dead_lettered} refused "
                f"again, {result.pending} waiting for the database"
            )
        letters = spool.dead_letters()
    print(f"{len(letters)} dead letters in {spool.dead_letter_directory}")
    for letter in letters:
        print(
            f"  {letter.refused_at}  run {letter.run_id} ({letter.batch}): {letter.failures} "
            f"failures of {', '.join(letter.source_ids)}: {letter.reason}"
        )
    return 1 if letters else 0


def _demo(home: Path) -> int:
    from failtrack_pipeline.config.sources_file import default_sources_path, load_sources
    from failtrack_pipeline.definitions import build_definitions

    _migrate_dagster_storage()  # before `dg dev` starts its processes together
    migrate(create_db_engine(database_url_from_env()))
    instance = _instance()
    sources = load_sources(default_sources_path())
    defs = build_definitions(sources)
    job = defs.get_job_def("scrape_sources_job")
    is_demo = sources.path.resolve() == DEMO_SOURCES_FILE.resolve()
    if is_demo:
        replayed = replay_history(instance, sources.ids())
        if replayed:
            print(
                f"Replayed {HISTORY_RUNS} earlier scrapes of {', '.join(replayed)} (history.yaml)"
            )
    rows = []
    for source in sources.enabled():
        result = job.execute_in_process(
            partition_key=source.id,
            instance=instance,
            raise_on_error=False,
            run_config=_DEMO_SCRAPE if is_demo else _QUIET,
        )
        run = instance.get_run_by_id(result.run_id)
        tags = run.tags if run else {}
        counts = tagged_counts(tags)
        rows.append(
            {
                "source": source.id,
                "status": tags.get(Tag.STATUS.value, "?"),
                "processed": counts.processed,
                "succeeded": counts.succeeded,
                "failed": counts.failed,
                "skipped": counts.skipped,
                "top error": tags.get(Tag.ERROR_CATEGORY.value, ""),
            }
        )
    print("\nScrape runs (their failtrack/* tags):")
    print(pd.DataFrame(rows).to_string(index=False))
    if is_demo:
        _match_venues(instance, defs)
    url = database_url_from_env()
    engine = create_db_engine(url)
    if is_demo:
        days = _seed_history(instance, defs, engine, sources.ids())
        print(f"\nSeeded {len(days)} days of history before today ({days[0]} to {days[-1]})")
    dashboard = _refresh_dashboard(instance, defs, engine)
    print(
        f"\nResults\n"
        f"  Dagster runs and tags:   {home} (DAGSTER_HOME)\n"
        f"  failtrack tables:        {redacted(url)}\n"
        f"                           (events, discovery_event_failures, scrape_runs,\n"
        f"                           source_daily_stats, source_daily_skips,\n"
        f"                           source_success_rates, error_category_breakdown,\n"
        f"                           top_failure_groups, stage_success_rates)\n"
        f"\nOpen the UI (Ctrl-C stops it)\n"
        f"  {ui_command(home)}\n"
        f"  then browse http://127.0.0.1:3000/assets/source_success_rates (the dashboard)\n"
        f"  and http://127.0.0.1:3000/runs filtered by tag, e.g. failtrack/status=failed\n"
        f"  or failtrack/status=silent_failure"
    )
    return 0 if dashboard else 1


def _match_venues(instance: DagsterInstance, defs: Definitions) -> None:
    """The demo's tracked step over the scraped events: a second and third stage."""
    from failtrack_pipeline.defs.venue_assets import VENUE_JOB

    result = defs.resolve_job_def(VENUE_JOB).execute_in_process(
        instance=instance, raise_on_error=False, run_config=_QUIET
    )
    (materialization, *_) = result.asset_materializations_for_node("venue_coordinates") or [None]
    if materialization is None:
        print(f"\nfailtrack: the venue run {result.run_id} failed", file=sys.stderr)
        return
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    print(
        f"\nVenues matched and geocoded ({VENUE_JOB}, stages match_venue and geocode): "
        f"{metadata['dagster/row_count']} of {metadata['events']} events, "
        f"{metadata['failures']} failures tracked"
    )


def ui_command(home: Path) -> str:
    """The shell command that serves what this demo wrote (the same Dagster home, sources
    file and database) from any folder: Dagster's `dg dev` on this project. A database URL
    holding a password is left to the shell's environment: it is never printed."""
    env = {"DAGSTER_HOME": str(home)}
    env |= {
        name: os.environ[name]
        for name in (SOURCES_FILE_ENV, DATABASE_URL_ENV)
        if name in os.environ and not _holds_password(os.environ[name])
    }
    dg = Path(sys.executable).parent / "dg"
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    return f"{assignments} {shlex.quote(str(dg))} dev --target-path {shlex.quote(str(PROJECT))}"


def _holds_password(value: str) -> bool:
    try:
        return sa.make_url(value).password is not None
    except (sa.exc.ArgumentError, ValueError):
        return False


def _seed_history(
    instance: DagsterInstance, defs: Definitions, engine: sa.Engine, source_ids: list[str]
) -> list[date]:
    from failtrack_pipeline.defs.history import report_past_day
    from failtrack_pipeline.summaries.days import utc_today
    from failtrack_pipeline.summaries.demo_history import seed_history

    thresholds = (defs.resources or {})["health_thresholds"].thresholds()

    def report(day: date) -> None:
        report_past_day(instance, engine, source_ids, day, thresholds)

    return seed_history(engine, source_ids, utc_today(), report)


def replay_history(instance: DagsterInstance, source_ids: list[str]) -> list[str]:
    """Scrape the history file's sources that `source_ids` has, HISTORY_RUNS times each,
    from their archived feeds; returns their ids. They are ordinary runs of the scrape job:
    the baseline each source's next scrape is judged against for a silent failure."""
    from failtrack_pipeline.config.sources_file import load_sources
    from failtrack_pipeline.definitions import build_definitions

    history = load_sources(DEMO_HISTORY_FILE)
    replayed = [source.id for source in history.enabled() if source.id in source_ids]
    job = build_definitions(history).get_job_def("scrape_sources_job")
    for _ in range(HISTORY_RUNS):
        for source_id in replayed:
            job.execute_in_process(
                partition_key=source_id, instance=instance, run_config=_DEMO_SCRAPE
            )
    return replayed


def _refresh_dashboard(instance: DagsterInstance, defs: Definitions, engine: sa.Engine) -> bool:
    """Materialize today's summary tables and checks, then print the sources overview."""
    from failtrack_pipeline.defs.dashboard import DASHBOARD_JOB
    from failtrack_pipeline.summaries.days import utc_today
    from failtrack_pipeline.summaries.present import formatted, sources_overview

    result = defs.resolve_job_def(DASHBOARD_JOB).execute_in_process(
        instance=instance,
        partition_key=utc_today().isoformat(),
        raise_on_error=False,
        run_config=_QUIET,
    )
    if not result.success:
        print(f"\nfailtrack: the dashboard run {result.run_id} failed", file=sys.stderr)
        return False
    overview = formatted(sources_overview(engine))
    columns = ("source_id", "health", "health_reason", "failing_since", "top_error_message")
    print(f"\nSources overview (table source_success_rates, as of {utc_today()}):")
    print(pd.DataFrame(overview, columns=columns).to_string(index=False))
    warnings = [
        f"{check.check_name}: {check.severity.value.lower()}"
        for check in result.get_asset_check_evaluations()
        if not check.passed
    ]
    print("\nChecks not passing: " + (", ".join(warnings) if warnings else "none"))
    return True


if __name__ == "__main__":
    raise SystemExit(main())
