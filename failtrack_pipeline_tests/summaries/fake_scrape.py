"""A stand-in for `scrape_sources_job`: tags its run the way the scrape op does, instantly.

It carries the real job's name, so the dashboard harvests its runs like real scrape runs.
"""

# No `from __future__ import annotations`: Dagster reads the op's config annotation.

from dagster import Config, DagsterInstance, OpExecutionContext, job, op


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


def scrape(
    instance: DagsterInstance,
    source: str,
    status: str = "",
    succeeded: int = 0,
    failed: int = 0,
    *,
    fail: bool = False,
    skipped: dict[str, int] | None = None,
) -> str:
    """One finished run for `source`; returns its run id. `skipped`: events per skip reason."""
    tags = {}
    if status:
        skipped = skipped or {}
        tags = {
            "failtrack/status": status,
            "failtrack/events_processed": str(succeeded + failed + sum(skipped.values())),
            "failtrack/events_succeeded": str(succeeded),
            "failtrack/events_failed": str(failed),
            "failtrack/events_skipped": str(sum(skipped.values())),
        }
        if skipped:
            tags["failtrack/skip_reasons"] = ",".join(f"{k}={n}" for k, n in skipped.items())
    config = {"source": source, "tags": tags, "fail": fail}
    result = fake_scrape_job.execute_in_process(
        instance=instance,
        run_config={"ops": {"fake_scrape": {"config": config}}},
        raise_on_error=False,
    )
    return result.run_id
