"""Running one scrape inside an op, its outcome written to the run's tags however it ends."""

from datetime import UTC, datetime

from dagster import OpExecutionContext

from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.run_failures import TERMINATED, record_run_failure
from failtrack_pipeline.defs.run_tags import outcome_tags
from failtrack_pipeline.source_scrape import SourceScrape
from failtrack_pipeline.tracking.outcome import RunOutcome, RunStatus


def run_tagged(
    context: OpExecutionContext, scrape: SourceScrape, database: FailtrackDatabase
) -> RunOutcome:
    """Run `scrape` and put its outcome in the run's tags.

    If it raises, the counts so far (all of them recorded: the scrape flushes on the way
    out) still reach the run, marked failed; the failure hook then adds the reason. A run
    terminated from the UI gets no hook: Dagster interrupts the op with a BaseException,
    so the termination is recorded here, as a killed worker's is by the sensor.
    """
    try:
        outcome = scrape.run()
    except BaseException as error:
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
