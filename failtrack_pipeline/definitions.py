"""The one Definitions object: wiring only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dagster import Definitions, EnvVar

from failtrack_pipeline.alerts.setup import load_alerting
from failtrack_pipeline.config.environment import (
    ALERTS_FILE_ENV,
    DATABASE_URL_ENV,
    RETENTION_DAYS_ENV,
    RULES_FILE_ENV,
    SOURCES_FILE_ENV,
    SPOOL_DIR_ENV,
    configured,
    executor_from_env,
    retention_from_env,
)
from failtrack_pipeline.config.sources_file import SourcesFile, default_sources_path, load_sources
from failtrack_pipeline.db.engine import normalize_url
from failtrack_pipeline.defs.alerts_sensor import FailtrackAlerts, build_alert_sensors
from failtrack_pipeline.defs.coverage_assets import build_coverage_definitions
from failtrack_pipeline.defs.dashboard import build_summary_definitions
from failtrack_pipeline.defs.dead_letters import build_dead_letter_definitions
from failtrack_pipeline.defs.executors import scrape_executor
from failtrack_pipeline.defs.prune_job import build_prune_job, build_prune_schedule
from failtrack_pipeline.defs.resources import (
    FailtrackDatabase,
    FailtrackSources,
    Retention,
    from_env,
)
from failtrack_pipeline.defs.retry_job import build_retry_job
from failtrack_pipeline.defs.run_failure_sensor import (
    build_run_canceled_sensor,
    build_run_failure_sensor,
)
from failtrack_pipeline.defs.scrape_job import build_scrape_job, build_scrape_schedule
from failtrack_pipeline.defs.spool_sensor import replay_failure_spool_sensor
from failtrack_pipeline.defs.tracker import FailtrackTracker
from failtrack_pipeline.defs.triage_job import build_triage_job
from failtrack_pipeline.defs.venue_assets import build_venue_definitions


def build_definitions(
    sources: SourcesFile, environ: Mapping[str, str] | None = None
) -> Definitions:
    """Everything failtrack runs; values from `environ` (default: the process's) are checked
    here, at load, and passed on as `EnvVar`s so the UI shows where they come from."""
    environ = os.environ if environ is None else environ
    retention = retention_from_env(environ)
    database_url = configured(environ, DATABASE_URL_ENV)
    if database_url:
        normalize_url(database_url)
    failtrack_sources = FailtrackSources(
        path=_sources_path(sources, environ),
        rules_file=from_env(environ, RULES_FILE_ENV),
    )
    # A bad rule fails the load, not the first run (resolved: EnvVars hold only a name here).
    failtrack_sources.process_config_and_initialize().rules()
    # Likewise a bad alerts section, or a secret's environment variable that is not set.
    load_alerting(sources, configured(environ, ALERTS_FILE_ENV))
    scrape_sources_job = build_scrape_job(sources, scrape_executor(executor_from_env(environ)))
    retry_events_job = build_retry_job()
    prune_history_job = build_prune_job([scrape_sources_job.name, retry_events_job.name])
    scraping = Definitions(
        jobs=[scrape_sources_job, retry_events_job, prune_history_job, build_triage_job()],
        schedules=[
            build_scrape_schedule(scrape_sources_job, sources),
            build_prune_schedule(prune_history_job),
        ],
        sensors=[
            build_run_failure_sensor([scrape_sources_job, retry_events_job]),
            build_run_canceled_sensor([scrape_sources_job, retry_events_job]),
            replay_failure_spool_sensor,
            *build_alert_sensors(),
        ],
        resources={
            "failtrack_db": FailtrackDatabase(
                url=from_env(environ, DATABASE_URL_ENV),
                spool_dir=from_env(environ, SPOOL_DIR_ENV),
            ),
            "failtrack_sources": failtrack_sources,
            "failtrack_alerts": FailtrackAlerts(alerts_file=from_env(environ, ALERTS_FILE_ENV)),
            "retention": Retention(
                days=EnvVar.int(RETENTION_DAYS_ENV)
                if configured(environ, RETENTION_DAYS_ENV)
                else retention.days
            ),
        },
    )
    tracker = FailtrackTracker(
        url=from_env(environ, DATABASE_URL_ENV),
        spool_dir=from_env(environ, SPOOL_DIR_ENV),
        rules_file=from_env(environ, RULES_FILE_ENV),
    )
    return Definitions.merge(
        scraping,
        build_venue_definitions(tracker),
        build_summary_definitions(sources.ids(), scrape_sources_job.name, sources.expected_every()),
        build_dead_letter_definitions(),
        build_coverage_definitions(),
    )


def _sources_path(sources: SourcesFile, environ: Mapping[str, str]) -> str:
    """`EnvVar(FAILTRACK_SOURCES_FILE)` when that is the file loaded, else its path."""
    named = configured(environ, SOURCES_FILE_ENV)
    if named and Path(named).resolve() == sources.path.resolve():
        return EnvVar(SOURCES_FILE_ENV)
    return str(sources.path)


defs = build_definitions(load_sources(default_sources_path()))
