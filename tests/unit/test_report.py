from __future__ import annotations

from pipeline.gates.report import compose, flatten, params_diff


def test_flatten_and_diff_show_only_changed_keys() -> None:
    before = {"train": {"seed": 1, "rf": {"n": 100}}, "gates": {"x": 1}}
    after = {"train": {"seed": 1, "rf": {"n": 300}}, "gates": {"x": 1, "y": 2}}
    assert flatten(after)["train.rf.n"] == 300
    assert params_diff(after, before) == [("gates.y", None, 2), ("train.rf.n", 100, 300)]
    assert params_diff(after, None) == []


def test_compose_says_when_a_gate_did_not_run() -> None:
    text = compose(data_md=None, metrics_md="### ✅ Metric gate: passed", diff=[], baseline_label="main",
                   has_baseline_params=False, plots=["plots/roc.png"])
    assert "Data gate: no report" in text
    assert "_No params.yaml at main to compare with._" in text
    assert "![plots/roc.png](plots/roc.png)" in text
