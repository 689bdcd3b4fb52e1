"""Where the scrape job's steps run, chosen by `FAILTRACK_EXECUTOR`.

In process by default: a scrape run is one op, and a step process of its own would only
double its start-up cost. `celery` sends each step to a pool of `dagster-celery` workers
(the optional `failtrack[celery]` install), over the broker and result backend the
environment names: the same settings the workers start with (deploy/celery/celery.yaml).
"""

from __future__ import annotations

from typing import Any, Final

from dagster import ExecutorDefinition, in_process_executor

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.config.environment import EXECUTOR_ENV

CELERY_BROKER_URL_ENV: Final = "DAGSTER_CELERY_BROKER_URL"
CELERY_BACKEND_URL_ENV: Final = "DAGSTER_CELERY_BACKEND_URL"
CELERY_CONFIG: Final[dict[str, Any]] = {
    # The URLs may hold credentials: they come from the environment, not from here.
    "broker": {"env": CELERY_BROKER_URL_ENV},
    "backend": {"env": CELERY_BACKEND_URL_ENV},
    "config_source": {
        # One task at a time per worker process: a scrape step is long, prefetching only
        # parks work behind it; a task is acknowledged once done, so a lost worker's step
        # goes back to the queue.
        "worker_prefetch_multiplier": 1,
        "task_acks_late": True,
    },
}


def scrape_executor(name: str) -> ExecutorDefinition:
    """The executor named by `FAILTRACK_EXECUTOR` (see `executor_from_env`)."""
    if name == "in_process":
        return in_process_executor
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise ConfigError(
            f"{EXECUTOR_ENV}={name!r}",
            None,
            None,
            "needs dagster-celery: pip install failtrack[celery]",
        ) from None
    return celery_executor.configured(CELERY_CONFIG, name="celery")
