"""`triage_failure_group_job`: triage a failure group from the UI's launchpad.

```yaml
ops:
  triage_failure_group:
    config: {group_id: 12, action: resolve, by: ana, note: "fixed the date mapping", version: "1.4"}
```
The same as `failtrack groups resolve|ignore|reopen` on the command line.
"""

from datetime import UTC, datetime
from typing import Literal

from dagster import Config, Failure, JobDefinition, OpExecutionContext, job, op
from pydantic import Field

from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.tracking.triage import TriageChange, TriageError, TriageState, set_triage

_ACTIONS = {
    "resolve": TriageState.RESOLVED,
    "ignore": TriageState.IGNORED,
    "reopen": TriageState.OPEN,
}


class TriageConfig(Config):
    group_id: int = Field(description="The group's id (discovery_event_failures.id).")
    action: Literal["resolve", "ignore", "reopen"]
    by: str = Field(min_length=1, description="Who decides.")
    note: str | None = Field(default=None, description="Why.")
    version: str | None = Field(default=None, description="resolve: fixed in this version.")
    until: str | None = Field(
        default=None, description="ignore: until this ISO-8601 moment, e.g. 2027-01-31T00:00Z."
    )
    more_occurrences: int | None = Field(
        default=None, description="ignore: until this many more occurrences."
    )

    def change(self) -> TriageChange:
        until = None
        if self.until is not None:
            try:
                until = datetime.fromisoformat(self.until.replace("Z", "+00:00"))
            except ValueError:
                raise TriageError(f"until {self.until!r} is not an ISO-8601 moment") from None
            if until.tzinfo is None:
                until = until.replace(tzinfo=UTC)
        return TriageChange(
            _ACTIONS[self.action],
            by=self.by,
            note=self.note,
            version=self.version,
            until=until,
            more_occurrences=self.more_occurrences,
        )


@op(description="Set a failure group's triage state.")
def triage_failure_group(
    context: OpExecutionContext, config: TriageConfig, failtrack_db: FailtrackDatabase
) -> None:
    try:
        set_triage(failtrack_db.get_engine(), config.group_id, config.change(), datetime.now(UTC))
    except TriageError as error:
        raise Failure(description=str(error)) from None
    context.log.info(f"failure group {config.group_id}: {config.action} by {config.by}")


def build_triage_job() -> JobDefinition:
    @job(description="Resolve, ignore or reopen a failure group (see the README's Triage).")
    def triage_failure_group_job() -> None:
        triage_failure_group()

    return triage_failure_group_job
