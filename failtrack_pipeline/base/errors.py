"""The shared vocabulary of failure: the category taxonomy and failtrack's typed errors.

Every layer (sources, processing, tracking, summaries) speaks in these terms, so a
failure is a value with a category from the moment it is raised, not a string to be
parsed later.
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
    def meaning(self) -> str:
        """One line saying what belongs in this category."""
        return _MEANINGS[self]

    @property
    def next_step(self) -> str:
        """One line suggesting what an engineer should do about failures of this category."""
        return _NEXT_STEPS[self]


_MEANINGS: dict[ErrorCategory, str] = {
    ErrorCategory.NETWORK: "timeouts, refused connections, DNS failures, HTTP 5xx",
    ErrorCategory.RATE_LIMIT: "HTTP 429 or other throttling by the source",
    ErrorCategory.AUTHENTICATION: "HTTP 401/403, expired or missing credentials",
    ErrorCategory.PARSING: "malformed JSON, iCalendar, CSV or HTML",
    ErrorCategory.VALIDATION: "missing required fields, invalid formats, bad dates",
    ErrorCategory.DATA_QUALITY: "values present but implausible: end before start, far-past dates",
    ErrorCategory.DATA_INTEGRITY: "duplicates and constraint violations",
    ErrorCategory.DEPENDENCY: "something the step needs is not ready yet",
    ErrorCategory.GEOCODING: "missing or invalid coordinates, address not resolvable",
    ErrorCategory.VENUE: "venue missing or cannot be resolved",
    ErrorCategory.PERFORMER: "performers missing or cannot be resolved",
    ErrorCategory.CATEGORY: "the event category cannot be mapped",
    ErrorCategory.SILENT_FAILURE: (
        "a run ended without error but yielded far fewer records than the source usually does"
    ),
    ErrorCategory.UNKNOWN: "nothing matched: to be investigated",
}

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


class FailtrackError(Exception):
    """An error that already knows its category.

    `external_id` names the event it concerns, when it concerns one.
    """

    category: ErrorCategory = ErrorCategory.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory | None = None,
        external_id: str | None = None,
    ) -> None:
        super().__init__(message)
        if category is not None:
            self.category = category
        self.external_id = external_id

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class FeedError(FailtrackError):
    """The source as a whole could not be read: the run fails."""


class EventError(FailtrackError):
    """One record could not become an event: the run goes on with the others."""

    category = ErrorCategory.VALIDATION


def yaml_problem(error: Exception) -> str:
    """A YAML syntax error as one line, where and what: PyYAML's own text spans several."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).strip().split("\n", 1)[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid YAML{where}: {problem}"


class ConfigError(ValueError):
    """Bad configuration: names the file, the item (source, rule…) and the field."""

    def __init__(self, file: str, where: str | None, field: str | None, problem: str) -> None:
        location = file
        if where:
            location += f": {where}"
        if field:
            location += f": field '{field}'"
        super().__init__(f"{location}: {problem}")
        self.file, self.where, self.field, self.problem = file, where, field, problem


class RunConfigError(Exception):
    """A run's config is wrong: the run fails at its start with this one line, and nothing
    is recorded against its source. Not a ValueError, so that pydantic, validating a
    `Config`, raises it as it is instead of wrapping it in a ValidationError."""
