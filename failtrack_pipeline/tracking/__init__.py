"""Failure tracking: categorize, scrub and parameterize failures, and record them.

The public API for users' own scrapers:
- `categorize(error)`: an exception or a message -> its `ErrorCategory`;
- `normalize_message(message)`: the scrubbed, parameterized message failures group by;
- `scrub_secrets(text)`: `text` with tokens, keys, passwords and e-mails masked.
"""

from failtrack_pipeline.base.categorize import categorize
from failtrack_pipeline.base.normalize import normalize_message
from failtrack_pipeline.base.scrub import scrub_secrets

__all__ = ["categorize", "normalize_message", "scrub_secrets"]
