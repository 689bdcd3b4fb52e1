"""Run the real `dagster-webserver` on loopback for tests and screenshots, and talk GraphQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
WORKSPACE = REPO / "workspace.yaml"
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def dagster_webserver(home: Path, env: dict[str, str], timeout: float = 90) -> Iterator[str]:
    """The webserver serving failtrack's workspace over `home`; yields its base URL once the
    code location has loaded. Its output goes to `home/dagster-webserver.log`."""
    port = free_port()
    args = ["-h", "127.0.0.1", "-p", str(port), "-w", str(WORKSPACE)]
    with dagster_process("dagster-webserver", args, home, env) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _location_loaded(url), timeout, process, home)
        yield url


@contextmanager
def dagster_process(
    command: str,
    args: list[str],
    home: Path,
    env: Mapping[str, str],
    log_name: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` (a Dagster executable of this environment) run from the repository over
    `home`, its output in `home/<log_name or command>.log`; stopped with its process group
    on exit."""
    executable = str(Path(sys.executable).parent / command)
    with open(log_path(home, log_name or command), "wb") as log:
        process = subprocess.Popen(
            [executable, *args],
            cwd=REPO,
            env={**os.environ, **env, "DAGSTER_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code servers and run workers stop with its group
        )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def log_path(home: Path, command: str) -> Path:
    return home / f"{command}.log"


def log_tail(home: Path, command: str, chars: int = 3000) -> str:
    return log_path(home, command).read_text(errors="replace")[-chars:]


def graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    body = {"query": query, "variables": variables}
    response = httpx.post(f"{url}/graphql", json=body, timeout=60)
    response.raise_for_status()
    answer = response.json()
    if "errors" in answer:
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def wait_for(
    ready: Callable[[], bool],
    timeout: float,
    process: subprocess.Popen[bytes],
    home: Path,
    command: str = "dagster-webserver",
) -> None:
    """Wait until `ready()`; fail with the tail of the command's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{command} did not come up:\n{log_tail(home, command)}")
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
