"""evaluate: score the model on the held-out split; write metrics JSON, DVC plot data and PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    auc,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

from model_server.model_meta import ModelMeta
from pipeline import model as model_io
from pipeline.errors import ConfigError, DataError
from pipeline.io import atomic_write, write_json
from pipeline.params import Params
from pipeline.paths import Paths

# A binary model's labels are its most probable class: the positive class wins at probability > 0.5.
DECISION_THRESHOLD = 0.5


def positive_class(classes: list[str], configured: str | None) -> str:
    """The class binary metrics are about: evaluate.positive_class, else the last of the sorted labels
    (scikit-learn's convention: "1" of 0/1, "yes" of no/yes)."""
    if configured is None:
        return classes[-1]
    if configured not in classes:
        raise ConfigError(f"params.yaml: evaluate.positive_class {configured!r} is not one of the model's classes "
                          f"{classes}; set it to one of them or to null")
    return configured


def compute_metrics(y_true: pd.Series, y_pred: np.ndarray, proba: np.ndarray, classes: list[str],
                    positive: str | None = None) -> dict[str, Any]:
    """Metrics of a classifier: `task` is "binary" for two classes (with ROC AUC, PR AUC and F1 of the
    positive class), else "multiclass" (with one-vs-rest ROC AUC)."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    per_class = {
        c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }
    common = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=classes, zero_division=0)),
    }
    present = set(y_true)
    if len(classes) == 2:
        pos = positive_class(classes, positive)
        is_pos = (np.asarray(y_true) == pos).astype(int)
        score = proba[:, classes.index(pos)]
        both = len(present) == 2  # AUCs are undefined when the test split holds one class only
        return {
            "task": "binary",
            **common,
            "positive_class": pos,
            "threshold": DECISION_THRESHOLD,
            "roc_auc": float(roc_auc_score(is_pos, score)) if both else None,
            "pr_auc": float(average_precision_score(is_pos, score)) if both else None,
            "f1": float(f1_score(y_true, y_pred, pos_label=pos, average="binary", zero_division=0)),
            "per_class": per_class,
            "test_rows": len(y_true),
        }
    roc = (
        float(roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
        if len(present) == len(classes)
        else None
    )
    return {"task": "multiclass", **common, "roc_auc_ovr": roc, "per_class": per_class, "test_rows": len(y_true)}


def _curves(y_true: pd.Series, proba: np.ndarray, classes: list[str], positive: str | None) -> dict[str, Any]:
    onehot = label_binarize(y_true, classes=classes)
    if len(classes) == 2:
        onehot = np.hstack([1 - onehot, onehot])
    shown = [positive] if positive is not None else classes
    per_class = {}
    for i, cls in enumerate(classes):
        if cls not in shown:
            continue
        fpr, tpr, _ = roc_curve(onehot[:, i], proba[:, i])
        prec, rec, _ = precision_recall_curve(onehot[:, i], proba[:, i])
        per_class[cls] = {"fpr": fpr, "tpr": tpr, "precision": prec, "recall": rec, "auc": auc(fpr, tpr)}
    if positive is not None:  # binary: the positive class's curve is the one line per revision
        c = per_class[positive]
        return {"per_class": per_class, "micro": (c["fpr"], c["tpr"], c["precision"], c["recall"])}
    # Micro-averaged curves give DVC one line per revision to compare.
    micro_fpr, micro_tpr, _ = roc_curve(onehot.ravel(), proba.ravel())
    micro_p, micro_r, _ = precision_recall_curve(onehot.ravel(), proba.ravel())
    return {"per_class": per_class, "micro": (micro_fpr, micro_tpr, micro_p, micro_r)}


def _write_pngs(paths: Paths, cm: np.ndarray, classes: list[str], curves: dict[str, Any],
                importance: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        atomic_write(paths.plots / name, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=30)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax.set_title("Confusion matrix (test)")
    save(fig, "confusion.png")

    for name, xk, yk, xl, yl in (("roc.png", "fpr", "tpr", "false positive rate", "true positive rate"),
                                 ("pr.png", "recall", "precision", "recall", "precision")):
        fig, ax = plt.subplots(figsize=(4.5, 4))
        for cls, c in curves["per_class"].items():
            ax.plot(c[xk], c[yk], label=cls)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.legend(loc="lower right" if name == "roc.png" else "lower left")
        kind = "ROC" if name == "roc.png" else "Precision-recall"
        ax.set_title(f"{kind} (one-vs-rest)" if len(curves["per_class"]) > 1 else f"{kind} (positive class)")
        save(fig, name)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ordered = sorted(importance, key=lambda r: r["importance"])
    ax.barh([r["feature"] for r in ordered], [r["importance"] for r in ordered])
    ax.set_xlabel("permutation importance (accuracy drop)")
    ax.set_title("Feature importance")
    save(fig, "feature_importance.png")


def dataset_identity(model_meta: ModelMeta) -> dict[str, Any]:
    """What the metrics were measured on, recorded with them so the metric gate compares like with like:
    the same target, features and labels (a baseline on another dataset or task is not comparable)."""
    return {"target": model_meta.target, "features": list(model_meta.features), "classes": list(model_meta.classes)}


def run(params: Params, paths: Paths) -> dict[str, Any]:
    loaded = model_io.load(paths.model, paths.model_meta)
    if not paths.test.is_file():
        raise DataError(f"{paths.rel(paths.test)}: test data not found; run `dvc repro prepare` first")
    frame = pd.read_parquet(paths.test)
    x, y = frame[loaded.features], frame[params.data.target].astype(str)
    classes = loaded.classes
    proba = loaded.estimator.predict_proba(x)
    pred = loaded.estimator.predict(x).astype(str)
    metrics = compute_metrics(y, pred, proba, classes, params.evaluate.positive_class)
    metrics["data"] = dataset_identity(loaded.meta)

    cm = confusion_matrix(y, pred, labels=classes)
    curves = _curves(y, proba, classes, metrics.get("positive_class"))
    imp = permutation_importance(
        loaded.estimator, x, y, n_repeats=params.evaluate.importance_repeats, random_state=params.train.seed
    )
    importance = [
        {"feature": f, "importance": round(float(m), 6)}
        for f, m in zip(loaded.features, imp.importances_mean, strict=True)
    ]
    fpr, tpr, prec, rec = curves["micro"]
    write_json(paths.plots / "confusion.json", [{"actual": a, "predicted": p} for a, p in zip(y, pred, strict=True)])
    write_json(paths.plots / "roc.json", [{"fpr": round(float(a), 6), "tpr": round(float(b), 6)}
                                          for a, b in zip(fpr, tpr, strict=True)])
    write_json(paths.plots / "pr.json", [{"recall": round(float(a), 6), "precision": round(float(b), 6)}
                                         for a, b in zip(rec, prec, strict=True)])
    write_json(paths.plots / "feature_importance.json", importance)
    _write_pngs(paths, cm, classes, curves, importance)
    write_json(paths.metrics, metrics)
    return metrics


def plot_files() -> list[Path]:
    return [Path(n) for n in ("confusion.png", "roc.png", "pr.png", "feature_importance.png")]
