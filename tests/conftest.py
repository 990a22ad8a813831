"""Shared fixtures: factories for params, and copies of the project to run stages in tmp_path."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from pipeline.params import Params, parse_params

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# Every `dvc` command otherwise forks a daemon that tries to send usage analytics (unreachable here, and a
# second of CPU per command on a 2-core machine).
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# botocore (dvc-s3, boto3) would otherwise look for credentials at the EC2 metadata address: tests
# talk to loopback only.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

# The suite itself runs inside GitHub Actions (the `test` job). The variables a runner sets change what our
# code does (`::error::` annotation lines, step summaries, outputs written to the runner's files), so no test
# may inherit them: a test that wants Actions behaviour sets them itself. `CI` stays, it only decides whether
# a missing Docker engine fails the end-to-end tier. tests/integration/test_inside_actions.py runs the unit
# tier with a runner's variables set to keep this true.
RUNNER_VARIABLE_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_")
for _name in [name for name in os.environ if name.startswith(RUNNER_VARIABLE_PREFIXES)]:
    del os.environ[_name]

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a project needs to run the pipeline: everything else is code, installed in the venv.
PROJECT_FILES = ["params.yaml", "dvc.yaml", "gx", "data/external"]


def engine_unavailable(reason: str, tiers: str) -> NoReturn:
    """The one policy for a missing Docker engine: tests that need it must run in CI (`.ci/run` starts it through
    `make engine`), so under CI=true it is a failure; on a developer's machine they skip with the fix."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}: {tiers} must run in CI (`make test` runs `make engine` first)")
    pytest.skip(f"{reason}: run `sudo make engine` to enable {tiers}")


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        node = node.setdefault(key, {})
    if value is _DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value


_DELETE = object()


@pytest.fixture
def delete() -> object:
    """Sentinel for make_params/make_params_dict: remove the key instead of setting it."""
    return _DELETE


@pytest.fixture(scope="session")
def base_params_dict() -> dict[str, Any]:
    return yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def make_params_dict(base_params_dict: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """make_params_dict(**{"gates.metrics.min_accuracy": 0.5}) -> the repo's params with overrides."""

    def factory(**overrides: Any) -> dict[str, Any]:
        tree = copy.deepcopy(base_params_dict)
        for dotted, value in overrides.items():
            _set_dotted(tree, dotted, value)
        return tree

    return factory


@pytest.fixture
def make_params(make_params_dict: Callable[..., dict[str, Any]]) -> Callable[..., Params]:
    def factory(**overrides: Any) -> Params:
        return parse_params(make_params_dict(**overrides))

    return factory


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / name)
    return dest


def copy_tracked_files(root: Path) -> Path:
    """The project's git-tracked files (as in the working tree) copied under root: a clone without history."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in tracked.splitlines():
        src = REPO / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    return root


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `pipeline` console script, as DVC and users do."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "GX_ANALYTICS_ENABLED": "False"}
    return subprocess.run(
        [str(BIN / "pipeline"), "-C", str(root), *args], capture_output=True, text=True, env=env, timeout=600
    )


@dataclass(frozen=True)
class Measured:
    """A finished command with what it cost: its own peak resident memory and wall time."""

    returncode: int
    stdout: str
    stderr: str
    peak_mib: float
    seconds: float


def run_cli_measured(root: Path, *args: str, timeout: float = 300) -> Measured:
    """run_cli, reaped with wait4 so the command's own peak RSS (ru_maxrss) is known, not the test session's.

    Output goes to files, not pipes: nothing has to be read while the command runs, and no pipe can fill up.
    """
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "GX_ANALYTICS_ENABLED": "False"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen([str(BIN / "pipeline"), "-C", str(root), *args], stdout=out, stderr=err, env=env)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise AssertionError(f"pipeline {' '.join(args)} ran over {timeout:.0f} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024, seconds)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project that has run every stage once on the embedded data (the 'last good' state)."""
    root = copy_project(tmp_path_factory.mktemp("golden") / "project")
    for stage in ("ingest", "prepare", "validate", "train", "evaluate", "report"):
        result = run_cli(root, stage)
        assert result.returncode == 0, f"{stage}: {result.stderr}"
    return root


@pytest.fixture
def project(trained_project: Path, tmp_path: Path) -> Path:
    """A private copy of the trained project for a test to break."""
    dest = tmp_path / "project"
    shutil.copytree(trained_project, dest)
    return dest
