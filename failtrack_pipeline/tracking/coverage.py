"""Field coverage: of a run's accepted events, how many had each optional field filled.

A scraper that still yields events but lost a field (the layout changed and every
venue_address is empty now) is a full success by every other measure. Accepted events are
counted a batch at a time, and stored once per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Final

import sqlalchemy as sa

from failtrack_pipeline.base.events import Event
from failtrack_pipeline.db.engine import dialect_insert
from failtrack_pipeline.db.schema import run_field_coverage

# The event attributes each watched field (base.events.COVERAGE_FIELDS) reads: it is filled
# when none of them is empty (None, "" or ()); a latitude of 0.0 is filled.
COVERED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "ends_at": ("ends_at",),
    "venue_name": ("venue_name",),
    "venue_address": ("venue_address",),
    "coordinates": ("latitude", "longitude"),
    "category": ("category",),
    "performers": ("performers",),
    "url": ("url",),
}
EMPTY_VALUES: Final = (None, "", ())
_GETTERS: Final = {
    name: [attrgetter(attribute) for attribute in attributes]
    for name, attributes in COVERED_FIELDS.items()
}


@dataclass
class FieldCoverage:
    """Accepted events and, per watched field, how many had it filled."""

    accepted: int = 0
    filled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COVERED_FIELDS, 0))

    def add(self, events: Sequence[Event]) -> None:
        """Count `events` as accepted. Counted a batch at a time, by C loops (map, sum): a
        Python test per field and event cost a scrape as much as its slowest rule."""
        self.accepted += len(events)
        is_empty = EMPTY_VALUES.__contains__
        for name, getters in _GETTERS.items():
            empties = [map(is_empty, map(get, events)) for get in getters]
            empty = empties[0] if len(empties) == 1 else map(max, *empties)
            self.filled[name] += len(events) - sum(empty)

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
