"""The export stage: the served ONNX graph answers exactly like the trained model, or nothing is written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from model_server import served_model
from model_server.contract import DataContract
from pipeline import model as model_io
from pipeline import onnx_export
from pipeline.errors import ModelError
from pipeline.params import parse_params
from pipeline.stages import export
from pipeline.stages.train import build_estimator
from tests.servekit import FEATURES, ROOT, synthetic_frame

pytestmark = pytest.mark.integration


def _trained(tmp: Path, contract: DataContract, kind: str, seed: int = 42) -> model_io.LoadedModel:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"]["model"] = kind
    raw["train"]["seed"] = seed
    params = parse_params(raw)
    frame = synthetic_frame(contract, rows=120, seed=seed)
    est = build_estimator(params, contract).fit(frame[FEATURES], frame["species"])
    meta = {"features": FEATURES, "classes": [str(c) for c in est.classes_], "model": kind}
    model_io.save(est, meta, tmp / "model.skops", tmp / "model.json")
    return model_io.load(tmp / "model.skops", tmp / "model.json")


def _rows(contract: DataContract, seed: int = 3) -> pd.DataFrame:
    frame = synthetic_frame(contract, rows=80, seed=seed)[FEATURES]
    # Missing values as the prepared data holds them: NaN in each column's own dtype.
    frame.loc[::7, "bill_length_mm"] = np.nan
    frame["sex"] = frame["sex"].astype("str").where(frame.index % 5 != 0, None)
    return frame


@pytest.mark.parametrize("kind", ["random_forest", "logistic_regression"])
def test_export_is_proven_equal_reproducible_and_loads_without_scikit_learn(
    tmp_path: Path, contract: DataContract, kind: str
) -> None:
    loaded = _trained(tmp_path, contract, kind)
    rows = _rows(contract)
    meta = export.export(loaded, contract, rows, ["synthetic"], tmp_path / "model.onnx", tmp_path / "serving.json")
    graph = (tmp_path / "model.onnx").read_bytes()
    assert meta.sha256 == hashlib.sha256(graph).hexdigest()
    assert meta.model.sha256 == loaded.meta.sha256
    assert meta.parity["label_mismatches"] == 0
    assert meta.parity["rows"] == len(rows) + onnx_export.MISSING_VARIANT_ROWS * len(FEATURES)
    assert meta.parity["max_probability_difference"] <= onnx_export.PROBABILITY_TOLERANCE
    assert json.loads((tmp_path / "serving.json").read_text()) == meta.to_json()

    again = export.export(loaded, contract, rows, ["synthetic"], tmp_path / "b.onnx", tmp_path / "b.json")
    assert again.sha256 == meta.sha256, "the same model must export to the same bytes"

    # An independent check through the serving loader: labels equal, probabilities to float32 rounding.
    served = served_model.load(tmp_path / "model.onnx", tmp_path / "serving.json")
    labels, proba = served.session.run(None, onnx_export.feed(rows, [contract.column(f) for f in FEATURES]))
    assert list(labels) == list(loaded.estimator.predict(rows))
    np.testing.assert_allclose(proba, loaded.estimator.predict_proba(rows), atol=1e-6)


def test_parity_catches_a_graph_that_answers_differently(tmp_path: Path, contract: DataContract) -> None:
    first = _trained(tmp_path, contract, "random_forest", seed=1)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = _trained(other_dir, contract, "random_forest", seed=2)
    columns = [contract.column(f) for f in FEATURES]
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_export.convert(other.estimator, columns).SerializeToString())
    proof = onnx_export.parity(session, first.estimator, _rows(contract), columns)
    assert not proof.ok
    assert proof.max_probability_difference > onnx_export.PROBABILITY_TOLERANCE


def test_a_model_that_cannot_be_converted_leaves_the_last_export(
    tmp_path: Path, contract: DataContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = _trained(tmp_path, contract, "random_forest")
    export.export(loaded, contract, _rows(contract), ["synthetic"], tmp_path / "model.onnx", tmp_path / "serving.json")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model.onnx", tmp_path / "serving.json")}

    class Unsupported:  # what skl2onnx has no converter for
        def predict_proba(self, x: Any) -> Any:
            return np.zeros((len(x), 3))

    bad = model_io.LoadedModel(estimator=Unsupported(), meta=loaded.meta)
    with pytest.raises(ModelError, match=r"^m\.skops: cannot be exported to ONNX \(ValueError: expected a Pipeline"):
        export.export(bad, contract, _rows(contract), ["synthetic"], tmp_path / "model.onnx",
                      tmp_path / "serving.json", source="m.skops")

    def disagreeing(session: Any, estimator: Any, frame: pd.DataFrame, columns: Any) -> onnx_export.Parity:
        return onnx_export.Parity(rows=len(frame), label_mismatches=2, max_probability_difference=0.3, worst_row=4)

    monkeypatch.setattr(onnx_export, "parity", disagreeing)
    with pytest.raises(ModelError, match=r"model\.onnx: the ONNX graph answers differently .*\(2 of \d+ labels differ"):
        export.export(loaded, contract, _rows(contract), ["synthetic"], tmp_path / "model.onnx",
                      tmp_path / "serving.json")
    assert {p.name: p.read_bytes() for p in (tmp_path / "model.onnx", tmp_path / "serving.json")} == before


def test_served_model_refuses_altered_or_mismatched_files(tmp_path: Path, contract: DataContract) -> None:
    loaded = _trained(tmp_path, contract, "logistic_regression")
    export.export(loaded, contract, _rows(contract), ["synthetic"], tmp_path / "model.onnx", tmp_path / "serving.json")
    graph, meta = tmp_path / "model.onnx", tmp_path / "serving.json"
    good_graph, good_meta = graph.read_bytes(), meta.read_text()

    graph.write_bytes(good_graph[:-5])
    with pytest.raises(ModelError, match=r"model\.onnx: sha256 \w{12} does not match \w{12} recorded in serving\.json"):
        served_model.load(graph, meta)

    # A valid graph whose declared inputs do not match what the metadata (and the app) will feed.
    graph.write_bytes(good_graph)
    doctored = json.loads(good_meta)
    doctored["inputs"][0]["type"] = "double"
    meta.write_text(json.dumps(doctored))
    with pytest.raises(ModelError, match=r"model\.onnx: graph inputs .* differ from .* in serving\.json"):
        served_model.load(graph, meta)

    meta.write_text(json.dumps({"sha256": doctored["sha256"]}))
    with pytest.raises(ModelError, match=r"serving\.json: not the metadata of an exported model"):
        served_model.load(graph, meta)

    garbage = b"not an onnx graph"
    graph.write_bytes(garbage)
    doctored["sha256"] = hashlib.sha256(garbage).hexdigest()
    meta.write_text(json.dumps(doctored))
    with pytest.raises(ModelError, match=r"model\.onnx: onnxruntime cannot load it"):
        served_model.load(graph, meta)


def test_image_build_refuses_an_export_of_another_model(tmp_path: Path, contract: DataContract) -> None:
    from pipeline.container import image

    models = tmp_path / "models"
    models.mkdir()
    old = _trained(models, contract, "random_forest", seed=1)
    export.export(old, contract, _rows(contract), ["synthetic"], models / "model.onnx", models / "serving.json")
    _trained(models, contract, "random_forest", seed=2)  # retrained, not re-exported
    spec = image.BuildSpec(context=tmp_path, repository="m", git_commit="0" * 40)
    stale = r"model\.onnx: exported from model \w{12}, not from .*model\.skops .*dvc repro export"
    with pytest.raises(ModelError, match=stale):
        image.build(None, spec)
