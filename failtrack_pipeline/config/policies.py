"""The policies failtrack judges by, each declared once with its defaults and limits.

The Dagster layer (op config, resources) and the sources file reuse these models, so a
default or a bound is never stated twice. Invalid values raise pydantic's
`ValidationError` (a `ValueError`), naming the field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A century: longer is surely a typo, and a cut-off that far back overflows dates.
MAX_RETENTION_DAYS: Final = 36_500


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SilentFailurePolicy(_Policy):
    """A yield under `threshold` x the median of the last `baseline_runs` runs is silent.

    A source needs `min_history` earlier runs before it can be flagged, so a new source
    never is; a threshold of 0 turns the rule off.
    """

    threshold: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Flag a run reading under this share of the median of the source's "
        "recent runs (0 turns it off).",
    )
    baseline_runs: int = Field(default=14, ge=1, description="Recent runs the median is of.")
    min_history: int = Field(
        default=3, ge=1, description="Earlier runs a source needs before it can be flagged."
    )

    @model_validator(mode="after")
    def _enough_runs(self) -> SilentFailurePolicy:
        if self.min_history > self.baseline_runs:
            raise ValueError(
                "silent-failure history needs min_history <= baseline_runs, got "
                f"min_history={self.min_history!r}, baseline_runs={self.baseline_runs!r}"
            )
        return self


class HealthThresholds(_Policy):
    """A source is healthy at or above `healthy`, degraded at or above `degraded`, else failing."""

    healthy: float = Field(default=0.95, description="Success rate (0..1) counted as healthy.")
    degraded: float = Field(
        default=0.80, description="Success rate (0..1) counted as degraded; below it: failing."
    )

    @model_validator(mode="after")
    def _ordered(self) -> HealthThresholds:
        if not 0 < self.degraded <= self.healthy <= 1:
            raise ValueError(
                "health thresholds need 0 < degraded <= healthy <= 1, "
                f"got degraded={self.degraded!r}, healthy={self.healthy!r}"
            )
        return self

    def describe(self) -> str:
        """The thresholds as the checks and the dashboard show them."""
        return f"healthy >= {self.healthy:.0%}, degraded >= {self.degraded:.0%}"


class RetentionPolicy(_Policy):
    """How long failure groups and scrape runs are kept, and how many rows a delete takes."""

    days: int = Field(
        default=90,
        gt=0,
        le=MAX_RETENTION_DAYS,
        strict=True,
        description="Keep failure groups and runs seen within this many days.",
    )
    batch_size: int = Field(
        default=1_000, gt=0, strict=True, description="Rows per delete transaction."
    )

    def cutoff(self, now: datetime) -> datetime:
        """Anything last seen before this moment is expired."""
        return now - timedelta(days=self.days)
