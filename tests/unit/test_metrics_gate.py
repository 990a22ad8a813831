from __future__ import annotations

from typing import Any

from pipeline.gates.metrics import evaluate, to_markdown


def metrics(acc: float = 0.97, f1: float = 0.96, recalls: dict[str, float] | None = None) -> dict[str, Any]:
    recalls = recalls or {"Adelie": 0.98, "Chinstrap": 0.95, "Gentoo": 1.0}
    return {"task": "multiclass", "accuracy": acc, "macro_f1": f1,
            "per_class": {c: {"recall": r} for c, r in recalls.items()},
            "data": {"target": "species", "features": ["a", "b"], "classes": sorted(recalls)}}


def test_passes_above_floors_without_regression(make_params) -> None:
    policy = make_params().gates.metrics
    verdict = evaluate(metrics(), metrics(acc=0.975), policy)
    assert verdict.passed
    assert verdict.summary["comparison"][0]["delta"] == 0.97 - 0.975


def test_floor_violation_blocks_and_names_the_param(make_params) -> None:
    policy = make_params(**{"gates.metrics.min_accuracy": 0.99}).gates.metrics
    verdict = evaluate(metrics(acc=0.97), None, policy)
    assert not verdict.passed
    [finding] = [f for f in verdict.findings if f.where == "accuracy"]
    assert "below the floor 0.9900 (gates.metrics.min_accuracy)" in finding.message


def test_per_class_recall_floor(make_params) -> None:
    policy = make_params().gates.metrics
    verdict = evaluate(metrics(recalls={"Adelie": 1.0, "Chinstrap": 0.5, "Gentoo": 1.0}), None, policy)
    assert [f.where for f in verdict.findings] == ["per_class.Chinstrap.recall"]


def test_regression_beyond_tolerance_blocks(make_params) -> None:
    policy = make_params(**{"gates.metrics.tolerance": 0.01}).gates.metrics
    verdict = evaluate(metrics(acc=0.95), metrics(acc=0.97), policy, baseline_label="main")
    assert not verdict.passed
    assert verdict.findings[0].rule == "regression"
    assert "dropped 0.0200 vs main" in verdict.findings[0].message


def test_drop_within_tolerance_passes(make_params) -> None:
    policy = make_params(**{"gates.metrics.tolerance": 0.03}).gates.metrics
    assert evaluate(metrics(acc=0.95), metrics(acc=0.97), policy).passed


def test_no_baseline_is_said_out_loud(make_params) -> None:
    verdict = evaluate(metrics(), None, make_params().gates.metrics)
    assert verdict.passed
    assert "no-regression rule was not applied" in verdict.summary["notes"][0]
    assert "no-regression rule was not applied" in to_markdown(verdict)


def test_missing_metric_blocks(make_params) -> None:
    current = metrics()
    del current["macro_f1"]
    verdict = evaluate(current, None, make_params().gates.metrics)
    assert not verdict.passed
    assert any(f.rule == "missing_metric" and f.where == "macro_f1" for f in verdict.findings)


def test_markdown_table_has_deltas_and_verdict(make_params) -> None:
    policy = make_params(**{"gates.metrics.tolerance": 0.01}).gates.metrics
    md = to_markdown(evaluate(metrics(acc=0.95), metrics(acc=0.97), policy))
    assert "| accuracy | 0.9700 | 0.9500 | -0.0200 | ❌ regression |" in md
    assert md.startswith("### ❌ Metric gate: failed")


def binary(roc: float = 0.99, pr: float = 0.98, f1: float = 0.95) -> dict[str, Any]:
    return {"task": "binary", "accuracy": 0.96, "macro_f1": 0.95, "roc_auc": roc, "pr_auc": pr, "f1": f1,
            "per_class": {"no": {"recall": 0.97}, "yes": {"recall": 0.93}}}


def test_binary_floors_apply_to_binary_metrics_only(make_params) -> None:
    policy = make_params(**{"gates.metrics.min_roc_auc": 0.995}).gates.metrics
    verdict = evaluate(binary(), None, policy)
    assert [(f.rule, f.where) for f in verdict.findings] == [("threshold", "roc_auc")]
    assert "(gates.metrics.min_roc_auc)" in verdict.findings[0].message
    # The same floor does not ask a multiclass model for a binary metric.
    assert evaluate(metrics(), None, policy).passed


def test_a_binary_floor_set_to_null_is_not_gated(make_params) -> None:
    policy = make_params(**{"gates.metrics.min_f1": None}).gates.metrics
    verdict = evaluate(binary(f1=0.1), None, policy)
    assert verdict.passed
    assert "f1" not in verdict.summary["floors"]


def identified(task: str = "multiclass", target: str = "species", **values: float) -> dict[str, Any]:
    m = {**metrics(**values), "task": task}
    m["data"] = {**m["data"], "target": target}
    return m


def test_baseline_of_the_same_dataset_is_compared(make_params) -> None:
    policy = make_params(**{"gates.metrics.tolerance": 0.01}).gates.metrics
    verdict = evaluate(identified(acc=0.95), identified(acc=0.97), policy)
    assert [f.rule for f in verdict.findings] == ["regression"]


def test_baseline_of_another_dataset_or_task_is_not_comparable(make_params) -> None:
    policy = make_params(**{"gates.metrics.tolerance": 0.01}).gates.metrics
    for other, why in ((identified(target="diagnosis", acc=0.99), "target differs"),
                       (identified(task="binary", acc=0.99), "binary task"),
                       ({"accuracy": 0.99, "macro_f1": 0.99}, "record no task or dataset")):
        verdict = evaluate(identified(acc=0.95), other, policy)
        assert verdict.passed, why
        [note] = verdict.summary["notes"]
        assert "not comparable" in note and why in note
        assert all(row["baseline"] is None for row in verdict.summary["comparison"])


def test_no_baseline_rev_means_no_comparison_and_says_so(make_params) -> None:
    verdict = evaluate(identified(acc=0.95), None, make_params().gates.metrics, baseline_label=None)
    assert verdict.passed and verdict.summary["baseline"] == "no baseline"
    assert "gates.metrics.baseline_rev: null" in to_markdown(verdict)
