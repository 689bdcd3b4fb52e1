"""One observed failure, described once: categorized, scrubbed and parameterized."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import MessageRule, categorize, group_name
from failtrack_pipeline.base.errors import FailtrackError
from failtrack_pipeline.base.normalize import GROUPING_VERSION, scrub_and_normalize
from failtrack_pipeline.db.schema import SCRAPE_STAGE

EXAMPLE_MAX_CHARS = 2000
# The grouping version of groups a user rule named (`group_as`): no normalizer upgrade
# re-keys them, their name is the person's.
USER_NAMED = 0
# NUL (PostgreSQL refuses it) and lone surrogates (undecodable bytes, not UTF-8): replaced.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# Per-event failures repeat the same few texts; caching keeps tracking off the hot path's bill.
# One scrub serves the example and the group.
_described = lru_cache(maxsize=16_384)(scrub_and_normalize)


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A failure ready to be stored: nothing in it may hold a secret."""

    source_id: str
    category: ErrorCategory
    message: str  # parameterized: the group's name
    example: str  # scrubbed original, for debugging
    external_id: str | None
    seen_at: datetime
    # Which rules named the group: the normalizer's version, or USER_NAMED (a `group_as`).
    grouping_version: int = GROUPING_VERSION
    stage: str = SCRAPE_STAGE  # the pipeline step it happened in

    @property
    def fingerprint(self) -> str:
        """Identity of the failure group: same source, stage, category and message."""
        return fingerprint(
            self.source_id, self.category, self.message, self.grouping_version, self.stage
        )


@dataclass(frozen=True, slots=True)
class StageCounts:
    """How many events one recording's step handled for one source, stored with its failures."""

    source_id: str
    stage: str
    processed: int
    succeeded: int
    failed: int


def fingerprint(
    source_id: str,
    category: ErrorCategory,
    message: str,
    version: int = GROUPING_VERSION,
    stage: str = SCRAPE_STAGE,
) -> str:
    """A group's key under grouping rules `version`: a rule change is a new key space, which
    `store.regroup` maps the old rows into, so counts carry over instead of splitting.

    Only stages other than `scrape` join the key, so the groups recorded before stages
    existed (all of them scrapes) keep their keys.
    """
    key = f"{version}\x1f{source_id}\x1f{category.value}\x1f{message}"
    if stage != SCRAPE_STAGE:
        key += f"\x1f{stage}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def describe_failure(
    source_id: str,
    error: BaseException | str | Any,
    *,
    seen_at: datetime,
    external_id: str | None = None,
    rules: Sequence[MessageRule] | None = None,
    stage: str = SCRAPE_STAGE,
) -> FailureRecord:
    """Turn an exception, Dagster error info or message into a storable `FailureRecord`."""
    raw = _UNSTORABLE.sub("\ufffd", _raw_message(error))
    if external_id is None and isinstance(error, FailtrackError):
        external_id = error.external_id
    named = group_name(error, rules)
    example, message = _described(raw)
    return FailureRecord(
        source_id=source_id,
        category=categorize(error, rules),
        message=named or message,
        example=example[:EXAMPLE_MAX_CHARS],
        external_id=external_id,
        seen_at=seen_at,
        grouping_version=USER_NAMED if named else GROUPING_VERSION,
        stage=stage,
    )


def _raw_message(error: BaseException | str | Any) -> str:
    """Typed errors speak for themselves; other exceptions keep their type for context."""
    if isinstance(error, str):
        return error
    if isinstance(error, FailtrackError):
        return error.message
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    cls_name, message = getattr(error, "cls_name", None), getattr(error, "message", None)
    if isinstance(message, str):  # Dagster's SerializableErrorInfo
        return f"{cls_name}: {message.strip()}" if cls_name else message.strip()
    return str(error)
