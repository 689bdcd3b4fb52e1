"""Dead letters in the Dagster UI: failure batches the database refused for their content.

They wait in `dead_letters/` in the spool folder (see tracking/spool.py) until the cause is
fixed and they are retried with `failtrack dead-letters --retry`. The check
`no_dead_lettered_failures` on `discovery_event_failures` fails (ERROR) while any waits,
listing each with its reason; `dead_letter_sensor` runs it whenever the dead letters change,
so the UI turns red without anyone asking.
"""

import hashlib

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetSelection,
    DefaultSensorStatus,
    Definitions,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    TableColumn,
    TableRecord,
    TableSchema,
    asset_check,
    define_asset_job,
    sensor,
)

from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.summary_assets import FAILURES
from failtrack_pipeline.tracking.spool import DeadLetter

RETRY_COMMAND = "failtrack dead-letters --retry"
_COLUMNS = ("refused_at", "run_id", "batch", "failures", "sources", "reason", "file")
_SCHEMA = TableSchema(
    columns=[
        TableColumn(name, "int" if name == "failures" else "string", description=description)
        for name, description in zip(
            _COLUMNS,
            (
                "when the database refused the batch (UTC)",
                "the Dagster run whose failures these are",
                "the batch within the run",
                "failures in the batch, none of them counted",
                "source ids in the batch",
                "what the database said",
                "the file that holds the batch",
            ),
            strict=True,
        )
    ]
)


@asset_check(
    asset=FAILURES,
    blocking=False,
    description="Fails while failure batches the database refused for their content wait "
    f"as dead letters, uncounted; fix the cause, then `{RETRY_COMMAND}`.",
)
def no_dead_lettered_failures(
    context: AssetCheckExecutionContext, failtrack_db: FailtrackDatabase
) -> AssetCheckResult:
    spool = failtrack_db.spool(context.instance)
    letters = spool.dead_letters()
    return AssetCheckResult(
        passed=not letters,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "dead_letters": len(letters),
            "uncounted_failures": sum(letter.failures for letter in letters),
            "folder": MetadataValue.path(str(spool.dead_letter_directory)),
            "retry": RETRY_COMMAND,
            "batches": MetadataValue.table([_record(letter) for letter in letters], _SCHEMA),
        },
    )


def _record(letter: DeadLetter) -> TableRecord:
    return TableRecord(
        {
            "refused_at": letter.refused_at,
            "run_id": letter.run_id,
            "batch": letter.batch,
            "failures": letter.failures,
            "sources": ", ".join(letter.source_ids),
            "reason": letter.reason,
            "file": letter.path.name,
        }
    )


dead_letters_check_job = define_asset_job(
    "dead_letters_check_job",
    selection=AssetSelection.checks(no_dead_lettered_failures),
    description="Run the dead-letter check (its sensor does, whenever the dead letters change).",
)


@sensor(
    job=dead_letters_check_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
)
def dead_letter_sensor(
    context: SensorEvaluationContext, failtrack_db: FailtrackDatabase
) -> RunRequest | SkipReason:
    """Run the check when a dead letter arrives or goes, so its result is always current."""
    letters = failtrack_db.spool(context.instance).dead_letters()
    names = "\n".join(sorted(letter.path.name for letter in letters))
    state = hashlib.sha256(names.encode()).hexdigest() if letters else ""
    if state == (context.cursor or ""):
        return SkipReason(f"{len(letters)} dead letters, unchanged")
    context.update_cursor(state)
    return RunRequest()


def build_dead_letter_definitions() -> Definitions:
    """A function, not a module-level object: Dagster loads a module holding one Definitions."""
    return Definitions(
        asset_checks=[no_dead_lettered_failures],
        jobs=[dead_letters_check_job],
        sensors=[dead_letter_sensor],
    )
