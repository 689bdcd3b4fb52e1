"""The validated event: what a raw record becomes once every rule has passed."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Event:
    """One event of one source, keyed by (source_id, external_id); times are aware UTC."""

    source_id: str
    external_id: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    venue_name: str | None
    venue_address: str | None
    latitude: float | None
    longitude: float | None
    category: str | None
    performers: tuple[str, ...]
    url: str | None

    def as_row(self) -> dict[str, Any]:
        """The `events` table's columns (performers as a JSON list)."""
        row = {field.name: getattr(self, field.name) for field in fields(self)}
        row["performers"] = list(self.performers)
        return row


# Read from a record but not stored: `status` marks a cancelled event (a skip), `timezone`
# is the zone of the record's naive times, `duration` gives ends_at when no end is mapped,
# and an `online` event needs no venue.
READ_ONLY_FIELDS: Final[tuple[str, ...]] = ("status", "timezone", "duration", "online")
# The names a feed's mapping may target: a raw record is keyed by these.
EVENT_FIELDS: Final[tuple[str, ...]] = (
    *(field.name for field in fields(Event) if field.name != "source_id"),
    *READ_ONLY_FIELDS,
)
# Every source needs these; a source's `required` (DEFAULT_REQUIRED unless set) adds to them.
# `venue_name` is met by a venue name or address, and by an online event.
ALWAYS_REQUIRED: Final[tuple[str, ...]] = ("external_id", "starts_at")
DEFAULT_REQUIRED: Final[tuple[str, ...]] = ("title", "starts_at", "venue_name")

# Our category vocabulary: a source's `category_map` translates its own words into these.
KNOWN_CATEGORIES: Final[frozenset[str]] = frozenset(
    {
        "music",
        "theatre",
        "comedy",
        "film",
        "arts",
        "sports",
        "food",
        "family",
        "community",
        "tech",
        "festival",
        "other",
    }
)

# The optional fields whose coverage (share of accepted events with it filled) is watched;
# `coordinates` is latitude and longitude together.
COVERAGE_FIELDS: Final[tuple[str, ...]] = (
    "ends_at",
    "venue_name",
    "venue_address",
    "coordinates",
    "category",
    "performers",
    "url",
)
