"""train: fit a scikit-learn pipeline on the validated training split and save it with its metadata."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from model_server.contract import DataContract, load_contract
from model_server.model_meta import ModelMeta
from pipeline import model as model_io
from pipeline.errors import DataError
from pipeline.params import Params
from pipeline.paths import Paths
from pipeline.stages.prepare import require_columns


def build_estimator(params: Params, contract: DataContract) -> Pipeline:
    numeric = [f for f in params.data.features if contract.column(f).is_numeric]
    categorical = [f for f in params.data.features if not contract.column(f).is_numeric]
    preprocess = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        # Unseen categories at serving time must not crash predictions.
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                categorical,
            ),
        ]
    )
    cfg = params.train
    clf: Any
    if cfg.model == "random_forest":
        rf = cfg.random_forest
        clf = RandomForestClassifier(
            n_estimators=rf.n_estimators,
            max_depth=rf.max_depth,
            min_samples_leaf=rf.min_samples_leaf,
            random_state=cfg.seed,
            n_jobs=1,
        )
    else:
        lr = cfg.logistic_regression
        clf = LogisticRegression(C=lr.C, max_iter=lr.max_iter, random_state=cfg.seed)
    return Pipeline([("preprocess", preprocess), ("classifier", clf)])


def run(params: Params, paths: Paths, contract: DataContract | None = None) -> ModelMeta:
    contract = contract or load_contract(paths.root / params.gates.data.suite)
    require_columns(params, contract)
    where = paths.rel(paths.train)
    if not paths.train.is_file():
        raise DataError(f"{where}: training data not found; run `dvc repro validate` first")
    frame = pd.read_parquet(paths.train)
    absent = [c for c in (params.data.target, *params.data.features) if c not in frame.columns]
    if absent:
        raise DataError(f"{where}: has no columns {absent}; run `dvc repro prepare` to rebuild it")
    x, y = frame[list(params.data.features)], frame[params.data.target].astype(str)
    classes = sorted(y.unique())
    if len(classes) < 2:
        raise DataError(
            f"{where}: every row has {params.data.target!r} = {classes[0] if classes else None!r}; a classifier "
            "needs at least two classes. Fix the labels in the raw data and run `dvc repro` (the last model is kept)"
        )
    estimator = build_estimator(params, contract)
    try:
        estimator.fit(x, y)
    except ValueError as exc:  # scikit-learn's word for "this data cannot be fitted"
        raise DataError(
            f"{where}: cannot fit {params.train.model} ({str(exc).splitlines()[0][:200]}); "
            "fix the data or train params (the last model is kept)"
        ) from None
    meta = {
        "features": list(params.data.features),
        "target": params.data.target,
        "classes": [str(c) for c in estimator.classes_],
        "model": params.train.model,
        "hyperparameters": params.train.model_dump(mode="json")[params.train.model],
        "seed": params.train.seed,
        "train_rows": len(frame),
        "sklearn_version": sklearn.__version__,
        "contract": paths.rel(paths.root / params.gates.data.suite),
    }
    return model_io.save(estimator, meta, paths.model, paths.model_meta)
