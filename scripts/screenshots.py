"""Retake the README's screenshots of the Dagster UI as failtrack's dashboard.

    .venv/bin/python scripts/screenshots.py

Runs the browser test (`failtrack demo`, the real webserver, Debian's headless `chromium`
driven by Playwright: `apt-get install -y chromium` first), which photographs what it
checks, and copies those pictures into docs/ of the working copy this script is in.
Slow (a minute or more).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # this working copy, wherever failtrack is installed
BROWSER_TEST = REPO / "failtrack_pipeline_tests" / "browser"
# The browser test's picture -> the README's image.
IMAGES = {
    "sources-overview.png": "screenshot-sources-overview.png",
    "failure-groups.png": "screenshot-failure-groups.png",
    "source-trend.png": "screenshot-source-trend.png",
    "failed-runs.png": "screenshot-failed-runs.png",
    "runs-list.png": "screenshot-runs-list.png",
}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="failtrack-shots-") as shots:
        test = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(BROWSER_TEST)]
        # This working copy's code first, also where the venv's editable install is another.
        env = os.environ | {"FAILTRACK_SCREENSHOTS_DIR": shots, "PYTHONPATH": str(REPO)}
        subprocess.run(test, cwd=REPO, env=env, check=True)
        for picture, image in IMAGES.items():
            target = REPO / "docs" / image
            shutil.copyfile(Path(shots) / picture, target)
            print(f"wrote {target.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
