"""Real `dvc repro` in a temporary git repository holding a copy of the project."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO

pytestmark = pytest.mark.integration

STAGES = ["ingest", "prepare", "validate", "train", "evaluate", "gate"]


def sh(cwd: Path, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "GX_ANALYTICS_ENABLED": "False"}
    env.pop("GITHUB_ACTIONS", None)
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
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in tracked.splitlines():
        src = REPO / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, "git", "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    sh(root, "git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "copy")
    first = sh(root, "dvc", "repro")
    # Outputs with `cache: false` come with the clone, so a stage whose inputs hash the same as
    # in dvc.lock (the metric gate, when metrics are unchanged) is rightly skipped.
    assert ran(first.stdout)[:5] == STAGES[:5]
    assert "Data and pipelines are up to date" in sh(root, "dvc", "status").stdout
    return root


def test_noop_repro_runs_nothing(repo: Path) -> None:
    out = sh(repo, "dvc", "repro").stdout
    assert ran(out) == []
    assert all(f"Stage '{s}' didn't change" in out for s in STAGES)


def test_changing_one_hyperparameter_reruns_only_train_onward(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["random_forest"]["n_estimators"] = 50
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh(repo, "dvc", "repro").stdout
    # The gate re-runs only if the metrics file changed; nothing upstream of train may run.
    assert ran(out)[:2] == ["train", "evaluate"]
    assert set(ran(out)) <= {"train", "evaluate", "gate"}
    meta = yaml.safe_load((repo / "models" / "model.json").read_text())
    assert meta["hyperparameters"]["n_estimators"] == 50


def test_push_and_pull_round_trip_data_and_models(repo: Path) -> None:
    sh(repo, "dvc", "push")
    tracked = [repo / "data/raw/penguins.csv", repo / "data/prepared/train.parquet", repo / "models/model.skops"]
    before = {p: digest(p) for p in tracked}
    shutil.rmtree(repo / ".dvc" / "cache")
    for p in tracked:
        p.unlink()
    sh(repo, "dvc", "pull")
    assert {p: digest(p) for p in tracked} == before
    assert (repo / ".dvc-storage").is_dir()


def test_bad_data_stops_the_dag_before_training(repo: Path) -> None:
    model, metrics = repo / "models/model.skops", repo / "reports/metrics.json"
    before = (digest(model), digest(metrics))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["source"] = str(REPO / "tests/data/bad/unseen_category.csv")
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = sh(repo, "dvc", "repro", check=False)
    assert result.returncode != 0
    assert ran(result.stdout) == ["ingest", "prepare", "validate"]
    assert "column 'island'" in result.stderr and "'Atlantis'" in result.stderr
    assert (digest(model), digest(metrics)) == before
