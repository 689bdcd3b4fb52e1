"""The sensor that replays spooled failures once failtrack's database answers again.

Recording replays the spool too, after each batch that reaches the database; this sensor
covers the quiet hours when no run records anything.
"""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from failtrack_pipeline.defs.resources import FailtrackDatabase


@sensor(minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def replay_failure_spool_sensor(
    context: SensorEvaluationContext, failtrack_db: FailtrackDatabase
) -> SkipReason:
    """Record the failure batches that waited in the spool while the database was down."""
    result = failtrack_db.recorder(context.instance).replay()
    if result.unreadable:
        context.log.error(f"{result.unreadable} unreadable spool files set aside")
    if result.dead_lettered:
        context.log.error(f"{result.dead_lettered} batches refused by the database: dead letters")
    return SkipReason(
        f"replayed {result.recorded} batches ({result.already_recorded} counted before), "
        f"{result.pending} still waiting, {result.unreadable} set aside, "
        f"{result.dead_lettered} dead-lettered"
    )
