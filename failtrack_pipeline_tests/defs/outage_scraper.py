"""A python source for the outage test: something happens to the database half way through."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from failtrack_pipeline.config.sources_file import SourceConfig

RECORDS = 2_500
HALFWAY = 1_500

# The test sets this to stop the database; by default nothing happens.
at_halfway: Callable[[], None] = lambda: None  # noqa: E731


def fetch_events(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """2,500 events, every tenth with an impossible date."""
    for index in range(RECORDS):
        if index == HALFWAY:
            at_halfway()
        month = 13 if index % 10 == 0 else 1 + index % 12
        yield {
            "external_id": f"out-{index}",
            "title": f"Show {index}",
            "starts_at": f"2027-{month:02d}-15T20:00:00",
            "venue_name": "Outage Hall",
        }
