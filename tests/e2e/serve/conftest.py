"""End-to-end fixtures: a real Docker engine, the real Dockerfile built once per session, containers.

Without an engine these tests skip with a how-to; with CI=true a missing engine is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from model_server import served_model
from pipeline import model as model_io
from pipeline.container import image
from pipeline.errors import PipelineError
from tests.conftest import engine_unavailable

ROOT = Path(__file__).resolve().parents[3]
STAND_IN = "local/python-base:3.11-ca"
# Image repository and container name prefix; jobs sharing one engine each set their own.
REPOSITORY = os.environ.get("SERVE_E2E_REPOSITORY", "serve-e2e")
# What the Dockerfile copies, besides the model and metrics the pipeline produces, and the example data the
# stages train on when the repository has no model (.dockerignore keeps the data out of the image).
SOURCES = ["Dockerfile", ".dockerignore", "requirements/serve.txt", "model_server", "pipeline", "gx", "params.yaml",
           "dvc.yaml", "dvc.lock", "data/external"]


@pytest.fixture(scope="session")
def docker_client() -> Any:
    try:
        return image.connect(timeout=600)
    except PipelineError as exc:
        engine_unavailable(str(exc), "the serving image tests")


def _run_stage(root: Path, stage: str) -> None:
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}
    result = subprocess.run([sys.executable, "-m", "pipeline", "-C", str(root), stage],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, f"pipeline {stage}: {result.stderr}"


@pytest.fixture(scope="session")
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the image needs, with the repository's model if it passes its integrity check,
    otherwise one the pipeline's own stages train here (a fresh clone has no DVC outputs)."""
    ctx = tmp_path_factory.mktemp("image-context")
    for name in SOURCES:
        src = ROOT / name
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, ctx / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, ctx / name)
    try:
        model_io.verify(ROOT / "models" / "model.skops", ROOT / "models" / "model.json")
        served_model.verify(ROOT / "models" / "model.onnx", ROOT / "models" / "serving.json")
        has_metrics = (ROOT / "reports" / "metrics.json").is_file()
    except PipelineError:
        has_metrics = False
    if has_metrics:
        shutil.copytree(ROOT / "models", ctx / "models")
        (ctx / "reports").mkdir()
        shutil.copy2(ROOT / "reports" / "metrics.json", ctx / "reports" / "metrics.json")
    else:
        for stage in ("ingest", "prepare", "train", "export", "evaluate"):
            _run_stage(ctx, stage)
    return ctx


@pytest.fixture(scope="session")
def serving_image(docker_client: Any, build_context: Path) -> image.BuiltImage:
    """The real Dockerfile, built once per session (later sessions reuse the engine's layer cache).
    Where Docker Hub is unreachable, the stand-in base from `make engine` replaces python:3.11-slim."""
    args: dict[str, str] = {}
    network = None
    if docker_client.images.list(name=STAND_IN):
        args, network = {"PYTHON_IMAGE": STAND_IN}, "host"
    spec = image.BuildSpec(context=build_context, repository=REPOSITORY, git_commit="e2e0123456789abcdef",
                           build_args=args, network_mode=network)
    return image.build(docker_client, spec)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def start_container(docker_client: Any, serving_image: image.BuiltImage) -> Iterator[Callable[..., Any]]:
    """start_container(user=..., environment=..., volumes=...) -> (container, base_url); removed afterwards."""
    started: list[Any] = []

    def start(*, user: str | None = None, environment: dict[str, str] | None = None,
              volumes: dict[str, dict[str, str]] | None = None, wait: bool = True) -> tuple[Any, str]:
        port = free_port()
        container = docker_client.containers.run(
            serving_image.id, name=f"{REPOSITORY}-{port}", detach=True, user=user,
            environment={"PORT": str(port), **(environment or {})},
            ports={f"{port}/tcp": ("127.0.0.1", port)}, volumes=volumes or {},
        )
        started.append(container)
        url = f"http://127.0.0.1:{port}"
        if wait:
            image.wait_ready(url, container, timeout=90)
        return container, url

    yield start
    for container in started:
        container.remove(force=True)
