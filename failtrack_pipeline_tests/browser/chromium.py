"""Headless Chromium (Debian's `chromium` package) driven by Playwright, and the dashboard's
tables read back from the page as a person reads them (the cells' rendered text).

Playwright only drives the browser: it never downloads one of its own (`scripts/test`
installs Debian's when /usr/bin/chromium is missing).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from failtrack_pipeline.testing.webserver import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 2200, "height": 1100}  # wide enough for the overview's columns
# Git-ignored; `scripts/screenshots.py` copies the README's images from here.
SCREENSHOTS = Path(os.environ.get("FAILTRACK_SCREENSHOTS_DIR", REPO / "screenshots"))

# The rows of the table in the metadata entry named `key`: header row first, every cell's
# rendered text (what is on screen: a message's `<int>` only if it was not taken for HTML).
# The entry is scrolled into view, for the screenshot.
_METADATA_TABLE = """
(key) => {
  const entry = [...document.querySelectorAll('tr')].find(
    (tr) => tr.firstElementChild?.innerText.trim() === key && tr.querySelector('table'));
  if (!entry) return null;
  entry.scrollIntoView();
  return [...entry.querySelector('table').querySelectorAll('tr')].map(
    (tr) => [...tr.children].map((cell) => cell.innerText.trim()));
}
"""


# Each run row of the Runs list, newest first: its text as shown and how many failtrack tag
# pills it shows. A row: the first ancestor of a run's id link holding its View link.
_RUN_ROWS = """
() => [...document.querySelectorAll('a[href^="/runs/"]')]
  .filter((link) => /^[0-9a-f]{8}$/.test(link.innerText.trim()))
  .map((link) => {
    let row = link;
    while (row && ![...row.querySelectorAll('a')].some((a) => a.innerText.trim() === 'View'))
      row = row.parentElement;
    return row && {
      text: row.innerText,
      pills: [...row.querySelectorAll('.BaseTag')]
        .filter((pill) => pill.innerText.startsWith('failtrack/')).length,
    };
  })
  .filter((row) => row)
"""


@dataclass(frozen=True)
class RunRow:
    text: str
    pills: int


@contextmanager
def chromium_page(profile: Path) -> Iterator[Page]:
    """A page of a fresh headless Chromium whose profile lives in `profile`."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def metadata_table(page: Page, key: str, timeout: float = 60) -> list[dict[str, str]]:
    """The table metadata entry `key` of the page, as one dict per row (column -> text).

    Polled from here: the UI's content security policy forbids Playwright's in-page waits."""
    deadline = time.monotonic() + timeout
    while (table := page.evaluate(_METADATA_TABLE, key)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no table metadata entry {key!r} on {page.url}")
        time.sleep(0.5)
    header, *rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


def run_rows(page: Page, wait_for: str, timeout: float = 60) -> list[RunRow]:
    """The rows of the Runs list on `page` once `wait_for` is on screen, newest first."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [RunRow(**row) for row in page.evaluate(_RUN_ROWS)]
        if any(wait_for in row.text for row in rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"no run row showing {wait_for!r} on {page.url}")
        time.sleep(0.5)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target))
    return target
