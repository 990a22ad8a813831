"""Build and run the serving image through the Docker Engine API (the `docker` package).

The classic builder is used on purpose: it produces a Docker v2 manifest (no OCI index, no
provenance attestations) and its image id is the config digest, which is what Heroku's
formation API takes as `docker_image`.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_server import served_model
from pipeline import git
from pipeline import model as model_io
from pipeline.errors import ConfigError, ExternalError, ModelError

Progress = Callable[[str], None]
MODEL_LABEL = "io.mlops-ci.model.sha256"


def connect(timeout: int = 120) -> Any:
    """A client for the engine named by DOCKER_HOST (default: the local socket), checked with a ping."""
    import docker

    _probe_unix_socket(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    client = None
    try:
        # A fixed API version (Engine 20.10+, still accepted by current engines) skips the version probe,
        # which leaks its socket when the engine is down.
        client = docker.from_env(timeout=timeout, version=os.environ.get("DOCKER_API_VERSION", "1.41"))
        client.ping()
    except Exception as exc:  # docker raises DockerException, requests errors, FileNotFoundError...
        if client is not None:
            client.close()
        raise ExternalError(
            f"Docker engine not reachable ({type(exc).__name__}); start it (`make engine`) or set DOCKER_HOST"
        ) from None
    return client


def _probe_unix_socket(host: str) -> None:
    """Fail fast on a dead local socket (docker-py leaks its socket when the connect fails)."""
    if not host.startswith("unix://"):
        return
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(path)
        except OSError as exc:
            raise ExternalError(
                f"Docker engine not reachable at {host} ({exc.strerror or type(exc).__name__}); "
                "start it (`make engine`) or set DOCKER_HOST"
            ) from None


def source_url(root: Path) -> str | None:
    """Where the image's source lives: the GitHub repository in Actions, else the git remote."""
    server, repo = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    if server and repo:
        return f"{server}/{repo}"
    return git.origin_url(root)


@dataclass(frozen=True)
class BuildSpec:
    context: Path
    repository: str = "mlops-model"
    dockerfile: str = "Dockerfile"
    git_commit: str = "unknown"
    build_args: Mapping[str, str] = field(default_factory=dict)
    network_mode: str | None = None
    platform: str = "linux/amd64"
    pull: bool = False
    cache_from: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True)
class BuiltImage:
    id: str
    tags: tuple[str, ...]
    size: int
    model_sha256: str
    layers: tuple[tuple[str, int], ...] = ()

    @property
    def size_mb(self) -> float:
        return self.size / 1e6


def build(client: Any, spec: BuildSpec, progress: Progress = lambda _line: None) -> BuiltImage:
    """Verify the model in the context, build, tag with the commit and the model hash."""
    models = spec.context / "models"
    # An image must never carry a model that fails its own integrity check.
    meta = model_io.verify(models / "model.skops", models / "model.json")
    sha = meta.sha256
    # What the image runs is the ONNX export; it must be intact and exported from this very model.
    served = served_model.verify(models / "model.onnx", models / "serving.json")
    if served.model.sha256 != sha:
        raise ModelError(
            f"{models / 'model.onnx'}: exported from model {served.model.sha256[:12]}, not from "
            f"{models / 'model.skops'} ({sha[:12]}); run `dvc repro export`"
        )
    commit = spec.git_commit
    tags = (f"{spec.repository}:{commit[:12]}", f"{spec.repository}:model-{sha[:12]}")
    if not (spec.context / spec.dockerfile).is_file():
        raise ConfigError(f"{spec.context / spec.dockerfile}: Dockerfile not found; pass --context/--dockerfile")
    import docker.errors

    image_id: str | None = None
    try:
        stream = client.api.build(
            path=str(spec.context),
            dockerfile=spec.dockerfile,
            tag=tags[0],
            buildargs={"GIT_COMMIT": commit, **spec.build_args},
            labels={MODEL_LABEL: sha, "org.opencontainers.image.revision": commit,
                    "org.opencontainers.image.title": spec.repository,
                    **({"org.opencontainers.image.source": spec.source} if spec.source else {})},
            cache_from=list(spec.cache_from) or None,
            network_mode=spec.network_mode,
            platform=spec.platform,
            pull=spec.pull,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise ExternalError(f"docker build failed: {str(detail).strip().splitlines()[-1]}")
            if "stream" in chunk and chunk["stream"].strip():
                progress(chunk["stream"].rstrip())
            elif "status" in chunk:
                progress(f"{chunk['status']} {chunk.get('progress', '')}".rstrip())
            aux = chunk.get("aux")
            if isinstance(aux, dict) and "ID" in aux:
                image_id = aux["ID"]
        image = client.images.get(image_id or tags[0])
        repo, tag = tags[1].rsplit(":", 1)
        image.tag(repo, tag)
    except docker.errors.DockerException as exc:
        raise ExternalError(f"docker build failed: {exc}") from None
    return BuiltImage(id=image.id, tags=tags, size=int(image.attrs["Size"]), model_sha256=sha,
                      layers=layer_sizes(client, image.id))


def layer_sizes(client: Any, image_id: str) -> tuple[tuple[str, int], ...]:
    """(instruction, bytes) per layer, oldest first; empty metadata layers left out."""
    history = client.api.history(image_id)
    rows = [(str(h.get("CreatedBy", "")), int(h.get("Size", 0))) for h in reversed(history)]
    return tuple((cmd.replace("/bin/sh -c #(nop) ", "").strip()[:90], size) for cmd, size in rows if size)


@dataclass(frozen=True)
class RunSpec:
    image: str
    name: str
    port: int = 8000
    host_port: int | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    cpus: float | None = None
    memory: str | None = None


def run(client: Any, spec: RunSpec) -> Any:
    """Start the container detached, $PORT set, published on loopback only."""
    import docker.errors

    try:
        return client.containers.run(
            spec.image,
            name=spec.name,
            detach=True,
            environment={"PORT": str(spec.port), **spec.environment},
            ports={f"{spec.port}/tcp": ("127.0.0.1", spec.host_port or spec.port)},
            user=spec.user,
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
            mem_limit=spec.memory,
        )
    except docker.errors.ImageNotFound:
        raise ConfigError(f"image {spec.image} not found; build it with `pipeline image build`") from None
    except docker.errors.DockerException as exc:
        raise ExternalError(f"docker run {spec.image} failed: {exc}") from None


def wait_ready(url: str, container: Any, timeout: float = 60.0, interval: float = 0.05) -> float:
    """Seconds until GET {url}/ready answers 200. Fails fast if the container exits."""
    import requests

    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < timeout:
        try:
            resp = requests.get(f"{url}/ready", timeout=2)
            if resp.status_code == 200:
                return time.monotonic() - start
            last = f"{resp.status_code} {resp.text[:200]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        container.reload()
        if container.status in {"exited", "dead"}:
            tail = container.logs(tail=5).decode(errors="replace").strip().replace("\n", " | ")
            raise ExternalError(f"container {container.name} exited before it was ready: {tail}")
        time.sleep(interval)
    raise ExternalError(f"{url}/ready not 200 after {timeout:.0f}s (last: {last}); see `docker logs {container.name}`")
