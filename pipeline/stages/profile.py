"""profile: write the drift suite (reference distributions) from the current training split.

Run it deliberately when the data legitimately changes, review the diff, and commit it: the
suite is the stored reference profile the data gate compares train and test against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from model_server.contract import load_contract
from pipeline.errors import DataError
from pipeline.io import write_json
from pipeline.params import Params
from pipeline.paths import Paths


def _numeric_partition(values: pd.Series, bins: int) -> dict[str, Any]:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    counts, _ = np.histogram(values, bins=edges)
    weights = counts / counts.sum()
    return {"bins": [round(float(e), 6) for e in edges], "weights": [round(float(w), 6) for w in weights]}


def _categorical_partition(values: pd.Series) -> dict[str, Any]:
    freq = values.value_counts(normalize=True).sort_index()
    return {"values": [str(v) for v in freq.index], "weights": [round(float(w), 6) for w in freq.to_numpy()]}


def build_drift_suite(frame: pd.DataFrame, features: list[str], numeric: set[str], bins: int,
                      threshold: float) -> dict[str, Any]:
    expectations = []
    for name in features:
        values = frame[name].dropna()
        if values.empty:
            raise DataError(f"column {name!r} has no values to profile")
        partition = _numeric_partition(values, bins) if name in numeric else _categorical_partition(values)
        kwargs: dict[str, Any] = {"column": name, "partition_object": partition, "threshold": threshold}
        if name in numeric:
            # Values outside the reference range are drift too, but must not make KL infinite.
            kwargs["tail_weight_holdout"] = 0.01
        expectations.append({"type": "expect_column_kl_divergence_to_be_less_than", "kwargs": kwargs, "meta": {}})
    return {
        "name": "reference_drift",
        "meta": {"notes": "Reference profile written by `pipeline profile` from the training split; "
                          "regenerate and review when the data legitimately changes.",
                 "reference_rows": len(frame)},
        "expectations": expectations,
    }


def run(params: Params, paths: Paths, bins: int = 5, threshold: float = 0.25) -> dict[str, Any]:
    contract = load_contract(paths.root / params.gates.data.suite)
    if not paths.train.is_file():
        raise DataError(f"{paths.rel(paths.train)}: not found; run `dvc repro prepare` first")
    frame = pd.read_parquet(paths.train)
    numeric = {c.name for c in contract.columns if c.is_numeric}
    suite = build_drift_suite(frame, list(params.data.features), numeric, bins, threshold)
    write_json(paths.root / params.gates.data.drift_suite, suite)
    return suite
