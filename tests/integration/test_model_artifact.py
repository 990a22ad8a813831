"""The model artifact: reproducible bytes, verified before load, refused when altered."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from pipeline import model
from pipeline.errors import ModelError

pytestmark = pytest.mark.integration


def fit(seed: int = 0) -> RandomForestClassifier:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(60, 3)), np.array(["a", "b", "c"] * 20)
    return RandomForestClassifier(n_estimators=5, random_state=seed).fit(x, y)


def test_same_estimator_gives_the_same_bytes_and_loads_back(tmp_path: Path) -> None:
    meta = {"classes": ["a", "b", "c"], "features": ["x"]}
    first = model.save(fit(), meta, tmp_path / "a.skops", tmp_path / "a.json")
    second = model.save(fit(), meta, tmp_path / "b.skops", tmp_path / "b.json")
    assert first.sha256 == second.sha256
    loaded = model.load(tmp_path / "a.skops", tmp_path / "a.json")
    x = np.zeros((2, 3))
    assert (loaded.estimator.predict_proba(x) == fit().predict_proba(x)).all()
    assert loaded.classes == ["a", "b", "c"]


def test_altered_file_is_refused_before_loading(tmp_path: Path) -> None:
    model.save(fit(), {"classes": ["a"], "features": ["x"]}, tmp_path / "m.skops", tmp_path / "m.json")
    (tmp_path / "m.skops").write_bytes((tmp_path / "m.skops").read_bytes()[:-10])
    with pytest.raises(ModelError, match=r"m\.skops: sha256 \w{12} does not match \w{12} recorded in m\.json"):
        model.load(tmp_path / "m.skops", tmp_path / "m.json")


def test_missing_hash_in_metadata_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text('{"classes": []}')
    (tmp_path / "m.skops").write_bytes(b"")
    with pytest.raises(ModelError, match=r"m\.json: not model metadata \(sha256: field required\); retrain"):
        model.verify(tmp_path / "m.skops", tmp_path / "m.json")


def _edit_meta(path: Path, **changes: object) -> None:
    meta = json.loads(path.read_text())
    meta.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del meta[key]
    path.write_text(json.dumps(meta))


def test_types_recorded_at_save_are_the_only_extra_ones_trusted_at_load(tmp_path: Path) -> None:
    meta = {"classes": ["a", "b", "c"], "features": ["x"]}
    saved = model.save(fit(), meta, tmp_path / "m.skops", tmp_path / "m.json")
    assert saved.skops_types and "sklearn.tree._tree.Tree" in saved.skops_types
    _edit_meta(tmp_path / "m.json", skops_types=[])
    with pytest.raises(ModelError, match=r"m\.skops: Untrusted types found .*m\.json does not list them"):
        model.load(tmp_path / "m.skops", tmp_path / "m.json")
    _edit_meta(tmp_path / "m.json", skops_types=[*(saved.skops_types or ()), "os.system"])
    with pytest.raises(ModelError, match=r"refuses to load types outside scikit-learn/numpy/scipy: \['os\.system'\]"):
        model.load(tmp_path / "m.skops", tmp_path / "m.json")


def test_metadata_without_the_type_list_still_loads(tmp_path: Path) -> None:
    model.save(fit(), {"classes": ["a", "b", "c"], "features": ["x"]}, tmp_path / "m.skops", tmp_path / "m.json")
    _edit_meta(tmp_path / "m.json", skops_types=None)
    assert model.load(tmp_path / "m.skops", tmp_path / "m.json").estimator.n_estimators == 5


def test_missing_model_file_is_refused_on_load(tmp_path: Path) -> None:
    model.save(fit(), {"classes": ["a"], "features": ["x"]}, tmp_path / "m.skops", tmp_path / "m.json")
    (tmp_path / "m.skops").unlink()
    with pytest.raises(ModelError, match=r"m\.skops: model file not found"):
        model.load(tmp_path / "m.skops", tmp_path / "m.json")
