"""Real `dvc repro` in a temporary git repository holding a copy of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.conftest import STAGES, digest, ran, sh

pytestmark = pytest.mark.integration


def test_noop_repro_runs_nothing(repo: Path) -> None:
    out = sh(repo, "dvc", "repro").stdout
    assert ran(out) == []
    assert all(f"Stage '{s}' didn't change" in out for s in STAGES)


def test_the_data_gate_reuses_the_reproduced_verdict_only_while_its_inputs_are_unchanged(repo: Path) -> None:
    reused = "reused the verdict `dvc repro` recorded"
    # The clone's repro skipped validate (its reports come with the clone), so there are no Data Docs: the gate
    # says how to build them instead of validating unchanged data.
    docs = repo / "reports" / "data_docs"
    assert not docs.exists()
    first = sh(repo, "pipeline", "gate", "data").stdout
    assert reused in first and "`pipeline gate data --fresh` builds them" in first and not docs.exists()
    assert reused not in sh(repo, "pipeline", "gate", "data", "--fresh").stdout
    assert (docs / "index.html").is_file()
    assert "--fresh` builds them" not in sh(repo, "pipeline", "gate", "data").stdout
    # An edited report is never trusted: its md5 no longer matches dvc.lock, so the gate validates again
    # (and writes the same bytes back: the stage is deterministic).
    report = repo / "reports" / "data_gate.json"
    original = report.read_bytes()
    report.write_text('{"passed": true, "summary": {}}')
    assert reused not in sh(repo, "pipeline", "gate", "data", "--no-docs").stdout
    assert report.read_bytes() == original
    # A changed param the stage reads: validated again, and the verdict reused once it is back.
    params = repo / "params.yaml"
    before = params.read_text()
    tree = yaml.safe_load(before)
    tree["gates"]["data"]["max_examples"] = tree["gates"]["data"]["max_examples"] + 1
    params.write_text(yaml.safe_dump(tree, sort_keys=False))
    try:
        assert reused not in sh(repo, "pipeline", "gate", "data", "--no-docs").stdout
    finally:
        params.write_text(before)
        sh(repo, "pipeline", "gate", "data", "--no-docs")  # the report of the original params again
    assert reused in sh(repo, "pipeline", "gate", "data").stdout


def test_changing_one_hyperparameter_reruns_only_train_onward(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["random_forest"]["n_estimators"] = 50
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh(repo, "dvc", "repro").stdout
    # The gate re-runs only if the metrics file changed; nothing upstream of train may run.
    assert ran(out)[0] == "train"
    assert {"train", "export", "evaluate"} <= set(ran(out)) <= {"train", "export", "evaluate", "gate"}
    meta = yaml.safe_load((repo / "models" / "model.json").read_text())
    assert meta["hyperparameters"]["n_estimators"] == 50


def test_push_and_pull_round_trip_data_and_models(repo: Path) -> None:
    sh(repo, "dvc", "push")
    tracked = [repo / "data/raw/penguins.csv", repo / "data/prepared/train.parquet", repo / "models/model.skops",
               repo / "models/model.onnx"]
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
