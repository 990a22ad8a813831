"""The drift reference the served model ships with (serving.json's `drift_reference`), taken from the drift suite.

The suite (`gates.data.drift_suite`, written by `pipeline profile`) is the one stored reference profile: the data
gate compares train and test with it, and the serving app compares live traffic with the same bins and weights,
so a feature that drifts in production drifted against what the gate checked. To it the export adds the served
graph's predicted-class distribution on the test split, the reference for the prediction shift.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from model_server.model_meta import DriftReference
from pipeline.errors import DataError

KL = "expect_column_kl_divergence_to_be_less_than"


def from_suite(
    suite: dict[str, Any], source: str, features: Sequence[str], classes: Sequence[str],
    predicted: Sequence[str], data: str,
) -> DriftReference:
    profiles: dict[str, dict[str, Any]] = {}
    for exp in suite.get("expectations") or []:
        if not isinstance(exp, dict) or exp.get("type") != KL:
            continue
        kwargs = exp.get("kwargs")
        if isinstance(kwargs, dict) and isinstance(kwargs.get("column"), str):
            profiles[kwargs["column"]] = kwargs
    missing = [f for f in features if f not in profiles]
    if missing:
        raise DataError(f"{source}: no reference profile for features {missing[:3]}; "
                        "run `pipeline profile`, review and commit the suite")
    if not predicted:
        raise DataError(f"{data}: no rows to take the predicted-class reference from; run `dvc repro prepare`")
    refs = []
    for name in features:
        part = profiles[name].get("partition_object")
        part = part if isinstance(part, dict) else {}
        if "bins" in part:
            refs.append({"feature": name, "kind": "numeric", "edges": part["bins"], "weights": part.get("weights"),
                         "tail_weight": profiles[name].get("tail_weight_holdout", 0.0)})
        else:
            refs.append({"feature": name, "kind": "categorical", "values": part.get("values"),
                         "weights": part.get("weights")})
    counts = Counter(predicted)
    doc = {
        "source": source,
        "features": refs,
        "predictions": {"classes": list(classes), "weights": [counts[c] / len(predicted) for c in classes],
                        "rows": len(predicted), "data": data},
    }
    return DriftReference.parse(doc, source, "run `pipeline profile`, review and commit the suite")
