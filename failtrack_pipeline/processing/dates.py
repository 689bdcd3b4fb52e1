"""Dates and durations as feeds write them, read into aware UTC moments.

Tried in order: the source's `date_formats` (strptime), ISO 8601, then dateutil's generic
parser (with the source's `dayfirst`). A number, or a text of nine digits or more, is an
epoch: milliseconds from 10¹¹ on (a later year than 5000 in seconds), else seconds.
`24:00` (`24H00`) is the end of that day, as ISO 8601 allows. A text without a day, month
or year (`APR 2018`) is imprecise: the caller rejects it rather than guess the first.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Final

from dateutil import parser as dateutil_parser

MAX_DATE_CHARS: Final = 100  # longer is no date, and would only slow the parser down
EPOCH_MILLISECONDS_FROM: Final = 10**11
DURATION_MILLISECONDS_FROM: Final = 10**6  # 11.6 days in seconds, 17 minutes in ms
DATE_TEXTS_KEPT: Final = 8192  # readings of recent texts, at most 100 characters each

_EPOCH_TEXT: Final = re.compile(r"-?\d{9,}")
_END_OF_DAY: Final = re.compile(r"(?<!\d)24[:Hh]00(?::00(?:\.0+)?)?(?!\d)")
_ISO_DATE_ONLY: Final = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_TIME_DIRECTIVES: Final = ("%H", "%I", "%M", "%S", "%X", "%c", "%p", "%f")
_ISO_DURATION: Final = re.compile(
    r"P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)
# Two defaults that differ in every part: what a text lacks shows as a difference.
_DEFAULTS: Final = (datetime(2000, 1, 1, 0, 0, 0), datetime(2001, 2, 2, 1, 1, 0))


@dataclass(frozen=True, slots=True)
class DateReading:
    """A moment read from a feed: `inclusive_day` for a text giving a date and no time
    (an end then lasts through that day); `imprecise` when the day, month or year is
    missing."""

    moment: datetime
    inclusive_day: bool = False
    imprecise: bool = False


def read_date(
    value: Any, zone: tzinfo, *, dayfirst: bool = False, formats: tuple[str, ...] = ()
) -> DateReading | None:
    """`value` as an aware UTC moment, naive times being in `zone`; None if no date."""
    try:
        if isinstance(value, str):  # the common case, checked first
            text = value.strip()
            if len(text) > MAX_DATE_CHARS:  # no date, and kept out of _read_text's cache
                return None
            return _read_text(text, zone, dayfirst, formats)
        if isinstance(value, datetime):
            return DateReading(_in_utc(value, zone))
        if isinstance(value, date):  # iCalendar's DATE: its midnight (DTEND stays exclusive)
            return DateReading(_in_utc(datetime.combine(value, time()), zone))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _epoch(value)
    except (ValueError, OverflowError):  # shifted past year 1 or 9999
        return None
    return None


def read_duration(value: Any) -> timedelta | None:
    """ISO 8601 (`PT1H30M`), or a number of seconds (milliseconds from 10⁶); None if none."""
    if isinstance(value, timedelta):
        return value if value >= timedelta(0) else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            value = float(text)
        else:
            match = _ISO_DURATION.fullmatch(text)
            if match is None or text.upper() in ("P", "PT") or text.upper().endswith("T"):
                return None
            parts = {name: float(number) for name, number in match.groupdict().items() if number}
            try:
                return timedelta(**parts)
            except OverflowError:
                return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            return None
        seconds = value / 1000 if value >= DURATION_MILLISECONDS_FROM else value
        try:
            return timedelta(seconds=seconds)
        except OverflowError:
            return None
    return None


# Feeds repeat their date texts (many events start at the same day and hour), and a
# reading depends on nothing but its arguments: it is kept for the next record.
@lru_cache(maxsize=DATE_TEXTS_KEPT)
def _read_text(
    text: str, zone: tzinfo, dayfirst: bool, formats: tuple[str, ...]
) -> DateReading | None:
    if _EPOCH_TEXT.fullmatch(text):
        return _epoch(int(text))
    text, end_of_day = _END_OF_DAY.subn("00:00", text) if "24" in text else (text, 0)
    parsed = _parsed(text, dayfirst, formats)
    if parsed is None:
        return None
    moment, date_only, imprecise = parsed
    if end_of_day:
        moment += timedelta(days=1)
    return DateReading(_in_utc(moment, zone), inclusive_day=date_only, imprecise=imprecise)


def _parsed(
    text: str, dayfirst: bool, formats: tuple[str, ...]
) -> tuple[datetime, bool, bool] | None:
    """(moment, date only, imprecise) by the first reading that works."""
    for date_format in formats:
        try:
            moment = datetime.strptime(text, date_format)
        except ValueError:
            continue
        return moment, not any(part in date_format for part in _TIME_DIRECTIVES), False
    try:
        return datetime.fromisoformat(text), bool(_ISO_DATE_ONLY.fullmatch(text)), False
    except ValueError:
        pass
    try:
        first, second = (
            dateutil_parser.parse(text, default=default, dayfirst=dayfirst) for default in _DEFAULTS
        )
    except (ValueError, OverflowError):
        return None
    imprecise = first.date() != second.date()
    return first, first.hour != second.hour, imprecise


def _epoch(number: float) -> DateReading | None:
    if not math.isfinite(number):
        return None
    seconds = number / 1000 if abs(number) >= EPOCH_MILLISECONDS_FROM else number
    return DateReading(datetime.fromtimestamp(seconds, UTC))


def _in_utc(moment: datetime, zone: tzinfo) -> datetime:
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)
