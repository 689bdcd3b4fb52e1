"""The demo's own pipeline step, tracked with the public API: venues matched, then geocoded.

`venue_coordinates` reads the scraped `events`, matches each event's venue against the demo
venue list (rapidfuzz) and takes its coordinates from the match. Each event goes through two
stages, `match_venue` and `geocode`, recorded by `FailtrackTracker` as any user's step would
be: an unmatched venue is a `venue_error`, a venue without coordinates a `geocoding_error`.
"""

# No `from __future__ import annotations`: Dagster reads the context annotation.

import sqlalchemy as sa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    define_asset_job,
)

from failtrack_pipeline.db.schema import events
from failtrack_pipeline.defs.resources import FailtrackDatabase
from failtrack_pipeline.defs.tracker import (
    FailtrackTracker,
    failtrack_failure_hook,
    failtrack_run_failure_sensor,
)
from failtrack_pipeline.processing.venues import load_venues

VENUE_COORDINATES = AssetKey("venue_coordinates")
VENUE_JOB = "venue_coordinates_job"
MATCH_STAGE, GEOCODE_STAGE = "match_venue", "geocode"
_PREVIEW_ROWS = 25
_COLUMNS = ("source_id", "external_id", "venue", "latitude", "longitude")


@asset(key=VENUE_COORDINATES, group_name="failtrack_demo", kinds={"python"})
def venue_coordinates(
    context: AssetExecutionContext,
    failtrack_db: FailtrackDatabase,
    failtrack_tracker: FailtrackTracker,
) -> MaterializeResult:
    """The scraped events' venues matched against the venue list, with their coordinates;
    what could not be matched or geocoded is tracked per event, in its stage."""
    venues = load_venues()
    query = sa.select(
        events.c.source_id, events.c.external_id, events.c.venue_name, events.c.venue_address
    ).order_by(events.c.source_id, events.c.external_id)
    with failtrack_db.get_engine().connect() as connection:
        rows = connection.execute(query).all()
    resolved = []
    with failtrack_tracker.tracking(context) as tracker:
        for source_id, external_id, venue_name, address in rows:
            venue = None
            with tracker.event(source_id, external_id, stage=MATCH_STAGE):
                venue = venues.match(venue_name or address, external_id=external_id)
            if venue is None:
                continue
            with tracker.event(source_id, external_id, stage=GEOCODE_STAGE):
                latitude, longitude = venues.coordinates(venue, external_id=external_id)
                resolved.append((source_id, external_id, venue.name, latitude, longitude))
    schema = TableSchema(columns=[TableColumn(name, "text") for name in _COLUMNS])
    records = [
        TableRecord({name: str(value) for name, value in zip(_COLUMNS, row, strict=True)})
        for row in resolved[:_PREVIEW_ROWS]
    ]
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(resolved),
            "events": len(rows),
            "failures": len(tracker.failures),
            "preview": MetadataValue.table(records=records, schema=schema),
        }
    )


venue_coordinates_job = define_asset_job(
    VENUE_JOB,
    selection=[VENUE_COORDINATES],
    hooks={failtrack_failure_hook},
    description="Match the scraped events' venues and geocode them (the demo's tracked step).",
)


def build_venue_definitions(tracker: FailtrackTracker) -> Definitions:
    """The demo step, its job, the sensor for its failed runs and the tracker resource."""
    return Definitions(
        assets=[venue_coordinates],
        jobs=[venue_coordinates_job],
        sensors=[failtrack_run_failure_sensor([venue_coordinates_job])],
        resources={"failtrack_tracker": tracker},
    )
