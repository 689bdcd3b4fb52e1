"""Raw record -> validated Event, a Skip (left out on purpose), or the typed EventError
saying which rule it broke.

A raw value may be anything a feed or a scraper hands over (wrong types, nested garbage,
huge strings, control characters, NaN): every rule turns what it cannot accept into an
EventError, so one bad record never stops the others. Messages are short and stable with
the variable part quoted (`Invalid date '2024-13-45' for starts_at`), so they group.
Fields are checked in the order of `Event`; the first rule broken is the one reported.
A record is skipped, not failed, when it is cancelled or of an ignored category (judged
once its external_id is known, before any other rule) or when the event has already ended,
however long ago (judged once its dates are valid and plausible).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import repeat
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from failtrack_pipeline.base.errors import EventError
from failtrack_pipeline.base.events import KNOWN_CATEGORIES, Event
from failtrack_pipeline.config.sources_file import SourceConfig
from failtrack_pipeline.processing.dates import DateReading, read_date, read_duration
from failtrack_pipeline.processing.errors import (
    DuplicateEventError,
    ImplausibleEventError,
    InvalidCoordinatesError,
    InvalidDateError,
    InvalidFieldError,
    InvalidUrlError,
    MissingFieldError,
    PerformerError,
    UnknownCategoryError,
    VenueError,
)
from failtrack_pipeline.processing.seen import SeenIds
from failtrack_pipeline.processing.skips import Skip, SkipCause
from failtrack_pipeline.sources.mapping import RawRecord

# What the events table can hold.
MAX_LENGTHS: Final[dict[str, int]] = {"external_id": 200, "title": 500, "venue_name": 500}
# Dates before this are no event listing's (a zero epoch, a year typed as 0202).
EARLIEST: Final = datetime(1990, 1, 1, tzinfo=UTC)
MAX_FUTURE: Final = timedelta(days=5 * 365)
SHOWN_CHARS: Final = 60  # of a bad value, quoted in a message
PERFORMER_LISTS_KEPT: Final = 8192  # readings of recent performers, as for dates

# Control characters that are not whitespace, and lone surrogates (undecodable bytes):
# removed. Whitespace runs, line breaks included, become one space.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")
_PERFORMER_SEPARATORS = re.compile(r"[,;]")
# An http(s) URL whose host part is ASCII without brackets: urlsplit would accept it (it
# only refuses brackets and some non-ASCII hosts), so it need not be called.
_PLAIN_HTTP_URL = re.compile(
    r"https?://[^/?#\[\]\x80-\U0010ffff]+(?:[/?#]|$)", re.IGNORECASE | re.ASCII
)


def process_records(
    records: Iterable[RawRecord | EventError], source: SourceConfig, *, now: datetime
) -> Iterator[Event | EventError | Skip]:
    """Validate a run's records in order, yielding events, skips and errors; never raises.

    Errors a reader yielded pass through. An external_id seen on an earlier event of the
    run makes the later record a DuplicateEventError. `now` must be aware.
    """
    seen = SeenIds()
    for record in records:
        if isinstance(record, EventError):
            yield record
            continue
        try:
            event = to_event(record, source, now=now)
        except EventError as error:
            yield error
            continue
        if isinstance(event, Skip):
            yield event
            continue
        if seen.add(event.external_id):
            message = f"duplicate external_id {_quoted(event.external_id)}"
            yield DuplicateEventError(message, external_id=event.external_id)
            continue
        yield event


def to_event(raw: RawRecord, source: SourceConfig, *, now: datetime) -> Event | Skip:
    """The Event `raw` describes or the Skip it is; else an EventError carrying its
    external_id when known."""
    external_id = _text(raw, "external_id")
    if external_id is None:
        raise MissingFieldError("external_id missing")
    reason = _skip_reason(raw, source)
    if reason is not None:
        return Skip(external_id, reason)
    try:
        return _event(raw, source, external_id, now)
    except EventError as error:
        error.external_id = external_id
        raise


def _skip_reason(raw: RawRecord, source: SourceConfig) -> SkipCause | None:
    """Cancelled (a status among the source's cancelled_values) or of an ignored category;
    values of other types never skip."""
    status = raw.get("status")
    if isinstance(status, bool):
        if any(value is status for value in source.cancelled_values):
            return SkipCause.CANCELLED
    elif isinstance(status, str) and _clean(status).lower() in source.cancelled_values:
        return SkipCause.CANCELLED
    if source.ignored_categories:
        for category in _category_values(raw.get("category")):
            key = _clean(category).lower()
            if {key, source.category_map.get(key)} & source.ignored_categories:
                return SkipCause.IGNORED_CATEGORY
    return None


def _event(raw: RawRecord, source: SourceConfig, external_id: str, now: datetime) -> Event | Skip:
    title = _text(raw, "title")
    if title is None:
        raise MissingFieldError("title missing")
    zone = _record_zone(raw, source)
    starts_at = _datetime(raw, "starts_at", zone, source)
    if starts_at is None:
        raise MissingFieldError("starts_at missing")
    ends_at = _ends_at(raw, starts_at, zone, source)
    _check_plausible(starts_at.moment, ends_at, now)
    if (ends_at or starts_at.moment) < now:
        return Skip(external_id, SkipCause.ENDED)
    venue_name = _text(raw, "venue_name", VenueError)
    venue_address = _text(raw, "venue_address", VenueError)
    online = raw.get("online") is True
    if venue_name is None and venue_address is None and not online and _needs_venue(source):
        raise VenueError("venue missing")
    latitude, longitude = _coordinates(raw)
    event = Event(
        source_id=source.id,
        external_id=external_id,
        title=title,
        starts_at=starts_at.moment,
        ends_at=ends_at,
        venue_name=venue_name,
        venue_address=venue_address,
        latitude=latitude,
        longitude=longitude,
        category=_category(raw, source),
        performers=_performers(raw.get("performers")),
        url=_url(raw),
    )
    _check_required(event, source)
    return event


def _needs_venue(source: SourceConfig) -> bool:
    return "venue_name" in source.required


def _check_required(event: Event, source: SourceConfig) -> None:
    """Fields a source requires beyond those every event needs (title, starts_at, venue)."""
    for field in source.required:
        if field in _JUDGED_APART:
            continue
        value = getattr(event, field, None)
        if value is None or value == ():
            raise MissingFieldError(f"{field} missing")


# Checked on their own: always needed, or met in more than one way (venue_name).
_JUDGED_APART: Final = frozenset(
    {"external_id", "title", "starts_at", "venue_name", "status", "timezone", "duration", "online"}
)


def _record_zone(raw: RawRecord, source: SourceConfig) -> tzinfo:
    """The record's own `timezone` if mapped and present, else the source's."""
    name = raw.get("timezone")
    if name is None or (isinstance(name, str) and not name.strip()):
        return source.zone
    if not isinstance(name, str):
        raise InvalidFieldError(f"timezone must be text, got {type(name).__name__}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise InvalidFieldError(f"unknown time zone {_quoted(name.strip())}") from None


def _ends_at(
    raw: RawRecord, starts_at: DateReading, zone: tzinfo, source: SourceConfig
) -> datetime | None:
    """The mapped end (a date-only text lasts through that day), else start + duration."""
    ends_at = _datetime(raw, "ends_at", zone, source)
    if ends_at is not None:
        return ends_at.moment + timedelta(days=1) if ends_at.inclusive_day else ends_at.moment
    value = raw.get("duration")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    duration = read_duration(value)
    if duration is None:
        raise InvalidFieldError(f"Invalid duration {_quoted(value)}")
    try:
        return starts_at.moment + duration
    except OverflowError:
        raise InvalidFieldError(f"Invalid duration {_quoted(value)}") from None


def _text(raw: RawRecord, field: str, error: type[EventError] = InvalidFieldError) -> str | None:
    """Cleaned text (integers accepted), None if absent or blank after cleaning."""
    value = raw.get(field)
    if value is None:
        return None
    if value.__class__ is str:  # the common case, checked first
        text = _clean(value)
    elif isinstance(value, bool) or not isinstance(value, str | int):
        raise error(f"{field} must be text, got {type(value).__name__}")
    else:
        try:
            text = _clean(str(value))
        except ValueError:  # an integer too long to print
            raise error(f"{field} must be text, got a huge int") from None
    limit = MAX_LENGTHS.get(field)
    if limit is not None and len(text) > limit:
        raise error(f"{field} must be at most {limit} characters")
    return text or None


def _clean(text: str) -> str:
    # Printable text holds no control character, surrogate or whitespace but the space: with
    # no space doubled, stripping its ends cleans it, which is done in C.
    if text.isprintable() and "  " not in text:
        return text.strip()
    return " ".join(_CONTROL.sub("", text).split())


def _quoted(value: object) -> str:
    """A bad value, bounded and quoted for a message: the quotes make it a placeholder.

    A huge integer is described, not converted: Python refuses str() past 4,300 digits.
    """
    if isinstance(value, int) and value.bit_length() > 64:
        value = f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = str(value)
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS] + "…"
    return repr(text)


def _datetime(raw: RawRecord, field: str, zone: tzinfo, source: SourceConfig) -> DateReading | None:
    """Aware UTC; naive values are in `zone`, a date means its midnight."""
    value = raw.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if value.__class__ is not str and (
        isinstance(value, bool) or not isinstance(value, str | int | float | date)
    ):
        raise InvalidDateError(f"{field} must be a date, got {type(value).__name__}")
    reading = read_date(value, zone, dayfirst=source.dayfirst, formats=source.date_formats)
    if reading is None:
        raise InvalidDateError(f"Invalid date {_quoted(value)} for {field}")
    if reading.imprecise:
        raise InvalidDateError(f"Invalid date {_quoted(value)} for {field}: imprecise")
    return reading


def _check_plausible(starts_at: datetime, ends_at: datetime | None, now: datetime) -> None:
    if ends_at is not None and ends_at < starts_at:
        raise ImplausibleEventError("ends_at before starts_at")
    if starts_at < EARLIEST:
        raise ImplausibleEventError(f"starts_at implausible: before {EARLIEST.year}")
    if starts_at > now + MAX_FUTURE:
        raise ImplausibleEventError("starts_at too far in the future: more than 5 years ahead")


def _coordinates(raw: RawRecord) -> tuple[float | None, float | None]:
    latitude = _coordinate(raw, "latitude", 90.0)
    longitude = _coordinate(raw, "longitude", 180.0)
    if latitude is None and longitude is not None:
        raise InvalidCoordinatesError("longitude without latitude")
    if longitude is None and latitude is not None:
        raise InvalidCoordinatesError("latitude without longitude")
    return latitude, longitude


def _coordinate(raw: RawRecord, field: str, limit: float) -> float | None:
    value = raw.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidCoordinatesError(f"{field} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = math.inf
    except ValueError:  # only a text can be no number at all
        raise InvalidCoordinatesError(f"{field} {_quoted(value)} is not a number") from None
    if not math.isfinite(number):
        raise InvalidCoordinatesError(f"{field} must be a finite number, got {number}")
    if not -limit <= number <= limit:
        raise InvalidCoordinatesError(f"{field} {number} out of range")
    return number


def _category(raw: RawRecord, source: SourceConfig) -> str | None:
    """The feed's category through the source's category_map (case-insensitive) to ours;
    of a list (iCalendar's CATEGORIES), the first value that maps."""
    value = raw.get("category")
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        texts = [cleaned for cleaned in (_clean(item) for item in value) if cleaned]
        for candidate in texts:
            mapped = source.category_map.get(candidate.lower(), candidate.lower())
            if mapped in KNOWN_CATEGORIES:
                return mapped
        if not texts:
            return None
        raise UnknownCategoryError(f"unknown category {_quoted(texts[0])}")
    text = _text(raw, "category", UnknownCategoryError)
    if text is None:
        return None
    key = text.lower()
    category = source.category_map.get(key, key)
    if category not in KNOWN_CATEGORIES:
        raise UnknownCategoryError(f"unknown category {_quoted(text)}")
    return category


def _category_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _performers(value: Any) -> tuple[str, ...]:
    """Names from a comma- or semicolon-separated text or a list of texts; distinct, in order."""
    if value is None:
        return ()
    if isinstance(value, str):
        return _distinct_names(tuple(_PERFORMER_SEPARATORS.split(value)))
    if isinstance(value, list | tuple) and all(map(isinstance, value, repeat(str))):
        return _distinct_names(tuple(value))
    kind = type(value).__name__
    if isinstance(value, list | tuple):
        odd = {type(item).__name__ for item in value if not isinstance(item, str)}
        kind += f" of {', '.join(sorted(odd))}"
    raise PerformerError(f"performers must be text or a list of texts, got {kind}")


# Feeds repeat their line-ups, and the names depend on nothing else: a reading is kept.
@lru_cache(maxsize=PERFORMER_LISTS_KEPT)
def _distinct_names(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(filter(None, map(_clean, names))))


def _url(raw: RawRecord) -> str | None:
    text = _text(raw, "url", InvalidUrlError)
    if text is None or _PLAIN_HTTP_URL.match(text):
        return text
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidUrlError(f"url {_quoted(text)} must be an http(s) URL")
    return text
