"""The live drift window and its measures (model_server/drift.py) on hand-made references, checked against
independent computations (numpy / scipy) and against what drift must and must not look like."""

from __future__ import annotations

import math
import random
import tracemalloc

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from model_server.drift import EPSILON, Binning, DriftWindow, js_distance, psi
from model_server.model_meta import DriftReference, FeatureReference

# Names no code may special-case: a space, unicode, a dot.
NUM, CAT = "bill length (mm)", "île.name"


def reference(tail: float = 0.0) -> DriftReference:
    return DriftReference.model_validate({
        "features": [
            {"feature": NUM, "kind": "numeric", "edges": [0.0, 1.0, 2.0, 3.0, 4.0], "weights": [0.25] * 4,
             "tail_weight": tail},
            {"feature": CAT, "kind": "categorical", "values": ["a", "b"], "weights": [0.5, 0.5]},
        ],
        "predictions": {"classes": ["x", "y", "z"], "weights": [0.5, 0.25, 0.25], "rows": 4},
    })


def clean_rows(n: int, seed: int = 1) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [{NUM: rng.uniform(0, 4), CAT: rng.choice("ab")} for _ in range(n)]


def test_psi_and_js_match_independent_computations() -> None:
    counts, ref = [10, 30, 0, 60], [0.25, 0.25, 0.25, 0.25]
    p = np.maximum(np.array(counts) / 100, EPSILON)
    q = np.maximum(np.array(ref), EPSILON)
    assert psi(counts, ref) == pytest.approx(float(np.sum((p - q) * np.log(p / q))))
    assert js_distance(counts, ref) == pytest.approx(float(jensenshannon(np.array(counts) / 100, ref, base=2)))
    assert psi([25, 25, 25, 25], ref) == pytest.approx(0.0)
    assert js_distance([25, 25, 25, 25], ref) == pytest.approx(0.0, abs=1e-7)
    assert js_distance([1, 0], [0.0, 1.0]) == pytest.approx(1.0)  # disjoint: the bound, never infinite


def test_numeric_bins_follow_the_reference_edges_with_two_tails() -> None:
    ref = FeatureReference.model_validate(
        {"feature": NUM, "kind": "numeric", "edges": [0, 1, 2], "weights": [0.5, 0.5], "tail_weight": 0.02})
    b = Binning.of(ref)
    assert [b.bin(v) for v in (-5, 0, 0.5, 1, 1.5, 2, 7)] == [0, 1, 1, 2, 2, 2, 3]
    assert b.bin(None) == b.bin(float("nan")) == -1
    assert b.reference == pytest.approx((0.01, 0.49, 0.49, 0.01))


def test_unseen_category_and_class_share_one_other_bin() -> None:
    window = DriftWindow(reference(), [NUM, CAT], size=100)
    for i in range(50):
        window.add({NUM: 1.5, CAT: f"never seen {i}"}, f"new class {i}")
    snap = window.snapshot()
    cat = next(f for f in snap.features if f.feature == CAT)
    assert cat.js == pytest.approx(1.0)  # all mass in the bin the reference leaves empty
    assert cat.psi is not None and cat.psi > 1
    assert snap.prediction_psi > 1
    assert len(window._counts[1]) == 4  # a, b, other, missing: 50 new values added no bin


def test_clean_traffic_scores_low_and_shifted_traffic_high() -> None:
    clean = DriftWindow(reference(), [NUM, CAT], size=1000)
    shifted = DriftWindow(reference(), [NUM, CAT], size=1000)
    for row in clean_rows(1000):
        clean.add(row, "x")
        shifted.add({NUM: float(row[NUM]) + 1.5, CAT: "a"}, "x")  # type: ignore[arg-type]
    calm = {f.feature: f for f in clean.snapshot().features}
    moved = {f.feature: f for f in shifted.snapshot().features}
    for name in (NUM, CAT):
        assert calm[name].psi is not None and calm[name].psi < 0.05
        assert moved[name].psi is not None and moved[name].psi > 0.25
        assert moved[name].js is not None and calm[name].js is not None and moved[name].js > 3 * calm[name].js


def test_window_slides_counts_stay_exact_and_missing_is_its_own_rate() -> None:
    window = DriftWindow(reference(), [NUM, CAT], size=10)
    for _ in range(10):
        window.add({NUM: None, CAT: "a"}, "x")
    assert window.snapshot().features[0].psi is None  # every value missing: no distribution to compare
    for _ in range(4):
        window.add({CAT: "b"}, "y")  # NUM absent is missing too
    for _ in range(6):
        window.add({NUM: 3.5, CAT: "b"}, "z")
    snap = window.snapshot()
    assert snap.records == len(window) == 10
    num = snap.features[0]
    assert num.missing_rate == pytest.approx(0.4)
    # Only the last ten records count: six at 3.5 (the last interior bin) and nothing of the first ten.
    assert window._counts[0] == [0, 0, 0, 0, 6, 0, 4]
    assert window._counts[1] == [0, 10, 0, 0]
    assert window._class_counts == [0, 4, 6, 0]
    expected = psi([0, 4, 6, 0], (0.5, 0.25, 0.25, 0.0))
    assert snap.prediction_psi == pytest.approx(expected)


def test_memory_is_bounded_by_the_window_whatever_is_sent() -> None:
    window = DriftWindow(reference(), [NUM, CAT], size=500)
    for i in range(2000):
        window.add({NUM: i * 1e6, CAT: "x" * 200 + str(i)}, str(i))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(20_000):
        window.add({NUM: -i * 1e6, CAT: "y" * 200 + str(i)}, "label" + str(i))
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(window) == 500
    assert grown < 64_000, f"the window grew by {grown} bytes over 20,000 records"


@pytest.mark.parametrize("bad", [
    {"feature": "f", "kind": "numeric", "edges": [0, 1], "weights": [0.5, 0.5]},
    {"feature": "f", "kind": "numeric", "edges": [2, 1, 3], "weights": [0.5, 0.5]},
    {"feature": "f", "kind": "categorical", "values": ["a"], "weights": [0.7]},
    {"feature": "f", "kind": "categorical", "weights": [1.0]},
    {"feature": "f", "kind": "numeric", "edges": [0, 1], "weights": [math.inf]},
])
def test_a_malformed_reference_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="'f'"):
        FeatureReference.model_validate(bad)


def test_a_feature_without_reference_is_named() -> None:
    with pytest.raises(ValueError, match="no profile for features"):
        DriftWindow(reference(), [NUM, "other"], size=10)
