"""Why one record could not become an event: one EventError class per rule family.

Each class fixes its category, so a failure is categorized the moment it is raised.
"""

from __future__ import annotations

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.errors import EventError


class MissingFieldError(EventError):
    """A required field (external_id, title, starts_at) is absent or blank."""

    category = ErrorCategory.VALIDATION


class InvalidFieldError(EventError):
    """A field holds the wrong type of value or too long a text."""

    category = ErrorCategory.VALIDATION


class InvalidDateError(InvalidFieldError):
    """starts_at or ends_at is not a date."""


class InvalidUrlError(InvalidFieldError):
    """url is not an http(s) URL."""


class ImplausibleEventError(EventError):
    """Dates that parse but cannot be right: end before start, far past or far future."""

    category = ErrorCategory.DATA_QUALITY


class InvalidCoordinatesError(EventError):
    """latitude/longitude not numbers, out of range, or only one of them given."""

    category = ErrorCategory.GEOCODING


class VenueError(EventError):
    """Neither a venue name nor an address, or one that is not text."""

    category = ErrorCategory.VENUE


class PerformerError(EventError):
    """performers is neither text nor a list of names."""

    category = ErrorCategory.PERFORMER


class UnknownCategoryError(EventError):
    """The category is not in our vocabulary, even after the source's category_map."""

    category = ErrorCategory.CATEGORY


class DuplicateEventError(EventError):
    """An external_id already seen in this run."""

    category = ErrorCategory.DATA_INTEGRITY
