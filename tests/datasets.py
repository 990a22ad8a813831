"""Datasets that scikit-learn ships (no network), turned into projects a user could have written:
a CSV with the dataset's own column names, a data contract drafted from it and params.yaml pointing at it.

Used by the dataset-matrix tests, so the pipeline is exercised on data other than the penguins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tests.conftest import REPO


@dataclass(frozen=True)
class Dataset:
    name: str
    frame: pd.DataFrame
    target: str

    @property
    def features(self) -> list[str]:
        return [c for c in self.frame.columns if c != self.target]


def _sklearn(loader: Callable[..., Any], name: str, target: str, labelled: bool) -> Dataset:
    bunch = loader(as_frame=True)
    frame = bunch.frame.rename(columns={"target": target})
    if labelled:  # class names, as a user's CSV would hold them, instead of codes
        frame[target] = [str(bunch.target_names[int(v)]) for v in frame[target]]
    return Dataset(name, frame, target)


def breast_cancer() -> Dataset:
    """Binary, 30 numeric columns whose names have spaces ("mean radius")."""
    from sklearn.datasets import load_breast_cancer

    return _sklearn(load_breast_cancer, "breast_cancer", "diagnosis", labelled=True)


def wine() -> Dataset:
    """Three classes, 13 numeric columns, one with a '/' (od280/od315_of_diluted_wines)."""
    from sklearn.datasets import load_wine

    return _sklearn(load_wine, "wine", "cultivar", labelled=True)


def iris() -> Dataset:
    """Three classes, names with spaces and parentheses ("sepal length (cm)")."""
    from sklearn.datasets import load_iris

    return _sklearn(load_iris, "iris", "species", labelled=True)


def diabetes() -> Dataset:
    """Regression: a continuous target (disease progression), ten numeric columns."""
    from sklearn.datasets import load_diabetes

    return _sklearn(load_diabetes, "diabetes", "progression", labelled=False)


def hostile(rows: int = 240, seed: int = 3) -> Dataset:
    """Synthetic, binary, with the column names users have: spaces, '/', '.', a leading digit, unicode, a
    leading underscore, BaseModel and graph names (json, label), two names equal once sanitised, and a
    categorical column. The label follows two of the columns."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    frame = pd.DataFrame({
        "a b": a, "a/b": b, "x.1": rng.normal(size=rows), "1st": rng.integers(0, 9, size=rows),
        "Größe (cm)": rng.uniform(100, 200, size=rows), "_id": rng.normal(size=rows),
        "json": rng.choice(["red", "green", "blue"], size=rows), "label": rng.normal(size=rows),
        "outcome class": np.where(a + b > 0, "yes", "no"),
    })
    return Dataset("hostile", frame, "outcome class")


def draft_contract(ds: Dataset, suite_name: str = "data") -> dict[str, Any]:
    """A GX suite from the data: columns in order, types, no nulls, ranges with a 10% margin, the
    target's labels, row-count bounds."""
    expectations: list[dict[str, Any]] = [
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": list(ds.frame.columns)}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10, "max_value": 100_000}},
    ]
    for name in ds.frame.columns:
        col = ds.frame[name]
        numeric = pd.api.types.is_numeric_dtype(col)
        dtype = ("int64" if pd.api.types.is_integer_dtype(col) else "float64") if numeric else "str"
        expectations.append({"type": "expect_column_values_to_be_of_type", "kwargs": {"column": name, "type_": dtype}})
        expectations.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": name}})
        if numeric:
            lo, hi = float(col.min()), float(col.max())
            margin = 0.1 * (hi - lo) or 1.0
            expectations.append({"type": "expect_column_values_to_be_between",
                                 "kwargs": {"column": name, "min_value": lo - margin, "max_value": hi + margin}})
        else:
            expectations.append({"type": "expect_column_values_to_be_in_set",
                                 "kwargs": {"column": name, "value_set": sorted(map(str, col.unique()))}})
    return {"name": suite_name, "meta": {}, "expectations": expectations}


def write_project(root: Path, ds: Dataset, **params_overrides: Any) -> Path:
    """A project directory for `ds`: dvc.yaml and params.yaml of the repo with the data section
    pointed at the dataset's CSV (kept outside data/, as a user's export would be) and its contract."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "gx" / "expectations").mkdir(parents=True, exist_ok=True)
    (root / "source").mkdir(exist_ok=True)
    ds.frame.to_csv(root / "source" / f"{ds.name}.csv", index=False)
    (root / "gx" / "expectations" / "data.json").write_text(json.dumps(draft_contract(ds), indent=2))
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["data"].update(source=f"source/{ds.name}.csv", raw=f"data/raw/{ds.name}.csv", target=ds.target,
                          features=ds.features)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    set_params(root, **params_overrides)
    (root / "dvc.yaml").write_text((REPO / "dvc.yaml").read_text(encoding="utf-8"))
    return root


def set_params(root: Path, **params_overrides: Any) -> None:
    """Set dotted keys (`train.random_forest.n_estimators=40`) in the project's params.yaml."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in params_overrides.items():
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))
