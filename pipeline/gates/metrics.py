"""Metric gate: absolute floors from params.yaml and no-regression against a baseline."""

from __future__ import annotations

from typing import Any

from pipeline.gates.verdict import Finding, Verdict
from pipeline.params import MetricGateParams


def _num(metrics: dict[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def floors_for(task: str, policy: MetricGateParams) -> dict[str, float]:
    """The floors that apply to a task's metrics; a floor set to null is not gated."""
    floors: dict[str, float | None] = {"accuracy": policy.min_accuracy, "macro_f1": policy.min_macro_f1}
    if task == "binary":
        floors |= {"roc_auc": policy.min_roc_auc, "pr_auc": policy.min_pr_auc, "f1": policy.min_f1}
    return {k: v for k, v in floors.items() if v is not None}


def not_comparable(current: dict[str, Any], baseline: dict[str, Any]) -> str | None:
    """Why the baseline's metrics cannot be compared with these (another task, target, feature set or labels),
    or None when they can. Metrics that record no dataset were measured before datasets were recorded."""
    if "task" not in baseline or "data" not in baseline:
        return "they record no task or dataset (written by an earlier version)"
    if baseline["task"] != current.get("task"):
        return f"they are of a {baseline['task']} task, these of a {current.get('task')} task"
    before, now = baseline["data"] or {}, current.get("data") or {}
    for key in ("target", "features", "classes"):
        if before.get(key) != now.get(key):
            return f"they are for another dataset ({key} differs)"
    return None


def evaluate(
    current: dict[str, Any],
    baseline: dict[str, Any] | None,
    policy: MetricGateParams,
    baseline_label: str | None = "main",
) -> Verdict:
    """`baseline_label` None: no baseline comparison was asked for (gates.metrics.baseline_rev: null)."""
    findings: list[Finding] = []
    task = str(current.get("task") or "multiclass")  # metrics written before tasks were recorded
    floors = floors_for(task, policy)
    for key, floor in floors.items():
        value = _num(current, key)
        if value is None:
            findings.append(Finding("missing_metric", f"{key} is missing from the metrics", where=key))
        elif value < floor:
            findings.append(
                Finding("threshold", f"{value:.4f} is below the floor {floor:.4f} (gates.metrics.min_{key})",
                        where=key, detail={"value": value, "floor": floor})
            )
    per_class = current.get("per_class") or {}
    for cls, stats in sorted(per_class.items()):
        recall = _num(stats, "recall")
        if recall is not None and recall < policy.min_class_recall:
            findings.append(
                Finding("class_recall",
                        f"recall {recall:.4f} is below the floor {policy.min_class_recall:.4f} "
                        "(gates.metrics.min_class_recall)",
                        where=f"per_class.{cls}.recall", detail={"value": recall})
            )

    notes = []
    if baseline_label is None:
        notes.append("no baseline comparison (gates.metrics.baseline_rev: null): the no-regression rule was not "
                     "applied")
    elif baseline is None:
        # Said out loud rather than passed silently: the first run on a repo has nothing to compare.
        notes.append(f"no baseline metrics at {baseline_label}: the no-regression rule was not applied")
    else:
        why = not_comparable(current, baseline)
        if why is not None:
            notes.append(f"the metrics at {baseline_label} are not comparable ({why}): the no-regression rule "
                         "was not applied")
            baseline = None
    rows = []
    for key in policy.compare:
        now = _num(current, key)
        before = _num(baseline, key) if baseline else None
        delta = None if now is None or before is None else now - before
        regressed = delta is not None and delta < -policy.tolerance
        rows.append({"metric": key, "baseline": before, "current": now, "delta": delta, "regressed": regressed})
        if regressed:
            assert delta is not None and before is not None
            findings.append(
                Finding("regression",
                        f"dropped {-delta:.4f} vs {baseline_label} ({before:.4f} -> {now:.4f}), "
                        f"more than the tolerance {policy.tolerance} (gates.metrics.tolerance)",
                        where=key, detail=rows[-1])
            )
    summary = {"task": task, "baseline": baseline_label or "no baseline", "comparison": rows, "notes": notes,
               "floors": {**floors, "class_recall": policy.min_class_recall}}
    return Verdict(gate="metrics", passed=not findings, findings=tuple(findings), summary=summary)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def to_markdown(verdict: Verdict) -> str:
    icon = "✅" if verdict.passed else "❌"
    s = verdict.summary
    lines = [f"### {icon} Metric gate: {'passed' if verdict.passed else 'failed'}", "",
             f"| metric | {s['baseline']} | this change | delta | verdict |", "|---|---|---|---|---|"]
    for row in s["comparison"]:
        mark = "❌ regression" if row["regressed"] else "✅"
        lines.append(f"| {row['metric']} | {_fmt(row['baseline'])} | {_fmt(row['current'])} | "
                     f"{_fmt(row['delta'], signed=True)} | {mark} |")
    for note in s.get("notes", []):
        lines += ["", f"> {note}"]
    if verdict.findings:
        lines += ["", "**Blocking:**", ""]
        lines += [f"- `{f.where}`: {f.message}" for f in verdict.findings]
    return "\n".join(lines) + "\n"
