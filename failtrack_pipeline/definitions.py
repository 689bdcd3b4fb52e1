"""The one Definitions object: wiring only."""

from __future__ import annotations

import os

from dagster import Definitions

from failtrack_pipeline.defs.dashboard import build_summary_definitions
from failtrack_pipeline.defs.dead_letters import dead_letter_definitions
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.retention import (
    build_prune_job,
    build_prune_schedule,
    retention_from_env,
)
from failtrack_pipeline.defs.retry import build_retry_job
from failtrack_pipeline.defs.scrape import (
    build_run_failure_sensor,
    build_scrape_job,
    build_scrape_schedule,
)
from failtrack_pipeline.defs.spool import replay_failure_spool_sensor
from failtrack_pipeline.sources.registry import SourcesFile, default_sources_path, load_sources


def build_definitions(sources: SourcesFile) -> Definitions:
    failtrack_sources = FailtrackSources(path=str(sources.path))
    failtrack_sources.rules()  # a bad rule fails the load, not the first run
    scrape_sources_job = build_scrape_job(sources)
    retry_events_job = build_retry_job()
    prune_history_job = build_prune_job([scrape_sources_job.name, retry_events_job.name])
    scraping = Definitions(
        jobs=[scrape_sources_job, retry_events_job, prune_history_job],
        schedules=[
            build_scrape_schedule(scrape_sources_job, sources),
            build_prune_schedule(prune_history_job),
        ],
        sensors=[
            build_run_failure_sensor([scrape_sources_job, retry_events_job]),
            replay_failure_spool_sensor,
        ],
        resources={
            "failtrack_db": FailtrackDatabase(),
            "failtrack_sources": failtrack_sources,
            "retention": retention_from_env(dict(os.environ)),
        },
    )
    return Definitions.merge(
        scraping,
        build_summary_definitions(sources.ids(), scrape_sources_job.name),
        dead_letter_definitions,
    )


defs = build_definitions(load_sources(default_sources_path()))
