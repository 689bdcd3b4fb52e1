"""Screenshots of the Dagster UI as failtrack's dashboard, for docs/analysts.md.

    .venv/bin/python scripts/screenshots.py

Runs `failtrack demo` in a throwaway Dagster home (real scrapes of the demo sources, then
the dashboard), serves it with `dagster-webserver` on loopback and photographs it with
headless Chromium (Debian's `chromium` package: `apt-get install -y chromium`), driven over
the DevTools protocol so that it can wait for the data and open the preview:
- docs/screenshot-success-rates.png: the source_success_rates asset with its success-rate
  table (the materialization's markdown preview);
- docs/screenshot-failed-runs.png: the Runs page filtered by failtrack/status=failed.
Slow (half a minute or more), so not part of the test run.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from websockets.sync.client import ClientConnection, connect

from failtrack_pipeline.config.environment import DATABASE_URL_ENV
from failtrack_pipeline.testing.webserver import DAGSTER_YAML, REPO, dagster_webserver, graphql

DOCS = REPO / "docs"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1600,1000",
    "--remote-debugging-port=0",
]
_CLICK_SHOW_MARKDOWN = """
[...document.querySelectorAll('a')].find((a) => a.textContent.trim() === '[Show Markdown]').click()
"""


class Page:
    """One Chromium tab, spoken to over the DevTools protocol."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def text(self, selector: str) -> str:
        expression = f"document.querySelector({json.dumps(selector)})?.innerText ?? ''"
        return self.call("Runtime.evaluate", expression=expression)["result"].get("value", "")

    def wait_for_text(self, *needles: str, selector: str = "body", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not all(needle in self.text(selector) for needle in needles):
            if time.monotonic() > deadline:
                raise RuntimeError(f"page never showed {needles}")
            time.sleep(0.5)
        time.sleep(1)  # let layout and fonts settle

    def open(self, url: str, *needles: str) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=1600,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", url=url)
        self.wait_for_text(*needles)

    def screenshot(self, target: Path) -> None:
        image = self.call("Page.captureScreenshot", format="png")["data"]
        target.write_bytes(base64.b64decode(image))
        print(f"wrote {target.relative_to(REPO)}")


@contextmanager
def chromium_page(profile: Path) -> Iterator[Page]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        raise SystemExit("chromium not found: apt-get update && apt-get install -y chromium")
    command = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
    browser = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert browser.stderr is not None
        for line in browser.stderr:
            if found := re.search(r"DevTools listening on ws://([\d.]+:\d+)/", line):
                break
        else:
            raise RuntimeError("chromium exited before opening its DevTools port")
        targets = httpx.get(f"http://{found.group(1)}/json/list").json()
        (tab,) = [target for target in targets if target["type"] == "page"]
        with connect(tab["webSocketDebuggerUrl"], max_size=None) as socket:
            yield Page(socket)
    finally:
        browser.terminate()
        browser.wait(timeout=20)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="failtrack-ui-") as scratch:
        home = Path(scratch)
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
        env = {DATABASE_URL_ENV: f"sqlite:///{home / 'failtrack.db'}"}
        demo = [sys.executable, "-m", "failtrack_pipeline.cli", "demo"]
        demo_env = os.environ | env | {"DAGSTER_HOME": str(home)}
        subprocess.run(demo, env=demo_env, check=True, stderr=subprocess.DEVNULL)
        with dagster_webserver(home, env) as url, chromium_page(home / "chromium") as page:
            graphql(url, "mutation { setNuxSeen }")  # no "join the community" dialog

            page.open(f"{url}/assets/source_success_rates", "[Show Markdown]", "failing_sources")
            page.call("Runtime.evaluate", expression=_CLICK_SHOW_MARKDOWN)
            page.wait_for_text("offline_calendar", "healthy", selector="[role=dialog]")
            page.screenshot(DOCS / "screenshot-success-rates.png")

            failed = quote("tag:failtrack/status=failed")
            page.open(f"{url}/runs?q%5B0%5D={failed}", "failtrack/status: failed")
            page.screenshot(DOCS / "screenshot-failed-runs.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
