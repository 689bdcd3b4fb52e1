"""The scrape job's executor follows FAILTRACK_EXECUTOR; the Celery one matches the workers'."""

from __future__ import annotations

import pytest
import yaml

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.config.environment import EXECUTOR_ENV, executor_from_env
from failtrack_pipeline.config.sources_file import DEMO_SOURCES_FILE, load_sources
from failtrack_pipeline.definitions import build_definitions
from failtrack_pipeline.defs.executors import CELERY_CONFIG
from failtrack_pipeline.testing.celery import CELERY_YAML


@pytest.mark.parametrize(("value", "executor"), [(None, "in_process"), ("celery", "celery")])
def test_the_scrape_job_runs_on_the_executor_the_environment_names(
    value: str | None, executor: str
) -> None:
    environ = {} if value is None else {EXECUTOR_ENV: value}
    defs = build_definitions(load_sources(DEMO_SOURCES_FILE), environ)
    assert defs.resolve_job_def("scrape_sources_job").executor_def.name == executor
    # Only the scrape job moves: the others keep Dagster's default.
    assert defs.resolve_job_def("prune_history_job").executor_def.name != "celery"


def test_an_unknown_executor_fails_the_load_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=f"{EXECUTOR_ENV}='kubernetes'.*in_process, celery"):
        executor_from_env({EXECUTOR_ENV: "kubernetes"})


def test_the_celery_executor_has_the_settings_the_workers_start_with() -> None:
    """deploy/celery/celery.yaml configures the workers; the job must send to the same broker."""
    assert yaml.safe_load(CELERY_YAML.read_text())["execution"]["config"] == CELERY_CONFIG
