"""A real MLflow tracking server on loopback (SQLite backend, local artifact root) for the tracking tests.

The project's venv has only the MLflow client (`mlflow-skinny`, the `tracking` extra): the full `mlflow`
package, which carries the server, pins gunicorn < 27 and pyarrow < 26, below the project's locked
gunicorn (serving image) and pyarrow. So the server runs in its own environment, made by uv (in the dev
extra) from PyPI at the client's exact version and cached by uv after the first run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import requests

from tests.conftest import BIN

SERVER_VERSION = version("mlflow-skinny")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowServer:
    """A started server; `wait()` blocks until /health answers, so its boot can overlap other set-up."""

    uri: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]
    startup_timeout: float
    healthy: bool = False

    def wait(self) -> str:
        deadline = time.monotonic() + self.startup_timeout
        while not self.healthy:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            with suppress(requests.RequestException):
                self.healthy = requests.get(f"{self.uri}/health", timeout=2).status_code == 200
            if not self.healthy:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server not healthy after {self.startup_timeout} s:\n"
                                       f"{self.log.read_text()[-3000:]}")
                time.sleep(0.5)
        return self.uri


@contextmanager
def mlflow_server(root: Path, startup_timeout: float = 300.0) -> Iterator[MlflowServer]:
    """Start `mlflow server` (SQLite backend, artifacts under root) on a free loopback port; stop it at exit."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = root / "server.log"
    env = {**os.environ, "UV_SYSTEM_CERTS": os.environ.get("UV_SYSTEM_CERTS", "1")}
    for name in [n for n in env if n.startswith("MLFLOW_")]:
        del env[name]
    command = [
        str(BIN / "uv"), "tool", "run", "--quiet", "--from", f"mlflow=={SERVER_VERSION}", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--workers", "1",
    ]
    with log.open("wb") as out:
        # Its own process group: uv, the mlflow launcher and uvicorn are stopped together at the end.
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root,
                                   start_new_session=True)
    try:
        yield MlflowServer(f"http://127.0.0.1:{port}", root, log, process, startup_timeout)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue
