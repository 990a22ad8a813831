"""Shared by the serving tests of every tier (imported by their conftest.py files): a tiny model
trained by the real training code, settings and app factories, a tampered copy."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from model_server.app import create_app
from model_server.contract import DataContract, load_contract
from model_server.loader import load_serving_model
from model_server.settings import Settings
from pipeline import model as model_io
from pipeline.params import parse_params
from pipeline.stages import export, profile
from pipeline.stages.train import build_estimator

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "gx" / "expectations" / "data.json"
FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]
GOOD = {"island": "Biscoe", "bill_length_mm": 46.1, "bill_depth_mm": 13.2, "flipper_length_mm": 211.0,
        "body_mass_g": 4500.0, "sex": "female"}


@pytest.fixture(scope="session")
def contract() -> DataContract:
    return load_contract(CONTRACT)


def synthetic_frame(contract: DataContract, rows: int = 45, seed: int = 7) -> pd.DataFrame:
    """Rows inside the contract; the label follows bill length so the model has something to learn."""
    rng = random.Random(seed)
    data: dict[str, list[Any]] = {c.name: [] for c in contract.columns}
    species = list(contract.column("species").allowed or ())
    for i in range(rows):
        for col in contract.columns:
            if col.name == "species":
                continue
            if col.allowed:
                data[col.name].append(rng.choice(col.allowed))
            elif col.is_integer:
                data[col.name].append(rng.randint(int(col.minimum or 0), int(col.maximum or 10)))
            else:
                data[col.name].append(rng.uniform(col.minimum or 0.0, col.maximum or 1.0))
        data["species"].append(species[i % len(species)])
    return pd.DataFrame(data)


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory, contract: DataContract) -> Path:
    """A tiny logistic-regression model built by pipeline.stages.train.build_estimator, saved as skops
    and exported to ONNX."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"]["model"] = "logistic_regression"
    params = parse_params(raw)
    frame = synthetic_frame(contract)
    est = build_estimator(params, contract)
    est.fit(frame[FEATURES], frame["species"])
    out = tmp_path_factory.mktemp("model")
    meta = {"features": FEATURES, "target": "species", "classes": [str(c) for c in est.classes_],
            "model": "logistic_regression", "hyperparameters": {"C": 1.0}}
    model_io.save(est, meta, out / "model.skops", out / "model.json")
    # What the app serves: the ONNX export, made by the real export stage.
    loaded = model_io.load(out / "model.skops", out / "model.json")
    numeric = {c.name for c in contract.columns if c.is_numeric}
    suite = profile.build_drift_suite(frame, FEATURES, numeric, bins=5, threshold=0.25)
    export.export(loaded, contract, frame[FEATURES], ["synthetic"], out / "model.onnx", out / "serving.json",
                  drift=export.Drift(suite, "synthetic drift suite", frame[FEATURES], "synthetic"))
    (out / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        "train": {"outs": [{"path": "models/model.skops", "md5": "0123456789abcdef0123456789abcdef", "size": 1}]},
        "export": {"outs": [{"path": "models/model.onnx", "md5": "fedcba9876543210fedcba9876543210", "size": 1}]},
    }}))
    (out / "metrics.json").write_text('{"accuracy": 0.5}')
    return out


@pytest.fixture
def make_settings(model_files: Path, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "model_dir": model_files, "contract_path": CONTRACT, "dvc_lock_path": model_files / "dvc.lock",
            "metrics_path": model_files / "metrics.json", "params_path": ROOT / "params.yaml",
            "git_commit": "abc123", **overrides,
        }
        return Settings.model_validate(values)

    return make


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        settings = make_settings(**overrides)
        return create_app(settings, load_serving_model(settings))

    return make


@pytest.fixture
def tampered_dir(model_files: Path, tmp_path: Path) -> Path:
    """A copy of the tiny model with one byte of the served ONNX file changed; its metadata untouched."""
    target = tmp_path / "tampered"
    shutil.copytree(model_files, target)
    blob = bytearray((target / "model.onnx").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (target / "model.onnx").write_bytes(bytes(blob))
    return target
