"""Venue resolution: an event's venue name matched against a venue list, for its coordinates.

Names are matched fuzzily (rapidfuzz's WRatio on lower-cased, punctuation-free text, so
`Riverside Theatre – Main Stage` finds `Riverside Theatre`); a name matching no venue at
`min_score` or more is a `venue_error`, a matched venue without coordinates a
`geocoding_error`. Each message names the venue as `name=value`, which the normalizer turns
into `<value>`: one group per source and problem, its samples the events. The demo's
`venue_coordinates` asset tracks both as their own stages.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz, process, utils

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import ConfigError, EventError

DEMO_VENUES_FILE = Path(__file__).parents[1] / "sources" / "demo" / "venues.yaml"
MIN_SCORE = 88.0


class Venue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class _VenuesDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venues: list[Venue]


class VenueList:
    """Venues by name, matched fuzzily."""

    def __init__(self, venues: list[Venue], min_score: float = MIN_SCORE) -> None:
        self.venues = venues
        self.min_score = min_score
        self._names = [venue.name for venue in venues]

    def match(self, venue_name: str | None, *, external_id: str | None = None) -> Venue:
        """The best match for `venue_name`, or a `venue_error` naming the name."""
        if not venue_name or not venue_name.strip():
            raise EventError("venue missing", category=ErrorCategory.VENUE, external_id=external_id)
        best = process.extractOne(
            venue_name,
            self._names,
            scorer=fuzz.WRatio,
            processor=utils.default_process,
            score_cutoff=self.min_score,
        )
        if best is None:
            raise EventError(
                f"venue_name={venue_name!r} is in no venue list",
                category=ErrorCategory.VENUE,
                external_id=external_id,
            )
        return self.venues[best[2]]

    @staticmethod
    def coordinates(venue: Venue, *, external_id: str | None = None) -> tuple[float, float]:
        """The venue's coordinates, or a `geocoding_error` naming the venue."""
        if venue.latitude is None or venue.longitude is None:
            raise EventError(
                f"venue={venue.name!r} has no coordinates",
                category=ErrorCategory.GEOCODING,
                external_id=external_id,
            )
        return venue.latitude, venue.longitude


def load_venues(path: Path = DEMO_VENUES_FILE) -> VenueList:
    """The venue list in `path`; a `ConfigError` naming the file, the venue and the field."""
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(str(path), None, None, f"cannot read the venue list: {error}") from None
    try:
        return VenueList(_VenuesDocument.model_validate(document).venues)
    except ValidationError as error:
        problem = error.errors()[0]
        loc = [str(part) for part in problem["loc"]]
        where = f"venue #{int(loc[1]) + 1}" if len(loc) > 1 and loc[1].isdigit() else None
        field = loc[-1] if len(loc) > 2 else (loc[0] if loc else None)
        raise ConfigError(str(path), where, field, problem["msg"]) from None
