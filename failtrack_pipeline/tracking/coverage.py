"""Field coverage: of a run's accepted events, how many had each optional field filled.

A scraper that still yields events but lost a field (the layout changed and every
venue_address is empty now) is a full success by every other measure. Counting is done
as events are accepted, a few attribute checks each, and stored once per run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa

from failtrack_pipeline.base.events import Event
from failtrack_pipeline.db.engine import dialect_insert
from failtrack_pipeline.db.schema import run_field_coverage

# What counts as filled, for each of the watched fields (base.events.COVERAGE_FIELDS).
COVERED_FIELDS: Final[dict[str, Callable[[Event], bool]]] = {
    "ends_at": lambda event: event.ends_at is not None,
    "venue_name": lambda event: bool(event.venue_name),
    "venue_address": lambda event: bool(event.venue_address),
    "coordinates": lambda event: event.latitude is not None and event.longitude is not None,
    "category": lambda event: bool(event.category),
    "performers": lambda event: bool(event.performers),
    "url": lambda event: bool(event.url),
}


@dataclass
class FieldCoverage:
    """Accepted events and, per watched field, how many had it filled."""

    accepted: int = 0
    filled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COVERED_FIELDS, 0))

    def add(self, event: Event) -> None:
        self.accepted += 1
        for name, is_filled in COVERED_FIELDS.items():
            if is_filled(event):
                self.filled[name] += 1

    def share(self, name: str) -> float | None:
        """The filled share of `name`; None when the run accepted nothing."""
        return self.filled[name] / self.accepted if self.accepted else None


def record_coverage(
    engine: sa.Engine, coverage: FieldCoverage, *, run_id: str, source_id: str, ended_at: datetime
) -> None:
    """Store the run's coverage, one row per field; a later attempt of the run replaces it."""
    rows = [
        {
            "run_id": run_id,
            "field": name,
            "source_id": source_id,
            "day": ended_at.astimezone(UTC).date(),
            "accepted": coverage.accepted,
            "filled": filled,
        }
        for name, filled in coverage.filled.items()
    ]
    with engine.begin() as connection:
        insert = dialect_insert(connection, run_field_coverage)
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=[run_field_coverage.c.run_id, run_field_coverage.c.field],
                set_={
                    name: insert.excluded[name]
                    for name in ("source_id", "day", "accepted", "filled")
                },
            ),
            rows,
        )
