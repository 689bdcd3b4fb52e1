"""Failure tracking: categorize, scrub and parameterize failures, and record them.

The public API for users' own scrapers:
- `categorize(error)`: an exception or a message -> its `ErrorCategory`;
- `normalize_message(message)`: the scrubbed, parameterized message failures group by.
"""

from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.normalize import normalize_message

__all__ = ["categorize", "normalize_message"]
