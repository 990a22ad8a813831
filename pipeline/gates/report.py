"""Composes the one Markdown report for a pull request or the job summary (pure string work)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def params_diff(current: dict[str, Any], base: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    if base is None:
        return []
    now, before = flatten(current), flatten(base)
    keys = sorted(set(now) | set(before))
    return [(k, before.get(k), now.get(k)) for k in keys if now.get(k) != before.get(k)]


def served_model_md(serving: dict[str, Any] | None, trained: dict[str, Any] | None) -> str:
    """What the image will serve: the ONNX export, whether it comes from this model, and its proof."""
    head = "### Served model (ONNX export)"
    if not serving or not trained:
        return f"{head}\n\n⚠️ No export found (models/serving.json); run `dvc repro export`."
    source = (serving.get("model") or {}).get("sha256")
    if source != trained.get("sha256"):
        return (f"{head}\n\n⚠️ models/model.onnx was exported from model `{str(source)[:12]}`, not from this "
                f"model `{str(trained.get('sha256'))[:12]}`; run `dvc repro export`.")
    proof = serving.get("parity") or {}
    mark = "✅" if proof.get("label_mismatches") == 0 else "❌"
    return (f"{head}\n\n{mark} `{str(serving.get('sha256'))[:12]}`, exported from model `{str(source)[:12]}`: "
            f"{proof.get('label_mismatches', '?')} of {proof.get('rows', '?')} checked rows with another label, "
            f"probabilities within {proof.get('max_probability_difference', float('nan')):.1e} "
            f"(tolerance {proof.get('tolerance', '?')}).")


def tracking_md(
    run_url: str | None,
    current: dict[str, float],
    production: dict[str, float] | None,
    production_version: str | None,
    compared: list[str],
) -> str:
    """The MLflow section: a link to this run and its metrics beside the `production` version's."""
    lines = ["### MLflow", ""]
    lines.append(f"Run: [{run_url}]({run_url})" if run_url else
                 "_This pipeline run is not logged yet (`pipeline track log` after `dvc repro`)._")
    if production is None or production_version is None:
        lines += ["", "_No model version has the alias `production` yet: nothing to compare with._"]
        return "\n".join(lines)
    lines += ["", f"| metric | production (version {production_version}) | this run | delta |", "|---|---|---|---|"]
    for name in compared:
        before, after = production.get(name), current.get(name)
        delta = f"{after - before:+.4f}" if before is not None and after is not None else "n/a"
        shown = [f"{v:.4f}" if v is not None else "n/a" for v in (before, after)]
        lines.append(f"| `{name}` | {shown[0]} | {shown[1]} | {delta} |")
    return "\n".join(lines)


def compose(
    *,
    data_md: str | None,
    metrics_md: str | None,
    diff: list[tuple[str, Any, Any]],
    baseline_label: str,
    has_baseline_params: bool,
    plots: list[str],
    served_md: str | None = None,
    tracking_md: str | None = None,
    title: str = "ML pipeline report",
) -> str:
    lines = [f"## {title}", ""]
    lines.append(data_md.strip() if data_md else "### ⚠️ Data gate: no report (the validate stage did not run)")
    lines.append("")
    lines.append(metrics_md.strip() if metrics_md else "### ⚠️ Metric gate: no report (the gate stage did not run)")
    if served_md:
        lines += ["", served_md]
    if tracking_md:
        lines += ["", tracking_md]
    lines += ["", f"### Parameters changed vs {baseline_label}", ""]
    if not has_baseline_params:
        lines.append(f"_No params.yaml at {baseline_label} to compare with._")
    elif not diff:
        lines.append("_No parameter changes._")
    else:
        lines += ["| parameter | before | after |", "|---|---|---|"]
        lines += [f"| `{k}` | {before!r} | {after!r} |" for k, before, after in diff]
    if plots:
        lines += ["", "### Plots", ""]
        lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"
