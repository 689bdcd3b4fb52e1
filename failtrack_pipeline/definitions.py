"""The one Definitions object: wiring only."""

from __future__ import annotations

from dagster import Definitions

from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.scrape import (
    build_run_failure_sensor,
    build_scrape_job,
    build_scrape_schedule,
)
from failtrack_pipeline.sources.registry import SourcesFile, default_sources_path, load_sources


def build_definitions(sources: SourcesFile) -> Definitions:
    scrape_sources_job = build_scrape_job(sources)
    return Definitions(
        jobs=[scrape_sources_job],
        schedules=[build_scrape_schedule(scrape_sources_job, sources)],
        sensors=[build_run_failure_sensor(scrape_sources_job)],
        resources={
            "failtrack_db": FailtrackDatabase(),
            "failtrack_sources": FailtrackSources(path=str(sources.path)),
        },
    )


defs = build_definitions(load_sources(default_sources_path()))
