"""The processing step on arbitrary runs of records: one outcome per record, none lost.

test_validate.py fuzzes single values through `to_event`; here whole runs go through
`process_records`, with odd time zones, dates in every format, NaN and infinite
coordinates, duplicates and errors a reader passed on, then through `describe_failure`.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.base.events import Event
from failtrack_pipeline.base.normalize import MAX_LENGTH
from failtrack_pipeline.config.sources_file import SourceConfig, SourceKind
from failtrack_pipeline.processing.errors import DuplicateEventError
from failtrack_pipeline.processing.validate import process_records
from failtrack_pipeline.tracking.failures import EXAMPLE_MAX_CHARS, describe_failure

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
ZONES = ["UTC", "Europe/Amsterdam", "Pacific/Kiritimati", "America/St_Johns", "Asia/Kathmandu"]
DATE_FORMATS = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M%z",
    "%d/%m/%Y",
    "%m/%d/%y %I%p",
    "%A %d %B %Y, %H.%M",
    "%Y%m%dT%H%M%SZ",
    "%d.%m.%Y",
    "%b %d %Y",
    "%Y-%j",
    "%s",
]
DATES = st.one_of(
    st.builds(
        lambda moment, fmt: moment.strftime(fmt),
        st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31), timezones=st.timezones()),
        st.sampled_from(DATE_FORMATS),
    ),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.builds(lambda days: NOW + timedelta(days=days), st.floats(-400, 2000)),
    st.sampled_from(["2024-02-30", "24:00", "T", "+", "0", "-1", "2027-03-01T25:61", "\u0000"]),
    st.text(max_size=40),
)
COORDINATES = st.one_of(
    st.floats(),  # NaN and both infinities included
    st.sampled_from(["NaN", "nan", "inf", "-Infinity", "1e999", "52,37", "0x1p4", " 4.9 "]),
    st.integers(-(10**400), 10**400),
    st.text(max_size=10),
)
TEXTS = st.text(max_size=40) | st.sampled_from(["\u202e\u200b", "\x00" * 3, "a" * 600, "<b>&</b>"])
RECORDS = st.fixed_dictionaries(
    {"external_id": st.sampled_from(["e1", "e2", "e3"]) | TEXTS, "title": TEXTS},
    optional={
        "starts_at": DATES,
        "ends_at": DATES,
        "venue_name": TEXTS,
        "venue_address": TEXTS | st.integers(),
        "latitude": COORDINATES,
        "longitude": COORDINATES,
        "category": st.sampled_from(["music", "Gig", "karaoke"]) | TEXTS,
        "performers": TEXTS | st.lists(TEXTS | st.integers(), max_size=3),
        "url": st.sampled_from(["https://x.org/e", "ftp://x.org", "http://[::1"]) | TEXTS,
    },
)
READER_ERRORS = st.builds(lambda n: EventError(f"malformed record #{n}"), st.integers(1, 99))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    records=st.lists(RECORDS | READER_ERRORS, max_size=12),
)
def test_every_record_of_a_run_ends_as_one_event_skip_or_categorized_failure(
    zone: str, records: list[dict[str, Any] | EventError]
) -> None:
    source = SourceConfig(
        id="fuzz", name="Fuzz", kind=SourceKind.PYTHON, callable="x:y", timezone=zone
    )
    items = list(process_records(iter(records), source, now=NOW))
    assert len(items) == len(records)
    event_ids = [item.external_id for item in items if isinstance(item, Event)]
    assert len(event_ids) == len(set(event_ids))
    for item in items:
        if isinstance(item, EventError):
            assert categorize(item) is item.category is not ErrorCategory.UNKNOWN
            assert 0 < len(item.message) < 200 and "\n" not in item.message
            failure = describe_failure(source.id, item, seen_at=NOW)
            assert failure.category is item.category
            assert len(failure.message) <= MAX_LENGTH
            assert len(failure.example) <= EXAMPLE_MAX_CHARS
            if isinstance(item, DuplicateEventError):
                assert item.external_id in event_ids
        elif isinstance(item, Event):
            assert item.starts_at.tzinfo is UTC
            for value, limit in ((item.latitude, 90), (item.longitude, 180)):
                assert value is None or (math.isfinite(value) and abs(value) <= limit)
