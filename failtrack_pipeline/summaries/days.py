"""UTC days: the unit every summary window is counted in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def start_of_day(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)


def window_start(as_of: date, days: int) -> date:
    """First day of the `days`-day window that ends on (and includes) `as_of`."""
    return as_of - timedelta(days=days - 1)


def utc_today() -> date:
    return datetime.now(UTC).date()


def parse_day(value: str | None) -> date:
    """An ISO date such as `2026-11-25`; None means today (UTC)."""
    return date.fromisoformat(value) if value else utc_today()
