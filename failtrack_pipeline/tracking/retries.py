"""Which failed fetches are worth trying again inside the run, and after how long.

Only transient causes are: a network error (timeouts, refused connections, 5xx) and
throttling (429). Credentials, a broken format or bad data fail the same way every time,
so they are never retried. The wait doubles with each attempt, with jitter so that many
sources failing together do not come back together, and a source's `Retry-After` wins.
"""

from __future__ import annotations

import random
from typing import Final

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.errors import FeedError
from failtrack_pipeline.config.sources_file import SourceConfig

RETRIED_CATEGORIES: Final = frozenset({ErrorCategory.NETWORK, ErrorCategory.RATE_LIMIT})
FIRST_WAIT_SECONDS: Final = 2.0
MAX_WAIT_SECONDS: Final = 300.0  # a Retry-After asking for longer is capped: the run waits
# What a run needs beyond its fetches: start-up, storing events, recording failures.
RUN_OVERHEAD_SECONDS: Final = 600


def retry_delay(
    error: BaseException, *, attempt: int, max_retries: int, rng: random.Random | None = None
) -> float | None:
    """Seconds to wait before attempt `attempt + 1` (0 is the first try), or None: give up.

    Exponential backoff with "equal jitter": half the doubled wait, plus up to that again.
    """
    if attempt >= max_retries or not isinstance(error, Exception):
        return None
    if categorize(error) not in RETRIED_CATEGORIES:
        return None
    asked = error.retry_after if isinstance(error, FeedError) else None
    if asked is not None:
        return min(asked, MAX_WAIT_SECONDS)
    wait = min(FIRST_WAIT_SECONDS * 2**attempt, MAX_WAIT_SECONDS)
    return wait / 2 + (rng or random).uniform(0, wait / 2)


def max_runtime_seconds(source: SourceConfig) -> int:
    """How long a run of `source` may take in all: every attempt at its deadline, every
    wait at its cap, and the run's own overhead. Past it, Dagster's run monitoring stops
    the run (`dagster/max_runtime`), and the run-status sensors record it."""
    attempts = source.max_retries + 1
    waits = source.max_retries * MAX_WAIT_SECONDS
    return int(attempts * source.timeout_seconds + waits + RUN_OVERHEAD_SECONDS)
