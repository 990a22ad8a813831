"""The pipeline on datasets other than the penguins (scikit-learn's, offline), run as a user would:
their CSV, a contract drafted from it, params.yaml pointed at both, then the stages through the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from model_server.app import create_app
from model_server.loader import load_serving_model
from model_server.settings import Settings
from pipeline import model as model_io
from tests import datasets
from tests.conftest import REPO, run_cli
from tests.datasets import Dataset
from tests.integration.conftest import ran, sh

pytestmark = pytest.mark.integration

FAST = {"train.random_forest.n_estimators": 40, "evaluate.importance_repeats": 1}


def run_stages(root: Path, *stages: str) -> None:
    for stage in stages:
        args = stage.split()
        result = run_cli(root, *args, *(["--no-docs"] if args[0] == "validate" else []))
        assert result.returncode == 0, f"{stage}: {result.stderr}"


# Params read only after `train`: a test that changes nothing else starts from a copy of one trained project.
AFTER_TRAIN = ("evaluate.", "gates.metrics.")
_TRAINED: dict[str, Path] = {}


def trained(tmp_path: Path, make: Callable[[], Dataset], **overrides: object) -> Path:
    """A project for `make`'s dataset, trained; one training per dataset per run (about 30 s each)."""
    assert all(key.startswith(AFTER_TRAIN) for key in overrides), f"{overrides} would change what train makes"
    name = make.__name__
    if name not in _TRAINED:
        first = datasets.write_project(tmp_path.parent / f"trained-{name}", make(), **FAST)
        run_stages(first, "ingest", "prepare", "profile", "validate", "train")
        _TRAINED[name] = first
    root = tmp_path / "project"
    shutil.copytree(_TRAINED[name], root)
    datasets.set_params(root, **overrides)
    return root


def test_binary_classification_is_scored_as_binary_and_gated(tmp_path: Path) -> None:
    root = trained(tmp_path, datasets.breast_cancer)
    run_stages(root, "evaluate", "gate metrics")
    metrics = json.loads((root / "reports/metrics.json").read_text())
    assert metrics["task"] == "binary"
    assert metrics["positive_class"] == "malignant"  # the last sorted label of benign/malignant
    for key in ("roc_auc", "pr_auc", "f1"):
        assert 0.85 < metrics[key] <= 1.0, key
    assert metrics["data"]["target"] == "diagnosis" and "mean radius" in metrics["data"]["features"]
    gate = json.loads((root / "reports/metrics_gate.json").read_text())
    assert gate["passed"] and set(gate["summary"]["floors"]) >= {"roc_auc", "pr_auc", "f1", "accuracy"}
    # The DVC plot is the positive class's curve, from (0, 0) to (1, 1).
    roc = json.loads((root / "reports/plots/roc.json").read_text())
    assert (roc[0]["fpr"], roc[-1]["tpr"]) == (0.0, 1.0)


def test_binary_floor_blocks_with_the_param_named(tmp_path: Path) -> None:
    root = trained(tmp_path, datasets.breast_cancer, **{"gates.metrics.min_pr_auc": 1.0})
    run_stages(root, "evaluate")
    result = run_cli(root, "gate", "metrics")
    assert result.returncode == 1
    assert "gates.metrics.min_pr_auc" in (root / "reports/metrics_gate.md").read_text()


def test_unknown_positive_class_is_a_config_error(tmp_path: Path) -> None:
    root = trained(tmp_path, datasets.breast_cancer, **{"evaluate.positive_class": "Malignant"})
    result = run_cli(root, "evaluate")
    assert result.returncode == 3
    assert "evaluate.positive_class 'Malignant' is not one of the model's classes" in result.stderr


@pytest.mark.parametrize("make", [datasets.wine, datasets.iris], ids=["wine", "iris"])
def test_multiclass_datasets_are_scored_one_vs_rest(tmp_path: Path, make: Callable[[], Dataset]) -> None:
    root = trained(tmp_path, make)
    run_stages(root, "evaluate", "gate metrics")
    metrics = json.loads((root / "reports/metrics.json").read_text())
    assert metrics["task"] == "multiclass" and len(metrics["per_class"]) == 3
    assert metrics["roc_auc_ovr"] > 0.9 and "roc_auc" not in metrics


@pytest.mark.parametrize("make", [datasets.breast_cancer, datasets.wine, datasets.hostile],
                         ids=["breast_cancer", "wine", "hostile"])
def test_any_column_names_export_prove_parity_and_serve(tmp_path: Path, make: Callable[[], Dataset]) -> None:
    ds = make()
    root = trained(tmp_path, make)
    run_stages(root, "export")
    serving = json.loads((root / "models/serving.json").read_text())
    assert [i["column"] for i in serving["inputs"]] == ds.features
    assert serving["parity"]["label_mismatches"] == 0
    # The served app answers requests written with the dataset's own column names.
    settings = Settings.model_validate({
        "model_dir": root / "models", "contract_path": root / "gx/expectations/data.json",
        "dvc_lock_path": root / "dvc.lock", "metrics_path": root / "reports/metrics.json",
        "params_path": root / "params.yaml", "git_commit": "abc123",
        "drift_window": 10, "drift_min_records": 5, "drift_refresh_seconds": 0,
    })
    client = TestClient(create_app(settings, load_serving_model(settings)))
    assert client.get("/ready").status_code == 200
    # The drift reference was exported for these features, under their own names.
    assert [f["feature"] for f in serving["drift_reference"]["features"]] == ds.features
    rows = pd.read_parquet(root / "data/prepared/test.parquet").head(5)
    records = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
               for r in rows[ds.features].to_dict(orient="records")]
    answer = client.post("/predict", json=records)
    assert answer.status_code == 200, answer.text
    labels = [p["label"] for p in answer.json()["predictions"]]
    loaded = model_io.load(root / "models/model.skops", root / "models/model.json")
    assert labels == [str(v) for v in loaded.estimator.predict(rows[ds.features])]
    missing = client.post("/predict", json={k: v for k, v in records[0].items() if k != ds.features[0]})
    assert missing.status_code == 422 and ds.features[0] in str(missing.json()["detail"][0]["loc"])
    # Live drift per feature, whatever the names hold (spaces, '/', unicode), binary or multiclass.
    samples = [s for f in text_string_to_metric_families(client.get("/metrics").text) for s in f.samples]
    drifted = {s.labels["feature"] for s in samples if s.name == "model_drift_psi"}
    assert drifted == set(ds.features)
    assert [s.value >= 0 for s in samples if s.name == "model_prediction_shift_psi"] == [True]


def test_a_new_dataset_is_a_params_edit_and_dvc_tracks_its_source(tmp_path: Path) -> None:
    """dvc.yaml is the repository's, untouched: data paths come from params.yaml, and the source file's
    content is a dependency of ingest."""
    root = datasets.write_project(tmp_path / "project", datasets.breast_cancer(), **FAST)
    # A clone of this repository: the stages' code is a DVC dependency.
    for package in ("pipeline", "model_server"):
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    sh(root, "dvc", "repro", "prepare")
    run_stages(root, "profile")
    first = sh(root, "dvc", "repro").stdout
    assert ran(first) == ["validate", "train", "export", "evaluate", "gate"]
    assert (root / "data/raw/breast_cancer.csv").is_file()
    source = root / "source/breast_cancer.csv"
    header, *rows = source.read_text().splitlines()
    source.write_text("\n".join([header, *rows[:-1]]) + "\n")  # the user's export lost a row
    # Up to prepare: ingest seeing the edit is the point, retraining on it would add half a minute.
    assert ran(sh(root, "dvc", "repro", "prepare").stdout) == ["ingest", "prepare"]
    assert len((root / "data/raw/breast_cancer.csv").read_text().splitlines()) == len(rows)


def test_baseline_metrics_of_another_dataset_are_not_compared(tmp_path: Path) -> None:
    root = trained(tmp_path, datasets.iris)
    run_stages(root, "evaluate")
    # main holds the penguins' metrics (this repository's), better than iris's on every compared metric.
    (root / "reports/metrics.json").rename(root / "iris_metrics.json")
    (root / "reports/metrics.json").write_text((REPO / "reports/metrics.json").read_text())
    sh(root, "git", "init", "-q", "-b", "main")
    sh(root, "git", "add", "reports/metrics.json")
    sh(root, "git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "penguins")
    (root / "iris_metrics.json").rename(root / "reports/metrics.json")
    result = run_cli(root, "gate", "metrics", "--baseline", "main")
    assert result.returncode == 0, result.stderr
    assert "not comparable (they are for another dataset (features differs))" in result.stdout
    gate = json.loads((root / "reports/metrics_gate.json").read_text())
    assert all(row["baseline"] is None for row in gate["summary"]["comparison"])


def test_a_regression_target_is_refused_at_prepare_in_one_line(tmp_path: Path) -> None:
    root = datasets.write_project(tmp_path / "project", datasets.diabetes(), **FAST)
    run_stages(root, "ingest")
    result = run_cli(root, "prepare")
    assert result.returncode == 3
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith("error: data/raw/diabetes.csv: data.target 'progression' is a float64 column with ")
    assert "a regression target; this pipeline trains classifiers only" in line
    assert not (root / "data/prepared/train.parquet").exists()
