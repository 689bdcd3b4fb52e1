"""failtrack's typed errors: each already knows its category, or names the bad config."""

from __future__ import annotations

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.scrub import scrub_secrets


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
    """The source as a whole could not be read: the run fails (or, for a transient cause,
    tries again). `retry_after` is how long the source asked us to wait, in seconds."""

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory | None = None,
        external_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, category=category, external_id=external_id)
        self.retry_after = retry_after


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
    """Bad configuration: names the file, the item (source, rule…) and the field.

    The problem is scrubbed like any stored message: it may quote a value holding a key
    or a password (a URL, a header), and it reaches logs and the UI.
    """

    def __init__(self, file: str, where: str | None, field: str | None, problem: str) -> None:
        problem = scrub_secrets(problem)
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
