"""Debian's `docker-registry` (CNCF distribution 2.x) as a child process on 127.0.0.1: the storage and
protocol behind the front. An earlier heroku-local killed without cleaning up may have left one running
on the same storage; it is stopped first, so the port and the files are ours.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import yaml

from heroku_local.errors import ServiceError, SetupError

log = logging.getLogger("heroku_local")


class RegistryProcess:
    """Debian's `docker-registry` (CNCF distribution 2.x) on 127.0.0.1, storing under `storage`."""

    def __init__(self, storage: Path, port: int) -> None:
        self.storage = storage
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        binary = shutil.which("docker-registry") or shutil.which("registry")
        if binary is None:
            raise SetupError(
                "heroku-local needs the CNCF registry binary: `apt-get install docker-registry` "
                "(Debian/Ubuntu) or put `registry` from distribution/distribution on PATH"
            )
        self.storage.mkdir(parents=True, exist_ok=True)
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "relativeurls": True, "secret": secrets.token_hex(16)},
        }
        config_path = self.storage / "config.yml"
        self._stop_orphan(config_path)
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        log_path = self.storage / "registry.log"
        with log_path.open("ab") as sink:
            self.process = subprocess.Popen(
                [binary, "serve", str(config_path)], stdout=sink, stderr=subprocess.STDOUT
            )
        (self.storage / "registry.pid").write_text(str(self.process.pid), encoding="utf-8")
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if self.process.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise ServiceError(
                    f"docker-registry exited with status {self.process.returncode}: {' | '.join(tail)}"
                )
            try:
                if httpx.get(f"{self.url}/v2/", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ServiceError(
            f"docker-registry did not answer on {self.url} within {timeout:.0f} s; see {log_path}"
        )

    def _stop_orphan(self, config_path: Path) -> None:
        """A registry an earlier, killed heroku-local left running on this same storage."""
        try:
            pid = int((self.storage / "registry.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(config_path).encode() in cmdline:
            log.info("stopping the registry an earlier heroku-local left running (pid %d)", pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                try:
                    if not Path(f"/proc/{pid}/cmdline").read_bytes():
                        break  # a zombie: gone as far as the port is concerned
                except OSError:
                    break
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
