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


STALLING_FAILURES = 5_050  # one full recorded batch and some still in memory


def fail_then_hang(source: SourceConfig) -> Iterator[dict[str, Any]]:
    """Records without a title (each a failure), then the same hang as `fetch_events`."""
    for index in range(STALLING_FAILURES):
        yield {"external_id": f"stall-{index}", "starts_at": "2026-12-24T20:00:00Z"}
    yield from fetch_events(source)
