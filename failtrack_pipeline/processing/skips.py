"""Records left out on purpose: not failures, so counted apart and kept out of success rates."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class SkipCause(StrEnum):
    """Why a record was left out. The values are stored in tags and tables: never rename one."""

    ENDED = "ended"  # the event is over: its end (or, without one, its start) is past
    CANCELLED = "cancelled"  # the feed's status says so
    IGNORED_CATEGORY = "ignored_category"  # the source is configured to leave it out


# Values of a record's `status` field that mark it cancelled (after trimming, any case).
CANCELLED_STATUSES: Final[frozenset[str]] = frozenset({"cancelled", "canceled"})


@dataclass(frozen=True, slots=True)
class Skip:
    """One record of a run that processing left out, and why."""

    external_id: str
    reason: SkipCause
