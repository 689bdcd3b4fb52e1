"""iCalendar feeds: every VEVENT, with recurring series expanded around the run's moment.

The calendar is split into its components line by line as it streams, and each is parsed
on its own: one malformed VEVENT fails that record (a parsing_error naming the property),
components other than VEVENT (VTODO, VFREEBUSY, VJOURNAL, stray VALARMs) are passed over
however malformed, and a VTIMEZONE that cannot be read is dropped: its TZID is then read as a zone
name, or the source's timezone applies. A plain event becomes a record at once; only series
(RRULE or RDATE) and their RECURRENCE-ID overrides are kept until the end, to be expanded
with `recurring-ical-events` within the source's `recurrence` window (`x-wr-timezone`
first puts Google's calendar-wide zone into the times). An occurrence's external_id is
`<UID>/<its start in UTC, YYYYMMDDTHHMMSSZ>` (`YYYYMMDD` for an all-day one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from typing import Any, BinaryIO, Final
from zoneinfo import ZoneInfo, available_timezones

import recurring_ical_events
import x_wr_timezone
from icalendar import Calendar, Component, Timezone

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import EventError, FeedError
from failtrack_pipeline.config.sources_file import SourceConfig
from failtrack_pipeline.sources.mapping import RawRecord, Records

PARSING: Final = ErrorCategory.PARSING

# iCalendar properties and the fields they fill; GEO fills latitude and longitude.
ICS_FIELDS: Final[dict[str, str]] = {
    "SUMMARY": "title",
    "DTSTART": "starts_at",
    "DTEND": "ends_at",
    "DURATION": "duration",
    "LOCATION": "venue_name",
    "CATEGORIES": "category",  # every value, tried in order against category_map
    "URL": "url",
    "STATUS": "status",  # CANCELLED makes the event a skip
}
_DATES: Final = ("DTSTART", "DTEND", "RECURRENCE-ID")
_BEGIN: Final = re.compile(r"BEGIN:([A-Za-z0-9-]+)\s*$", re.IGNORECASE)
_END: Final = re.compile(r"END:([A-Za-z0-9-]+)\s*$", re.IGNORECASE)
_UID: Final = re.compile(r"^UID[;:](?:[^:\r\n]*:)?(.*)$", re.IGNORECASE | re.MULTILINE)
MAX_COMPONENT_LINES: Final = 100_000  # one VEVENT longer than this is no event
MAX_LINE_BYTES: Final = 1024 * 1024  # lines are folded at 75: a longer one is read in pieces
SHOWN_CHARS: Final = 60  # of a malformed value, quoted in a message


def read_ics(source: SourceConfig, stream: BinaryIO, *, now: datetime | None) -> Records:
    """Every VEVENT of every VCALENDAR, mapped by ICS_FIELDS and GEO."""
    calendar = _CalendarReader(source)
    for name, lines in calendar.components(stream):
        if name == "VTIMEZONE":
            calendar.add_zone("".join(lines))
        elif name == "VEVENT":
            record = calendar.event("".join(lines))
            if record is not None:
                yield record
    if not calendar.found:
        raise FeedError("invalid iCalendar feed: no VCALENDAR found", category=PARSING)
    yield from calendar.occurrences(now or datetime.now(UTC))


class _CalendarReader:
    def __init__(self, source: SourceConfig) -> None:
        self.source = source
        self.found = False
        self.zones: dict[str, Timezone] = {}
        self.wr_timezone: str | None = None  # Google's X-WR-TIMEZONE
        self.series: dict[str, list[Component]] = {}

    def components(self, stream: BinaryIO) -> Iterator[tuple[str, list[str]]]:
        """(name, lines) of each component directly inside a VCALENDAR, nested VALARMs
        left out (they are no event's business)."""
        depth = 0
        name: str | None = None
        lines: list[str] = []
        skipping = 0
        for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
            line = raw.decode("utf-8", "replace")
            begin, end = _BEGIN.match(line), _END.match(line)
            if depth == 0:
                if begin and begin.group(1).upper() == "VCALENDAR":
                    depth, self.found = 1, True
                continue
            if depth == 1:
                if begin:
                    depth, name, lines = 2, begin.group(1).upper(), [line]
                elif end and end.group(1).upper() == "VCALENDAR":
                    depth = 0
                elif line.upper().startswith("X-WR-TIMEZONE:"):
                    self.wr_timezone = line.split(":", 1)[1].strip()
                continue
            if skipping or (begin and begin.group(1).upper() == "VALARM"):
                skipping += 1 if begin else -1 if end else 0
                continue
            if name is not None and end and end.group(1).upper() == name:
                lines.append(line)
                yield name, lines
                depth, name, lines = 1, None, []
            elif len(lines) < MAX_COMPONENT_LINES:
                lines.append(line)
        if name == "VEVENT" and lines:  # cut off before its END: still one record's failure
            yield name, lines

    def add_zone(self, text: str) -> None:
        try:
            component = Component.from_ical(text)
            if not isinstance(component, Timezone):
                return
            tzid = str(component["TZID"])
            component.to_tz()
        except Exception:  # a malformed VTIMEZONE: its TZID is read as a zone name instead
            return
        self.zones[tzid] = component

    def event(self, text: str) -> RawRecord | EventError | None:
        """The record of one plain VEVENT; None for a series part, kept for later."""
        uid_match = _UID.search(text)
        uid = uid_match.group(1).strip() if uid_match else None
        try:
            event = Component.from_ical(text)
        except Exception as exc:
            problem = (
                str(exc).strip().splitlines()[0][:100] if str(exc).strip() else type(exc).__name__
            )
            return EventError(
                f"invalid iCalendar VEVENT: {problem}", category=PARSING, external_id=uid
            )
        if not uid:
            return EventError("UID missing", category=ErrorCategory.VALIDATION)
        if any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID")):
            self.series.setdefault(uid, []).append(event)
            return None
        return self.record(event, uid)

    def record(self, event: Component, external_id: str) -> RawRecord | EventError:
        record: RawRecord = {"external_id": external_id}
        for name in (*ICS_FIELDS, "GEO"):
            if name not in event:
                continue
            try:
                value = self._decoded(event, name)
            except _UnreadableDate as exc:
                message = f"invalid iCalendar property {name} {_quoted(exc.raw)}"
                return EventError(message, category=PARSING, external_id=external_id)
            except Exception:  # icalendar raises any type when a value contradicts its VALUE
                message = f"invalid iCalendar property {name}"
                return EventError(message, category=PARSING, external_id=external_id)
            if name == "GEO":
                record["latitude"], record["longitude"] = _geo(value)
            else:
                record[ICS_FIELDS[name]] = value
        if self.wr_timezone and _known_zone(self.wr_timezone):
            record["timezone"] = _known_zone(self.wr_timezone)
        return record

    def _decoded(self, event: Component, name: str) -> Any:
        value = event.decoded(name)
        if name == "CATEGORIES":
            return _categories(value)
        while isinstance(value, list):  # a repeated property: its first
            value = value[0] if value else None
        if name in _DATES:  # icalendar keeps one it cannot read (`2024-13-45`) as raw text
            if isinstance(value, bytes | str):
                raw = event[name].to_ical()
                raise _UnreadableDate(
                    raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                )
            if isinstance(value, datetime) and value.tzinfo is None:
                zone = self._zone(event[name].params.get("TZID"))
                value = value.replace(tzinfo=zone) if zone else value
        return value

    def _zone(self, tzid: str | None) -> tzinfo | None:
        if not tzid:
            return None
        component = self.zones.get(tzid)
        if component is not None:
            return component.to_tz()
        name = _known_zone(tzid)
        return ZoneInfo(name) if name else None

    def occurrences(self, now: datetime) -> Records:
        """Each series' occurrences within the recurrence window, overrides in their place."""
        window = self.source.recurrence
        start = now - timedelta(days=window.past_days)
        end = now + timedelta(days=window.future_days)
        for uid, components in self.series.items():
            calendar = Calendar()
            if self.wr_timezone:
                calendar.add("X-WR-TIMEZONE", self.wr_timezone)
            for zone in self.zones.values():
                calendar.add_component(zone)
            for component in components:
                calendar.add_component(component)
            try:
                found = recurring_ical_events.of(x_wr_timezone.to_standard(calendar)).between(
                    start, end
                )
            except Exception as exc:  # a rule the library cannot expand: that series fails
                problem = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else ""
                message = f"invalid iCalendar recurrence: {type(exc).__name__} {problem}".strip()
                yield EventError(message, category=PARSING, external_id=uid)
                continue
            for occurrence in found:
                moment = occurrence.get("RECURRENCE-ID") or occurrence.get("DTSTART")
                stamp = _stamp(moment.dt if moment is not None else None, self.source.zone)
                yield self.record(occurrence, f"{uid}/{stamp}")


class _UnreadableDate(ValueError):
    """A date property icalendar kept as text: malformed (`DTSTART;TZID=(UTC-05:00) …`)."""

    def __init__(self, raw: str) -> None:
        super().__init__(raw)
        self.raw = raw


def _quoted(text: str) -> str:
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…")


def _stamp(moment: Any, zone: tzinfo) -> str:
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=zone)
        return aware.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if isinstance(moment, date):
        return moment.strftime("%Y%m%d")
    return "unknown"


def _categories(value: Any) -> list[Any]:
    """Every CATEGORIES value, of every CATEGORIES property, in order."""
    values = value if isinstance(value, list) else [value]
    found: list[Any] = []
    for item in values:
        cats = getattr(item, "cats", item)
        found.extend(cats if isinstance(cats, list) else [cats])
    return [str(item) if not isinstance(item, str) else item for item in found]


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def _known_zone(name: str) -> str | None:
    """The IANA zone `name` stands for, whatever its case (`Europe/lisbon`); else None."""
    return _zone_names().get(name.strip().strip('"').lower())


def _geo(value: Any) -> tuple[Any, Any]:
    """(latitude, longitude); a GEO icalendar could not parse is split raw for validation."""
    if isinstance(value, tuple):
        return value
    if hasattr(value, "latitude"):
        return value.latitude, value.longitude
    latitude, _, longitude = str(value).partition(";")
    return latitude, longitude
