"""The category taxonomy: why something failed, and what to do about it.

Every layer speaks in these terms, so a failure is a value with a category from the
moment it is raised, not a string to be parsed later.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCategory(StrEnum):
    """Why something failed. The values are stored in tables and tags: never rename one."""

    NETWORK = "network_error"
    RATE_LIMIT = "rate_limit_error"
    AUTHENTICATION = "authentication_error"
    PARSING = "parsing_error"
    VALIDATION = "validation_error"
    DATA_QUALITY = "data_quality_error"
    DATA_INTEGRITY = "data_integrity_error"
    DEPENDENCY = "dependency_error"
    GEOCODING = "geocoding_error"
    VENUE = "venue_error"
    PERFORMER = "performer_error"
    CATEGORY = "category_error"
    SILENT_FAILURE = "silent_failure"
    UNKNOWN = "unknown_error"

    @property
    def next_step(self) -> str:
        """One line suggesting what an engineer should do about failures of this category."""
        return _NEXT_STEPS[self]


_NEXT_STEPS: dict[ErrorCategory, str] = {
    ErrorCategory.NETWORK: "Retry with exponential backoff; check the source's availability.",
    ErrorCategory.RATE_LIMIT: "Lower the request rate or spread runs out; honour Retry-After.",
    ErrorCategory.AUTHENTICATION: "Renew or fix the source's credentials.",
    ErrorCategory.PARSING: "The feed format changed or is broken: update the reader or mapping.",
    ErrorCategory.VALIDATION: "Fix the field mapping or ask the source to fill required fields.",
    ErrorCategory.DATA_QUALITY: "Review the source's data; add a business rule or report upstream.",
    ErrorCategory.DATA_INTEGRITY: "Deduplicate upstream or fix the external_id mapping.",
    ErrorCategory.DEPENDENCY: "Check the upstream job or service ordering; retry later.",
    ErrorCategory.GEOCODING: "Fix coordinates in the mapping or geocode the address.",
    ErrorCategory.VENUE: "Map the venue fields or add the venue to the venue list.",
    ErrorCategory.PERFORMER: "Map the performer fields or relax the performer rule.",
    ErrorCategory.CATEGORY: "Add the category to the source's category mapping.",
    ErrorCategory.SILENT_FAILURE: (
        "Open the source by hand: a changed layout, a moved feed or an empty page; fix the reader."
    ),
    ErrorCategory.UNKNOWN: "Investigate the message and add a categorization rule for it.",
}
