"""A python source whose scrape hangs, so a test can kill the run worker in the middle of it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from failtrack_pipeline.config.sources_file import SourceConfig

PID_FILE_ENV = "FAILTRACK_E2E_PID_FILE"


def fetch_events(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """Write this process's id where the test looks for it, then hang for up to ten minutes."""
    Path(os.environ[PID_FILE_ENV]).write_text(str(os.getpid()))
    time.sleep(600)
    yield from ()
