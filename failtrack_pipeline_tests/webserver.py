"""Run the real `dagster-webserver` on loopback for tests and screenshots, and talk GraphQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "workspace.yaml"
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def dagster_webserver(home: Path, env: dict[str, str], timeout: float = 90) -> Iterator[str]:
    """The webserver serving failtrack's workspace over `home`; yields its base URL once the
    code location has loaded. Its output goes to `home/webserver.log`."""
    port = free_port()
    executable = str(Path(sys.executable).parent / "dagster-webserver")
    command = [executable, "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKSPACE)]
    with open(home / "webserver.log", "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=os.environ | env | {"DAGSTER_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server too is stopped with its process group
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _location_loaded(url), timeout, process, home)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    body = {"query": query, "variables": variables}
    response = httpx.post(f"{url}/graphql", json=body, timeout=60)
    response.raise_for_status()
    answer = response.json()
    if "errors" in answer:
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def wait_for(
    ready: Callable[[], bool], timeout: float, process: subprocess.Popen[bytes], home: Path
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            log = (home / "webserver.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"dagster-webserver did not come up:\n{log}")
        time.sleep(0.5)


_LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    loadStatus locationOrLoadError { __typename } } } } }
"""


def _location_loaded(url: str) -> bool:
    try:
        if httpx.get(f"{url}/server_info", timeout=5).status_code != 200:
            return False
        entries = graphql(url, _LOCATIONS)["workspaceOrError"]["locationEntries"]
    except httpx.HTTPError:
        return False
    loaded = [(entry["locationOrLoadError"] or {}).get("__typename") for entry in entries]
    if "PythonError" in loaded:
        raise RuntimeError(f"the code location failed to load: see {url}/locations")
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)
