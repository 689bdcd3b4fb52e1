"""Stand-ins for `scrape_sources_job` and `retry_events_job`: they tag their runs the way
the real ops do, instantly.

They carry the real jobs' names, so the dashboard harvests their runs like real ones.
"""

# No `from __future__ import annotations`: Dagster reads the op's config annotation.

from dagster import Config, DagsterInstance, OpExecutionContext, job, op

from failtrack_pipeline.defs.retry_job import RETRY_JOB
from failtrack_pipeline.defs.run_tags import RunCounts
from failtrack_pipeline.processing.skips import SkipCause
from failtrack_pipeline.tracking.outcome import RunStatus


class FakeScrape(Config):
    source: str
    tags: dict[str, str] = {}
    fail: bool = False


@op
def fake_scrape(context: OpExecutionContext, config: FakeScrape) -> None:
    """A failing run gets only its source tag, like a run whose feed could not be read."""
    context.instance.add_run_tags(
        context.run_id, {"failtrack/source": config.source, **config.tags}
    )
    if config.fail:
        raise RuntimeError("feed unreachable")


@job(name="scrape_sources_job")
def fake_scrape_job() -> None:
    fake_scrape()


@job(name=RETRY_JOB)
def fake_retry_job() -> None:
    fake_scrape()


def scrape(
    instance: DagsterInstance,
    source: str,
    status: str = "",
    succeeded: int = 0,
    failed: int = 0,
    *,
    fail: bool = False,
    skipped: dict[str, int] | None = None,
    error: str = "",
    retry: bool = False,
) -> str:
    """One finished run for `source`; returns its run id. `skipped`: events per skip reason;
    `error`: its `failtrack/error_message`; `retry`: a run of the retry job."""
    tags = {}
    if status:
        reasons = {SkipCause(reason): n for reason, n in (skipped or {}).items()}
        counts = RunCounts(succeeded, failed, reasons)
        tags = {
            "failtrack/status": status,
            "failtrack/counts": counts.tag_value(RunStatus(status)),
        }
    if error:
        tags["failtrack/error_message"] = error
    config = {"source": source, "tags": tags, "fail": fail}
    result = (fake_retry_job if retry else fake_scrape_job).execute_in_process(
        instance=instance,
        run_config={"ops": {"fake_scrape": {"config": config}}},
        raise_on_error=False,
    )
    return result.run_id
