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


def test_served_model_section_states_the_proof_or_what_is_wrong() -> None:
    from pipeline.gates.report import served_model_md

    trained = {"sha256": "a" * 64}
    serving = {"sha256": "b" * 64, "model": {"sha256": "a" * 64},
               "parity": {"rows": 464, "label_mismatches": 0, "max_probability_difference": 6.9e-7,
                          "tolerance": 1e-5}}
    ok = served_model_md(serving, trained)
    assert "✅ `bbbbbbbbbbbb`, exported from model `aaaaaaaaaaaa`: 0 of 464" in ok and "6.9e-07" in ok
    stale = served_model_md({**serving, "model": {"sha256": "c" * 64}}, trained)
    assert "⚠️" in stale and "not from this model `aaaaaaaaaaaa`" in stale and "dvc repro export" in stale
    assert "No export found" in served_model_md(None, trained)
    text = compose(data_md=None, metrics_md=None, diff=[], baseline_label="main", has_baseline_params=True,
                   plots=[], served_md=ok)
    assert text.index("Metric gate") < text.index("Served model (ONNX export)") < text.index("Parameters changed")
