"""Running one scrape inside an op, its outcome written to the run's tags however it ends."""

from datetime import UTC, datetime

from dagster import OpExecutionContext, RetryRequested

from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.run_failures import TERMINATED, record_run_failure
from failtrack_pipeline.defs.run_tags import outcome_tags
from failtrack_pipeline.source_scrape import SourceScrape
from failtrack_pipeline.tracking.outcome import RunOutcome, RunStatus
from failtrack_pipeline.tracking.retries import retry_delay


def run_tagged(
    context: OpExecutionContext, scrape: SourceScrape, database: FailtrackDatabase
) -> RunOutcome:
    """Run `scrape` and put its outcome in the run's tags.

    A network or rate-limit failure is tried again in the run (Dagster's RetryRequested,
    after `retry_delay`) up to the source's `max_retries`; each attempt follows the
    counting rule and the run's tags describe its last attempt. Otherwise, if it raises,
    the counts so far (all of them recorded: the scrape flushes on the way out) still
    reach the run, marked failed; the failure hook then adds the reason. A run
    terminated from the UI gets no hook: Dagster interrupts the op with a BaseException,
    so the termination is recorded here, as a killed worker's is by the sensor.
    """
    try:
        outcome = scrape.run()
    except BaseException as error:
        max_retries = scrape.source.max_retries
        delay = retry_delay(error, attempt=context.retry_number, max_retries=max_retries)
        if delay is not None:  # its tags would describe an attempt that is not the last
            context.log.warning(
                f"{scrape.source.id}: {error}; trying again in {delay:.1f} s "
                f"(retry {context.retry_number + 1} of {max_retries})"
            )
            raise RetryRequested(max_retries=max_retries, seconds_to_wait=delay) from error
        tags = outcome_tags(scrape.outcome, processed_at=datetime.now(UTC), status=RunStatus.FAILED)
        context.instance.add_run_tags(context.run_id, tags)
        if not isinstance(error, Exception):
            record_run_failure(
                context.instance, context.dagster_run, TERMINATED, database, scrape.rules
            )
        raise
    context.instance.add_run_tags(
        context.run_id, outcome_tags(outcome, processed_at=datetime.now(UTC))
    )
    return outcome
