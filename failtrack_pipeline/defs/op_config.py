"""The run config of the scrape and retry ops, on top of failtrack's policy models.

Every value a run's config may hold is checked as the op starts; a refused value raises
`RunConfigError`, whatever the field, so the failure hook and the sensor know the run
broke on its own config and record nothing against its source.
"""

from datetime import datetime

from dagster import Config
from pydantic import Field, ValidationError, field_validator, model_validator

from failtrack_pipeline.base.errors import RunConfigError
from failtrack_pipeline.config.policies import SilentFailurePolicy

_SILENT = SilentFailurePolicy.model_fields


class EventClock(Config):
    """The moment a run judges its events at: whether one has ended (a skip) or lies
    implausibly far in the past or future (a failure). Counts and tags keep real time."""

    as_of: str | None = Field(
        default=None,
        description="Judge events as of this ISO-8601 moment with a UTC offset, e.g. "
        "2026-11-25T06:00:00+00:00, instead of now: to re-judge an archived feed as on the "
        "day it was fetched, or to make a demo or a test give the same result on any day.",
    )

    @field_validator("as_of")
    @classmethod
    def _aware_moment(cls, as_of: str | None) -> str | None:
        if as_of is not None:
            moment_of(as_of)
        return as_of

    def moment(self) -> datetime | None:
        """`as_of` as an aware datetime; None for now."""
        return None if self.as_of is None else moment_of(self.as_of)


def moment_of(as_of: str) -> datetime:
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise RunConfigError(f"as_of: {as_of!r} is not an ISO-8601 date and time") from None
    if moment.utcoffset() is None:
        raise RunConfigError(f"as_of: {as_of!r} has no UTC offset; add one, e.g. +00:00")
    return moment


class ScrapeConfig(EventClock):
    """When a run counts as a silent failure (`SilentFailurePolicy`); a source's own
    `silent_failure_threshold` in the sources file takes precedence over the one here."""

    silent_failure_threshold: float = Field(
        default=_SILENT["threshold"].default, description=_SILENT["threshold"].description
    )
    baseline_runs: int = Field(
        default=_SILENT["baseline_runs"].default, description=_SILENT["baseline_runs"].description
    )
    min_history: int = Field(
        default=_SILENT["min_history"].default, description=_SILENT["min_history"].description
    )

    @model_validator(mode="after")
    def _consistent(self) -> "ScrapeConfig":
        self.policy(None)
        return self

    def policy(self, source_threshold: float | None) -> SilentFailurePolicy:
        threshold = self.silent_failure_threshold if source_threshold is None else source_threshold
        try:
            return SilentFailurePolicy(
                threshold=threshold,
                baseline_runs=self.baseline_runs,
                min_history=self.min_history,
            )
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "silent failure"
            raise RunConfigError(f"{field}: {first['msg']}") from None
