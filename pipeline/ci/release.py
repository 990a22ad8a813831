"""GitHub Release notes (pure composition) and publishing them for a tag (create, or update on a rerun)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from model_server.model_meta import ModelMeta
from pipeline.ci.api import GitHub
from pipeline.errors import UsageError

_TAG = re.compile(r"^v[0-9A-Za-z][0-9A-Za-z._+-]{0,60}$")


def check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise UsageError(f"release tag must look like v1.2.3, got {tag[:70]!r}")
    return tag


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def _metrics(metrics: dict[str, Any] | None) -> list[str]:
    if not metrics:
        return ["_No metrics found (reports/metrics.json)._"]
    lines = [
        f"Measured on the held-out test split ({metrics.get('test_rows', '?')} rows).",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key, label in (
        ("accuracy", "accuracy"),
        ("macro_f1", "macro F1"),
        ("roc_auc_ovr", "ROC AUC (one-vs-rest)"),
        ("roc_auc", "ROC AUC"),
        ("pr_auc", "PR AUC (average precision)"),
        ("f1", "F1 of the positive class"),
    ):
        if key in metrics:
            lines.append(f"| {label} | {_num(metrics[key])} |")
    per_class = metrics.get("per_class") or {}
    if per_class:
        lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for name, row in sorted(per_class.items()):
            lines.append(
                f"| {name} | {_num(row.get('precision'))} | {_num(row.get('recall'))} | "
                f"{_num(row.get('f1'))} | {row.get('support', '?')} |"
            )
    return lines


def _data_gate(gate: dict[str, Any] | None) -> list[str]:
    if not gate:
        return ["_No data gate report found (reports/data_gate.json)._"]
    summary = gate.get("summary") or {}
    mark = "✅ passed" if gate.get("passed") else "❌ failed"
    return [
        f"{mark}: {summary.get('expectations', '?')} expectations evaluated, "
        f"{summary.get('failed', '?')} failed (data contract, ranges, categories and drift)."
    ]


def _model_card(meta: ModelMeta | None, source: str | None) -> list[str]:
    if meta is None:
        return ["_No model metadata found (models/model.json)._"]
    hyper = ", ".join(f"{k}={v}" for k, v in sorted(meta.hyperparameters.items()))

    def known(value: object) -> object:
        return "?" if value is None else value

    lines = [
        f"- **Model**: `{known(meta.model)}` ({hyper or 'default hyperparameters'}), "
        f"saved as {known(meta.format)} (no pickle), scikit-learn {known(meta.sklearn_version)}",
        f"- **Task**: predict `{known(meta.target)}` ({', '.join(meta.classes)}) "
        f"from {', '.join(f'`{f}`' for f in meta.features)}",
        f"- **Training data**: {known(meta.train_rows)} rows"
        + (f" from `{source}`" if source else "")
        + f", seed {known(meta.seed)}; "
        f"inputs must satisfy the data contract `{known(meta.contract)}`",
        f"- **Artifact**: sha256 `{meta.sha256}`; the image serves its ONNX export, proven to give "
        "the same labels and probabilities on every prepared row and hash-checked before the server loads it",
        "- **Limitations**: valid only for inputs like the training data; the drift suite flags shifts, "
        "and predictions outside the contract are refused rather than guessed.",
    ]
    return lines


def notes(
    *,
    tag: str,
    commit: str,
    metrics: dict[str, Any] | None,
    data_gate: dict[str, Any] | None,
    model_meta: ModelMeta | None,
    scan_md: str | None,
    image_id: str | None = None,
    data_source: str | None = None,
    staging_url: str | None = None,
) -> str:
    lines = [f"## {tag}", ""]
    shipped = f"Commit `{commit[:12]}`"
    if image_id:
        shipped += f", image `{image_id}`"
        shipped += (
            " (the exact image that passed staging)"
            if staging_url is None
            else f" (the exact image that passed [staging]({staging_url}))"
        )
    lines += [shipped + ".", "", "### Metrics", "", *_metrics(metrics)]
    lines += ["", "### Data gate", "", *_data_gate(data_gate)]
    lines += ["", "### Scan gate", ""]
    if scan_md and scan_md.strip():
        body = scan_md.strip()
        # The scan report brings its own heading; keep it below ours.
        lines.append(re.sub(r"^#{1,3} ", "#### ", body, flags=re.MULTILINE))
    else:
        lines.append("_No scan summary found for this commit._")
    lines += ["", "### Model card", "", *_model_card(model_meta, data_source)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Published:
    action: str  # created | updated
    url: str


def publish(
    gh: GitHub, tag: str, body: str, *, name: str | None = None, prerelease: bool = False
) -> Published:
    """Create the Release for `tag`, or update its notes when a rerun finds it already there."""
    existing = gh.request("GET", f"{gh.repo_path}/releases/tags/{tag}", ok=(404,))
    payload = {"tag_name": tag, "name": name or tag, "body": body, "prerelease": prerelease}
    if existing.status_code == 404:
        made = gh.json("POST", f"{gh.repo_path}/releases", json=payload)
        return Published("created", str(made.get("html_url", "")))
    release_id = int(existing.json()["id"])
    made = gh.json("PATCH", f"{gh.repo_path}/releases/{release_id}", json=payload)
    return Published("updated", str(made.get("html_url", "")))
