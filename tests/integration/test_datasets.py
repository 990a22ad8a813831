"""The pipeline on datasets other than the penguins (scikit-learn's, offline), run as a user would:
their CSV, a contract drafted from it, params.yaml pointed at both, then the stages through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import datasets
from tests.conftest import run_cli
from tests.datasets import Dataset

pytestmark = pytest.mark.integration

FAST = {"train.random_forest.n_estimators": 40, "evaluate.importance_repeats": 1}


def run_stages(root: Path, *stages: str) -> None:
    for stage in stages:
        args = stage.split()
        result = run_cli(root, *args, *(["--no-docs"] if args[0] == "validate" else []))
        assert result.returncode == 0, f"{stage}: {result.stderr}"


def trained(tmp_path: Path, make: Callable[[], Dataset], **overrides: object) -> Path:
    root = datasets.write_project(tmp_path / "project", make(), **{**FAST, **overrides})
    run_stages(root, "ingest", "prepare", "profile", "validate", "train")
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
