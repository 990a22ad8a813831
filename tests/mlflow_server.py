"""A real MLflow tracking server on loopback (SQLite backend, local artifact root) for the tracking tests.

The project's venv has only the MLflow client (`mlflow-skinny`, the `tracking` extra): the full `mlflow`
package, which carries the server, pins gunicorn < 27 and pyarrow < 26, below the project's locked
gunicorn (serving image) and pyarrow. So the server runs in its own environment, made by uv (in the dev
extra) from PyPI at the client's exact version and cached by uv after the first run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@dataclass(frozen=True)
class MlflowServer:
    uri: str
    root: Path
    log: Path


@contextmanager
def mlflow_server(root: Path, startup_timeout: float = 240.0) -> Iterator[MlflowServer]:
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
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not healthy after {startup_timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield MlflowServer(uri=uri, root=root, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
