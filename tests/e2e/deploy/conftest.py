"""Fixtures for the deploy tests.

End-to-end fixtures need the real Docker engine, Debian's docker-registry and the stand-in base
image (`sudo make engine` provides all three). Without them the e2e tests skip with that hint on a
laptop, and FAIL when CI=true: in CI they must run.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import requests
from pydantic import SecretStr

from tests.conftest import engine_unavailable

# The serving image fixtures (built once per session), for the deploy of the real image.
from tests.e2e.serve.conftest import build_context, serving_image  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]
STANDIN = Path(__file__).parent / "standin"
BASE_IMAGE = "local/python-base:3.11"
ACCEPT = "application/vnd.heroku+json; version=3"
# name -> (MODE, VERSION) of the stand-in serving image (tests/deploy/standin/app.py)
IMAGES = {
    "good-v1": ("good", "1"),
    "good-v2": ("good", "2"),
    "othermodel": ("good", "3"),
    "noport": ("noport", "1"),
    "badshape": ("badshape", "1"),
    "crash": ("crash", "1"),
    "loopback": ("loopback", "1"),
    "stubborn": ("stubborn", "1"),
    "hog": ("hog", "1"),
    "release-ok": ("release-ok", "1"),
    "release-fail": ("release-fail", "1"),
    "spike": ("spike", "4"),
}
_names = itertools.count()


def unavailable(reason: str) -> NoReturn:
    engine_unavailable(reason, "the end-to-end deploy tests")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    import docker

    client = None
    try:
        client = docker.from_env(timeout=600)
        client.ping()
        problem = None
    except Exception as exc:
        problem = f"no Docker engine ({type(exc).__name__})"
    if problem is None and shutil.which("docker-registry") is None:
        problem = "no docker-registry binary"
    if problem is None:
        try:
            client.images.get(BASE_IMAGE)
        except Exception:
            problem = f"no {BASE_IMAGE} image"
    if problem is not None:
        if client is not None:
            client.close()
        # docker-py leaves the socket of a failed connect for the GC; collect it here, quietly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            client = None
            gc.collect()
        unavailable(problem)
    yield client
    client.close()


@pytest.fixture(scope="session")
def images(docker_client: Any) -> Iterator[dict[str, str]]:
    """Tiny stand-in serving images, one per behaviour (about 1 s each on a warm build cache)."""
    built = {}
    session = secrets.token_hex(4)
    ours = json.loads((ROOT / "models" / "model.json").read_text())["sha256"]
    for name, (mode, version) in IMAGES.items():
        # Per-session tags: the engine is shared, and another run of these tests must not swap images.
        tag = f"deploytest/{name}:e2e-{session}"
        docker_client.images.build(
            path=str(STANDIN),
            tag=tag,
            rm=True,
            buildargs={
                "MODE": mode,
                "VERSION": version,
                "BASE": BASE_IMAGE,
                "MODEL_SHA256": "0" * 64 if name == "othermodel" else ours,
            },
        )
        built[name] = tag
    yield built
    for tag in built.values():
        # A dyno of a failed test may still hold an image; leaving the tag is harmless then.
        with contextlib.suppress(Exception):
            docker_client.images.remove(tag)


@pytest.fixture(scope="session")
def api_key() -> str:
    return "hk-test-" + secrets.token_hex(16)


@pytest.fixture(scope="session")
def local(docker_client: Any, tmp_path_factory: pytest.TempPathFactory, api_key: str) -> Iterator[Any]:
    from heroku_local.runtime import RuntimeRules
    from heroku_local.server import HerokuLocal, LocalConfig

    config = LocalConfig(
        home=tmp_path_factory.mktemp("heroku-local"),
        api_key=SecretStr(api_key),
        rules=RuntimeRules(boot_timeout=3, stop_timeout=2, release_timeout=60),
    )
    with HerokuLocal(config) as running:
        yield running


@pytest.fixture
def make_app(local: Any) -> Iterator[Callable[..., str]]:
    """Fresh apps on the shared heroku-local; their dynos are stopped and faults cleared afterwards."""
    created: list[str] = []

    def make(stem: str = "app", stack: str = "container", boot_timeout: float | None = None) -> str:
        name = f"t{next(_names)}-{stem}"
        local.create_app(name, stack, boot_timeout)
        created.append(name)
        return name

    yield make
    local.faults.clear()
    for name in created:
        local.platform.delete_app(name)


class Platform:
    """Direct Platform API calls, to look at state from outside the deployer."""

    def __init__(self, local: Any, key: str) -> None:
        self.local = local
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {key}", "Accept": ACCEPT})

    def get(self, path: str, **headers: str) -> Any:
        resp = self.http.get(self.local.api_url + path, headers=headers, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def releases(self, app: str) -> list[dict[str, Any]]:
        return sorted(self.get(f"/apps/{app}/releases"), key=lambda r: r["version"])

    def current(self, app: str) -> dict[str, Any]:
        return next(r for r in self.releases(app) if r["current"])

    def web_url(self, app: str) -> str:
        return str(self.get(f"/apps/{app}")["web_url"])

    def serving(self, app: str) -> str | None:
        """The stand-in VERSION the app's router serves now, or None if it does not answer 200."""
        resp = requests.get(self.web_url(app) + "version", timeout=10)
        return resp.json()["version"] if resp.status_code == 200 else None

    def fault(self, **spec: Any) -> None:
        resp = self.http.post(self.local.api_url + "/__heroku_local/faults", json=spec, timeout=10)
        resp.raise_for_status()


@pytest.fixture
def platform(local: Any, api_key: str) -> Iterator[Platform]:
    direct = Platform(local, api_key)
    yield direct
    direct.http.close()


@pytest.fixture
def cli(local: Any, api_key: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `pipeline` CLI against the shared heroku-local, with short waits."""

    def run(
        *args: str, key: str | None = None, verbose: bool = False, root: Path = ROOT
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HEROKU_"))}
        env["HEROKU_API_KEY"] = api_key if key is None else key
        env["HEROKU_LOCAL_HOME"] = str(local.config.home)
        waits = [
            "--target",
            "local",
            "--poll",
            "0.3",
            "--boot-wait",
            "20",
            "--ready-wait",
            "10",
            "--timeout",
            "180",
        ]
        command = [
            sys.executable,
            "-m",
            "pipeline",
            *(["-v"] if verbose else []),
            "-C",
            str(root),
            *args,
            *waits,
            "--timeout",
            "180",
            "--record-dir",
            str(tmp_path / "records"),
        ]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)

    return run
