"""export: the trained model as an ONNX graph for serving, written only once it is proven equal.

Reads models/model.skops (hash-verified), both prepared splits and the drift suite; writes models/model.onnx and
models/serving.json, which carries the drift reference the serving app compares live traffic with
(pipeline/drift_reference.py). A model skl2onnx cannot convert, or a graph that answers differently from the
model on any row, is an error and leaves the last exported pair as it was.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from model_server.contract import DataContract, load_contract, read_suite
from model_server.model_meta import ServingMeta
from model_server.served_model import FORMAT, MISSING_STRING
from pipeline import drift_reference, onnx_export
from pipeline import model as model_io
from pipeline.errors import DataError, ModelError
from pipeline.io import json_text, replaced_together
from pipeline.model import LoadedModel
from pipeline.params import Params
from pipeline.paths import Paths


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import skl2onnx

    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "skl2onnx": skl2onnx.__version__}


def run(params: Params, paths: Paths) -> ServingMeta:
    loaded = model_io.load(paths.model, paths.model_meta)
    contract = load_contract(paths.root / (loaded.meta.contract or params.gates.data.suite))
    frames = []
    for split in (paths.train, paths.test):
        if not split.is_file():
            raise DataError(f"{paths.rel(split)}: prepared data not found; run `dvc repro prepare` first")
        frames.append(pd.read_parquet(split, columns=loaded.features))
    suite = read_suite(paths.root / params.gates.data.drift_suite)
    return export(loaded, contract, pd.concat(frames, ignore_index=True),
                  [paths.rel(paths.train), paths.rel(paths.test)], paths.onnx_model, paths.serving_meta,
                  source=paths.rel(paths.model),
                  drift=Drift(suite, params.gates.data.drift_suite, frames[1], paths.rel(paths.test)))


@dataclass(frozen=True)
class Drift:
    """What the drift reference is made of: the suite, and the split whose predictions are the class reference."""

    suite: dict[str, Any]
    source: str
    rows: pd.DataFrame
    data: str


def export(
    loaded: LoadedModel, contract: DataContract, rows: pd.DataFrame, data: list[str],
    onnx_path: Path, meta_path: Path, source: str = "the model", drift: Drift | None = None,
) -> ServingMeta:
    """Convert, prove on `rows` (and on them with each feature missing), then write graph and metadata."""
    import onnxruntime as ort

    if len(loaded.classes) < 2:
        # onnxruntime aborts the whole process (a C++ assertion, no message) on a one-class classifier.
        raise ModelError(
            f"{source}: was trained on one class only ({loaded.classes}); a classifier needs at least two. "
            "Fix the labels in the raw data and run `dvc repro`"
        )
    columns = [contract.column(f) for f in loaded.features]
    checked = pd.concat([rows, onnx_export.with_missing_values(rows, columns)], ignore_index=True)
    try:
        graph = onnx_export.convert(loaded.estimator, columns).SerializeToString()
    except Exception as exc:  # skl2onnx raises many types for estimators it does not support
        raise ModelError(
            f"{source}: cannot be exported to ONNX ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "use estimators skl2onnx supports (https://onnx.ai/sklearn-onnx/supported.html)"
        ) from None
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    proof = onnx_export.parity(session, loaded.estimator, checked, columns)
    if not proof.ok:
        raise ModelError(
            f"{onnx_path.name}: the ONNX graph answers differently from {source} "
            f"({proof.label_mismatches} of {proof.rows} labels differ, max probability difference "
            f"{proof.max_probability_difference:.2e} (tolerance {onnx_export.PROBABILITY_TOLERANCE:g}), worst at "
            f"checked row {proof.worst_row}); not written, the last exported model stays. "
            "Report the estimator to skl2onnx"
        )

    extra: dict[str, Any] = {}
    if drift is not None:
        [labels] = session.run(["label"], onnx_export.feed(drift.rows, columns))
        predicted = [str(label) for label in labels]
        reference = drift_reference.from_suite(drift.suite, drift.source, loaded.features, loaded.classes,
                                               predicted, drift.data)
        extra["drift_reference"] = reference.to_json()
    meta = ServingMeta.model_validate({
        "format": FORMAT,
        "file": onnx_path.name,
        "sha256": hashlib.sha256(graph).hexdigest(),
        "model": loaded.meta,
        "inputs": onnx_export.input_specs(columns),
        "outputs": {"label": "label", "probabilities": "probabilities"},
        "missing_string": MISSING_STRING,
        "parity": {
            "rows": proof.rows,
            "data": [*data, f"the first {onnx_export.MISSING_VARIANT_ROWS} rows with each feature missing"],
            "label_mismatches": proof.label_mismatches,
            "tied_rows": proof.tied_rows,
            "max_probability_difference": proof.max_probability_difference,
            "tolerance": onnx_export.PROBABILITY_TOLERANCE,
        },
        "exported_with": _versions(),
        **extra,
    })
    with replaced_together(onnx_path, meta_path) as (tmp_graph, tmp_meta):
        tmp_graph.write_bytes(graph)
        tmp_meta.write_text(json_text(meta.to_json()), encoding="utf-8")
    return meta
