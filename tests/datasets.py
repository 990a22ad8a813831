"""Datasets that scikit-learn ships (no network), turned into projects as a user would make them: a CSV with the
dataset's own column names, then `pipeline init` drafting the data contract and pointing params.yaml at it.

Used by the dataset-matrix tests, so the pipeline is exercised on data other than the penguins.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tests.conftest import REPO, run_cli


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


def write_project(root: Path, ds: Dataset, **params_overrides: Any) -> Path:
    """A project directory for `ds` made as the README tells a user to: the repository's dvc.yaml and params.yaml,
    the dataset's CSV (kept outside data/, as a user's export would be), then `pipeline init` drafting the contract
    and pointing params.yaml's data section at the CSV. A dataset init refuses (a regression target) gets the
    contract a user would write by hand (`draft_by_hand`), so the later stages' own refusals can be tested."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "source").mkdir(exist_ok=True)
    source = root / "source" / f"{ds.name}.csv"
    ds.frame.to_csv(source, index=False)
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, root / name)
    result = run_cli(root, "init", "--source", str(source), "--target", ds.target)
    if result.returncode != 0:
        assert "a regression target" in result.stderr, result.stderr
        draft_by_hand(root, ds)
    set_params(root, **params_overrides)
    return root


def draft_by_hand(root: Path, ds: Dataset) -> None:
    """What `pipeline init` refuses to draft, written the way a user would: types, ranges, the data section."""
    expectations: list[dict[str, Any]] = [
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": list(ds.frame.columns)}},
    ]
    for name in ds.frame.columns:
        col = ds.frame[name]
        expectations.append({"type": "expect_column_values_to_be_of_type", "kwargs": {"column": name,
                             "type_": "int64" if pd.api.types.is_integer_dtype(col) else "float64"}})
        expectations.append({"type": "expect_column_values_to_be_between",
                             "kwargs": {"column": name, "min_value": float(col.min()), "max_value": float(col.max())}})
    (root / "gx" / "expectations").mkdir(parents=True, exist_ok=True)
    suite = {"name": "data", "meta": {}, "expectations": expectations}
    (root / "gx" / "expectations" / "data.json").write_text(json.dumps(suite, indent=2))
    set_params(root, **{"data.source": f"source/{ds.name}.csv", "data.raw": f"data/raw/{ds.name}.csv",
                        "data.target": ds.target, "data.features": ds.features})


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
