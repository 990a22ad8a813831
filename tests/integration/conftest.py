"""Integration fixtures: a reproduced copy of the project in a temporary git repository."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, REPO, copy_tracked_files

STAGES = ["ingest", "prepare", "validate", "train", "export", "evaluate", "gate"]


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "GX_ANALYTICS_ENABLED": "False"}
    result = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def ran(output: str) -> list[str]:
    return re.findall(r"Running stage '([\w-]+)'", output)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git clone-alike of the project with no DVC outputs and an empty cache, reproduced once."""
    root = tmp_path_factory.mktemp("dvcrepo") / "repo"
    copy_tracked_files(root)
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, "git", "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    sh(root, "git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "copy")
    first = sh(root, "dvc", "repro")
    # Outputs with `cache: false` come with the clone, so a stage whose inputs hash the same as
    # in dvc.lock (the data and metric gates, whose reports are in git) is rightly skipped.
    ran_first = ran(first.stdout)
    # Stages whose outputs are DVC-cached must run on a clone with an empty cache.
    assert {"ingest", "prepare", "train", "evaluate"} <= set(ran_first)
    assert ran_first == [s for s in STAGES if s in ran_first]
    assert "Data and pipelines are up to date" in sh(root, "dvc", "status").stdout
    # Every stage is byte-reproducible, so a repro from scratch must record exactly the committed lock;
    # a difference means dvc.lock is stale (code or params changed without `dvc repro`) or a stage is not
    # deterministic.
    assert (root / "dvc.lock").read_text() == (REPO / "dvc.lock").read_text(), (
        "dvc.lock differs after `dvc repro` of a clean copy: run `dvc repro` and commit dvc.lock"
    )
    return root


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session (JVM) for the whole test session, built by the gate's own code: every Spark test
    and every in-process `pipeline validate` on the Spark engine reuses it. Skipped only without Java."""
    if shutil.which("java") is None:
        pytest.skip("no Java on PATH: the Spark engine's tests need Java 17+ (apt-get install openjdk-17-jre-headless)")
    from pipeline import spark_engine
    from pipeline.params import SparkParams

    # Two cores at most and a small driver: the CI machine is shared. Two shuffle partitions for tiny tables.
    params = SparkParams(master="local[2]", conf={"spark.driver.memory": "768m", "spark.sql.shuffle.partitions": 2})
    session = spark_engine.session(spark_engine.SparkSettings.from_params(params, env={}))
    yield session
    session.stop()
