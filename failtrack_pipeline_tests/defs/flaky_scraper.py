"""A python source for the retry test: its first call breaks off after the whole feed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from failtrack_pipeline.config.sources_file import SourceConfig

calls = 0


def fetch_events(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """Five events, two with impossible dates; the first call then raises."""
    global calls
    calls += 1
    for index in range(5):
        month = 13 if index < 2 else 5
        yield {
            "external_id": f"flaky-{index}",
            "title": f"Show {index}",
            "starts_at": f"2027-{month:02d}-15T20:00:00",
            "venue_name": "Flaky Hall",
        }
    if calls == 1:
        raise ConnectionResetError("connection reset by peer")
