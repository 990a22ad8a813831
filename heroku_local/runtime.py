"""Dynos as containers on a real Docker engine, under Heroku's runtime rules.

- `PORT` is set for web dynos (a random port inside the container); `EXPOSE` is ignored.
- A random non-root uid:gid, whatever the image's `USER` says.
- `CMD` runs through `/bin/sh -c` unless the image has an `ENTRYPOINT`, as on Heroku (so config
  vars expand in it).
- The dyno size's memory quota is the container's memory limit (over it: OOM-kill -> R15).
- Stopping sends SIGTERM, then SIGKILL after the stop timeout (30 s on Heroku).
- "Bound $PORT" means a socket listening on 0.0.0.0 or :: in the dyno's network namespace, read
  from the kernel's table (/proc/<pid>/net/tcp*), so no probe traffic is sent and a process that
  only listens on 127.0.0.1 is not counted, just as Heroku's router could not reach it.
Each dyno's port is published on 127.0.0.1 only; the router talks to it there.
"""

from __future__ import annotations

import logging
import random
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from heroku_local.registry.index import ImageRef

log = logging.getLogger("heroku_local")

LABEL = "io.mlops-ci.heroku-local"
MEMORY_MB = {
    "eco": 512,
    "basic": 512,
    "standard-1x": 512,
    "standard-2x": 1024,
    "performance-m": 2560,
    "performance-l": 14336,
}


@dataclass(frozen=True)
class RuntimeRules:
    boot_timeout: float = 60.0
    stop_timeout: float = 30.0
    release_timeout: float = 3600.0
    default_size: str = "Standard-1X"
    memory_mb: dict[str, int] = field(default_factory=lambda: dict(MEMORY_MB))

    def memory_for(self, size: str) -> int:
        return self.memory_mb.get(size.lower(), self.memory_mb["standard-1x"])


class RuntimeFailure(Exception):
    """The engine could not do what a dyno needs; the message is the dyno's log line."""


def _hex_to_addr(hex_addr: str) -> str:
    if len(hex_addr) == 8:
        return ".".join(str(int(hex_addr[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return hex_addr  # IPv6: the raw form is enough to tell "any" (all zeros) from loopback


def listening(tables: str, port: int) -> set[str]:
    """Local addresses listening on `port` in /proc/net/tcp{,6} text ('0.0.0.0', '127.0.0.1', '::'...)."""
    found = set()
    for line in tables.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[3] != "0A" or ":" not in parts[1]:
            continue
        hex_addr, hex_port = parts[1].rsplit(":", 1)
        try:
            if int(hex_port, 16) != port:
                continue
        except ValueError:
            continue
        if set(hex_addr) == {"0"}:
            found.add("::" if len(hex_addr) == 32 else "0.0.0.0")  # noqa: S104 - reading, not binding
        elif hex_addr == "00000000000000000000000001000000":
            found.add("::1")
        else:
            found.add(_hex_to_addr(hex_addr))
    return found


def reachable(addresses: set[str]) -> bool:
    return bool(addresses & {"0.0.0.0", "::"}) or any(  # noqa: S104 - reading, not binding
        a not in {"::1"} and not a.startswith("127.") for a in addresses
    )


class DockerRuntime:
    def __init__(self, client: Any, instance: str, network: str, pull_host: str, rules: RuntimeRules) -> None:
        self.client = client
        self.instance = instance
        self.network = network
        self.pull_host = pull_host
        self.rules = rules

    def labels(self, app: str, dyno: str) -> dict[str, str]:
        return {LABEL: self.instance, f"{LABEL}.app": app, f"{LABEL}.dyno": dyno}

    def prepare(self) -> None:
        """Remove what an earlier run of this instance left behind, and make the dyno network."""
        for container in self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.instance}"}):
            container.remove(force=True)
        try:
            self.client.networks.get(self.network)
        except docker.errors.NotFound:
            self.client.networks.create(self.network, driver="bridge", labels={LABEL: self.instance})

    def teardown(self) -> None:
        try:
            self.client.networks.get(self.network).remove()
        except docker.errors.APIError as exc:
            log.debug("network %s not removed: %s", self.network, exc)

    def image(self, ref: ImageRef) -> dict[str, Any]:
        """The image's engine attributes, pulled from the app's registry by digest when not local."""
        try:
            return dict(self.client.api.inspect_image(ref.config_digest))
        except docker.errors.ImageNotFound:
            pass
        name = f"{self.pull_host}/{ref.repository}@{ref.manifest_digest}"
        try:
            self.client.api.pull(name)
            return dict(self.client.api.inspect_image(ref.config_digest))
        except docker.errors.APIError as exc:
            raise RuntimeFailure(
                f"Error: could not fetch image {ref.config_digest[:19]} ({exc.explanation})"
            ) from None

    @staticmethod
    def command(attrs: dict[str, Any]) -> list[str] | None:
        config = attrs.get("Config") or {}
        cmd = config.get("Cmd")
        if config.get("Entrypoint") or not cmd:
            return None  # the engine runs ENTRYPOINT + CMD as they are
        # `exec`: the process, not the shell, gets SIGTERM at shutdown, as Heroku signals every
        # process of the dyno (the command is one quoted simple command, so exec is always valid).
        return ["/bin/sh", "-c", "exec " + " ".join(shlex.quote(part) for part in cmd)]

    def start(
        self, app: str, dyno: str, attrs: dict[str, Any], env: dict[str, str], size: str, port: int | None
    ) -> Any:
        uid = random.randint(10000, 60000)  # noqa: S311 - picking a uid, not a secret
        name = f"hl-{self.instance}-{app}-{dyno}-{random.randbytes(3).hex()}"  # noqa: S311
        kwargs: dict[str, Any] = {}
        if port is not None:
            kwargs["ports"] = {f"{port}/tcp": ("127.0.0.1", None)}
        container = self.client.containers.run(
            attrs["Id"],
            command=self.command(attrs),
            name=name,
            detach=True,
            environment=env,
            user=f"{uid}:{uid}",
            init=True,
            network=self.network,
            labels=self.labels(app, dyno),
            mem_limit=f"{self.rules.memory_for(size)}m",
            memswap_limit=f"{self.rules.memory_for(size)}m",
            hostname=dyno,
            **kwargs,
        )
        return container

    @staticmethod
    def host_port(container: Any, port: int) -> int:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp") or []
        if not bindings:
            raise RuntimeFailure("Error: the engine did not publish the dyno's port")
        return int(bindings[0]["HostPort"])

    def bound(self, container: Any, port: int) -> set[str]:
        """Addresses the dyno listens on at `port`; empty until it binds."""
        pid = int((container.attrs.get("State") or {}).get("Pid") or 0)
        tables = ""
        if pid:
            try:
                tables = "\n".join(Path(f"/proc/{pid}/net/{t}").read_text() for t in ("tcp", "tcp6"))
            except OSError:
                tables = ""
        if not tables:
            # An engine in a VM (Docker Desktop): read the same table from inside the dyno.
            try:
                result = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], user="0")
                tables = result.output.decode("utf-8", "replace") if result.exit_code == 0 else ""
            except Exception:
                tables = ""
        return listening(tables, port)

    @staticmethod
    def output(container: Any) -> Iterator[str]:
        buffer = b""
        try:
            for chunk in container.logs(stream=True, follow=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    yield line.decode("utf-8", "replace").rstrip("\r")
        except Exception as exc:
            log.debug("log stream ended: %s", exc)
        if buffer:
            yield buffer.decode("utf-8", "replace")

    @staticmethod
    def wait(container: Any, timeout: float | None = None) -> tuple[int, bool]:
        """Exit status and whether the kernel OOM-killed it."""
        result = container.wait(timeout=timeout)
        container.reload()
        oom = bool((container.attrs.get("State") or {}).get("OOMKilled"))
        return int(result.get("StatusCode", -1)), oom

    def stop(self, container: Any, timeout: float | None = None) -> None:
        try:
            container.stop(timeout=int(self.rules.stop_timeout if timeout is None else timeout))
        except docker.errors.APIError as exc:
            log.debug("stop %s: %s", container.name, exc)

    @staticmethod
    def kill(container: Any) -> None:
        try:
            container.kill()
        except docker.errors.APIError as exc:
            log.debug("kill %s: %s", container.name, exc)

    @staticmethod
    def remove(container: Any) -> None:
        try:
            container.remove(force=True)
        except docker.errors.APIError as exc:
            log.debug("remove %s: %s", container.name, exc)
