"""A Redis broker and `dagster-celery` workers on loopback, for the Celery end-to-end test.

Redis is the system's `redis-server` (Debian's package; scripts/test installs it), on a free
port with its files in a directory of ours and nothing persisted. The workers are the
command the docs give (`dagster-celery worker start` with deploy/celery/celery.yaml), each a
process of its own over the deployment's Dagster home and environment.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from failtrack_pipeline.testing.deployment import Deployment
from failtrack_pipeline.testing.webserver import REPO, dagster_process, free_port, log_path

CELERY_YAML = REPO / "deploy" / "celery" / "celery.yaml"
CELERY_DAGSTER_YAML = REPO / "deploy" / "celery" / "dagster.yaml"


@contextmanager
def redis_server(workdir: Path, timeout: float = 30) -> Iterator[str]:
    """A throwaway `redis-server` on 127.0.0.1; yields its URL (`redis://127.0.0.1:PORT`)."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed: apt-get install -y redis-server")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir)]
    args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    with open(workdir / "redis-server.log", "wb") as log:
        process = subprocess.Popen([executable, *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not _answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log_text = (workdir / "redis-server.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server did not come up:\n{log_text[-2000:]}")
            time.sleep(0.2)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def celery_workers(
    deployment: Deployment, names: Sequence[str], concurrency: int = 1, timeout: float = 120
) -> Iterator[None]:
    """One `dagster-celery` worker process per name (`concurrency` tasks at a time each),
    loading the code and the instance as the deployment does; stopped on exit."""
    bin_dir = str(Path(sys.executable).parent)  # dagster-celery runs `celery` from PATH
    env = {**deployment.env, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    with ExitStack() as stack:
        for name in names:
            args = ["worker", "start", "-A", "dagster_celery.app", "-y", str(CELERY_YAML)]
            args += ["-n", name, "--", f"--concurrency={concurrency}"]
            stack.enter_context(
                dagster_process("dagster-celery", args, deployment.home, env, worker_log(name))
            )
        deadline = time.monotonic() + timeout
        while not all(_worker_ready(deployment.home, name) for name in names):
            if time.monotonic() > deadline:
                logs = {name: _tail(deployment.home, name) for name in names}
                raise RuntimeError(f"celery workers did not come up: {logs}")
            time.sleep(0.5)
        yield


def worker_log(name: str) -> str:
    return f"celery-{name}"


def _worker_ready(home: Path, name: str) -> bool:
    path = log_path(home, worker_log(name))
    return (
        path.exists()
        and f"{name}@" in (text := path.read_text(errors="replace"))
        and (" ready." in text)
    )


def _tail(home: Path, name: str) -> str:
    path = log_path(home, worker_log(name))
    return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"
