"""A hand-written scraper for the demo's `python` source, as a user would write one.

It stands in for a ticketing API: each listing becomes a dict in failtrack's field names.
Two listings carry the faults such scrapers really hit: performers left as the API's
nested objects, and an FTP link where a web page was expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from failtrack_pipeline.config.sources_file import SourceConfig

# (id, title, starts_at, venue, category, performers, url)
# fmt: off
_LISTINGS: list[tuple[str, str, str, str, str, Any, str]] = [
    ("bo-7001", "Grand Magic Spectacular", "2027-02-20T19:00:00", "Palace Theatre", "family",
     ["The Great Lorenzo"], "https://boxoffice.example/e/7001"),
    ("bo-7002", "Symphonic Film Scores", "2027-03-04T19:30:00", "Royal Concert Hall", "music",
     ["City Philharmonic"], "https://boxoffice.example/e/7002"),
    ("bo-7003", "Comedy Gala", "2027-03-12T20:00:00", "Palace Theatre", "comedy",
     ["Rosa Ng", "Felix Hart"], "https://boxoffice.example/e/7003"),
    ("bo-7004", "Silent Film with Live Organ", "2027-03-19T19:00:00", "Lyric Cinema", "film",
     {"headliner": {"name": "Martin Cole"}}, "https://boxoffice.example/e/7004"),
    ("bo-7005", "Championship Boxing Night", "2027-04-02T18:30:00", "Arena North", "sports",
     [], "https://boxoffice.example/e/7005"),
    ("bo-7006", "Street Food Carnival", "2027-04-17T12:00:00", "Riverside Market", "food",
     [], "https://boxoffice.example/e/7006"),
    ("bo-7007", "Modern Art After Dark", "2027-05-06T18:00:00", "Gallery Seven", "arts",
     [], "ftp://files.boxoffice.example/listings/7007.pdf"),
    ("bo-7008", "Indie Game Showcase", "2027-05-22T10:00:00", "Exhibition Centre", "tech",
     ["Pixel Forge", "Tiny Owl Games"], "https://boxoffice.example/e/7008"),
    ("bo-7009", "Summer Musical: Grease", "2027-06-10T19:30:00", "Palace Theatre", "theatre",
     ["Palace Theatre Company"], "https://boxoffice.example/e/7009"),
    ("bo-7010", "Open-Air Cinema: Jaws", "2027-07-02T21:30:00", "Harbour Lawn", "film",
     [], "https://boxoffice.example/e/7010"),
]
# fmt: on


def fetch_events(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """The box office's listings as raw records; times are local to `source.timezone`."""
    for external_id, title, starts_at, venue, category, performers, url in _LISTINGS:
        yield {
            "external_id": external_id,
            "title": title,
            "starts_at": starts_at,
            "venue_name": venue,
            "category": category,
            "performers": performers,
            "url": url,
        }
