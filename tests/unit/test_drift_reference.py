"""The drift reference the export writes into serving.json, from the drift suite `pipeline profile` writes."""

from __future__ import annotations

import pandas as pd
import pytest

from model_server.drift import DriftWindow
from model_server.errors import ModelError
from pipeline.drift_reference import from_suite
from pipeline.errors import DataError
from pipeline.stages.profile import build_drift_suite

FRAME = pd.DataFrame({"größe (cm)": [float(i) for i in range(100)], "a b": ["x", "y"] * 50})


def suite() -> dict[str, object]:
    return build_drift_suite(FRAME, list(FRAME.columns), {"größe (cm)"}, bins=5, threshold=0.25)


def test_the_reference_is_the_suites_bins_plus_the_predicted_classes() -> None:
    ref = from_suite(suite(), "drift.json", list(FRAME.columns), ["no", "yes"], ["yes", "yes", "no", "yes"], "test")
    num, cat = ref.features
    assert num.kind == "numeric" and num.edges == (0.0, 19.8, 39.6, 59.4, 79.2, 99.0) and num.tail_weight == 0.01
    assert cat.kind == "categorical" and cat.values == ("x", "y") and cat.weights == (0.5, 0.5)
    assert ref.predictions.weights == (0.25, 0.75) and ref.predictions.rows == 4
    # Training rows, binned live, look like the reference: no drift.
    window = DriftWindow(ref, list(FRAME.columns), size=100)
    for row in FRAME.to_dict("records"):
        window.add(row, "yes")
    assert all(f.psi is not None and f.psi < 0.05 for f in window.snapshot().features)


def test_a_feature_the_suite_does_not_profile_is_named_with_the_fix() -> None:
    with pytest.raises(DataError, match=r"drift.json: no reference profile for features \['new'\].*pipeline profile"):
        from_suite(suite(), "drift.json", ["a b", "new"], ["no", "yes"], ["yes"], "test")


def test_malformed_suite_entries_are_one_line_errors() -> None:
    doc = suite()
    doc["expectations"] = [*doc["expectations"], "junk", {"type": 3}]  # type: ignore[index]
    broken = {"expectations": [{"type": "expect_column_kl_divergence_to_be_less_than",
                                "kwargs": {"column": "a b", "partition_object": {"values": ["x"], "weights": [2]}}}]}
    assert from_suite(doc, "drift.json", ["a b"], ["c"], ["c"], "t").features[0].feature == "a b"
    with pytest.raises(ModelError, match=r"drift.json: not a drift reference") as err:
        from_suite(broken, "drift.json", ["a b"], ["c"], ["c"], "t")
    assert "\n" not in str(err.value)
