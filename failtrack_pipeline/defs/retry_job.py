"""Retrying failed events: re-process chosen events of one source, by id or by failure group.

A retry is a scrape limited to those events: same processing, same recording, same tags,
plus `failtrack/external_id` (one event) or `failtrack/failure_group` (a group's samples).
Events that now succeed leave the samples of the groups they were examples of.
"""

from datetime import UTC, datetime

from dagster import Failure, JobDefinition, OpExecutionContext, job, op
from pydantic import Field

from failtrack_pipeline.defs.failure_hook import record_scrape_failure
from failtrack_pipeline.defs.op_config import EventClock
from failtrack_pipeline.defs.resources import FailtrackDatabase, FailtrackSources
from failtrack_pipeline.defs.run_tags import Tag, bounded_tag_value, iso_utc
from failtrack_pipeline.defs.tagged_scrape import run_tagged
from failtrack_pipeline.source_scrape import SourceScrape
from failtrack_pipeline.tracking.outcome import RunStatus
from failtrack_pipeline.tracking.store import forget_fixed_samples, group_samples

FAILURE_GROUP_TAG = "failtrack/failure_group"
RETRY_JOB = "retry_events_job"


class RetryConfig(EventClock):
    """Which events to retry: `external_ids` of `source_id`, or a failure group's samples."""

    source_id: str = Field(description="The source whose events to retry.")
    external_ids: list[str] = Field(default=[], description="Event ids to retry.")
    failure_group_id: int | None = Field(
        default=None, description="Retry the sample events of this discovery_event_failures row."
    )


def refused_config_tags(reason: str | None) -> dict[str, str]:
    """A retry whose config was refused: failed, with the reason, and no source tag."""
    return {
        Tag.STATUS.value: RunStatus.FAILED.value,
        Tag.PROCESSED_AT.value: iso_utc(datetime.now(UTC)),
        Tag.ERROR_MESSAGE.value: bounded_tag_value(reason or "bad retry config"),
    }


def retry_targets(
    config: RetryConfig, sources: FailtrackSources, db: FailtrackDatabase
) -> list[str]:
    """The events to retry; raises a Dagster Failure naming what is wrong before any work."""
    known = sources.load().ids()
    if config.source_id not in known:
        raise Failure(f"unknown source '{config.source_id}' (known: {', '.join(known)})")
    if bool(config.external_ids) == (config.failure_group_id is not None):
        raise Failure("give either external_ids or failure_group_id, not both and not neither")
    if config.failure_group_id is None:
        return list(dict.fromkeys(i.strip() for i in config.external_ids if i.strip()))
    group = group_samples(db.get_engine(), config.failure_group_id)
    if group is None:
        raise Failure(f"no failure group with id {config.failure_group_id}")
    source_id, samples = group
    if source_id != config.source_id:
        raise Failure(
            f"failure group {config.failure_group_id} belongs to source '{source_id}', "
            f"not '{config.source_id}'"
        )
    if not samples:
        raise Failure(f"failure group {config.failure_group_id} has no sample events left")
    return samples


@op(description="Re-process chosen events of one source and record their outcome.")
def retry_events(
    context: OpExecutionContext,
    config: RetryConfig,
    failtrack_sources: FailtrackSources,
    failtrack_db: FailtrackDatabase,
) -> None:
    try:
        targets = retry_targets(config, failtrack_sources, failtrack_db)
    except Failure as refused:
        # Filterable in the Runs list like any failed run, but against no source: the
        # source did nothing wrong, so no count or table holds this run.
        context.instance.add_run_tags(context.run_id, refused_config_tags(refused.description))
        raise
    tags = {Tag.SOURCE.value: config.source_id}
    if config.failure_group_id is not None:
        tags[FAILURE_GROUP_TAG] = str(config.failure_group_id)
    elif len(targets) == 1:
        tags[Tag.EXTERNAL_ID.value] = targets[0]
    context.instance.add_run_tags(context.run_id, tags)

    engine = failtrack_db.get_engine()
    scrape = SourceScrape(
        failtrack_sources.load().get(config.source_id),
        engine,
        run_id=context.run_id,
        now=config.moment(),
        rules=failtrack_sources.rules(),
        only=targets,
        recorder=failtrack_db.recorder(context.instance),
        attempt=context.retry_number,
    )
    outcome = run_tagged(context, scrape, failtrack_db)
    groups_updated = forget_fixed_samples(engine, config.source_id, scrape.succeeded_ids)
    missing = sorted(set(targets) - scrape.seen_ids)
    if missing:
        context.log.warning(f"not in the feed any more: {', '.join(missing[:20])}")
    context.add_output_metadata(
        {
            "requested": len(targets),
            "succeeded": outcome.succeeded,
            "still_failing": outcome.failed,
            "not_in_feed": len(missing),
            "groups_updated": groups_updated,
        }
    )


def build_retry_job() -> JobDefinition:
    @job(
        name=RETRY_JOB,
        hooks={record_scrape_failure},
        description="Retry chosen events of one source: by external_ids or a failure group.",
    )
    def retry_events_job() -> None:
        retry_events()

    return retry_events_job
