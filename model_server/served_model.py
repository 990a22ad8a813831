"""The artifact the serving app runs: an ONNX graph of the trained model, and its metadata.

`models/model.onnx` is exported from `models/model.skops` by the `export` stage, which proves the two
give the same labels and probabilities on every row the pipeline has (pipeline/onnx_export.py).
`models/serving.json` records the graph's SHA-256, its inputs, that proof, and the metadata of the
trained model it came from; the trained model's SHA-256 stays the model's identity everywhere
(/ready, /version, image labels, deploy checks).

Why ONNX for serving: loading a protobuf graph executes no code, and the runtime (onnxruntime and
NumPy) imports in ~0.1 s against ~0.8 s for scikit-learn with SciPy and pandas, which the serving
image no longer carries (benchmarks/README-serving.md). This module imports neither scikit-learn nor
skl2onnx: the image has neither.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_server import integrity
from model_server.contract import Column
from model_server.errors import ModelError
from model_server.model_meta import ModelMeta, ServingMeta

FORMAT = "onnx"
# What a missing categorical value becomes in the graph's string inputs (ONNX strings cannot be NaN);
# the export sets the trained imputers to replace exactly this, and the contract never allows it.
MISSING_STRING = ""
INPUT_TYPES = ("double", "string")
# A column keeps its name as the graph's input when it is a plain identifier that is none of the graph's own
# names; any other (spaces, '/', '.', unicode, a leading digit) is renamed, because skl2onnx rewrites such
# names its own way and then cannot find the inputs it was given.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_GRAPH_NAMES = frozenset({"label", "probabilities", "features32", "features64"})


def input_names(columns: Sequence[str]) -> dict[str, str]:
    """The graph input for each column: its own name when plain, else `c<position>_<name with every other
    character as '_'>`; the position keeps names apart that are equal once sanitised ("a b" and "a/b")."""
    names: dict[str, str] = {}
    for name in columns:
        if _PLAIN.fullmatch(name) and name not in _GRAPH_NAMES:
            names[name] = name
    taken = set(names.values())
    for i, name in enumerate(columns):
        if name in names:
            continue
        candidate = f"c{i}_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
        while candidate in taken:  # a plain column may already be called c3_x
            candidate += "_"
        names[name] = candidate
        taken.add(candidate)
    return {name: names[name] for name in columns}


def graph_inputs(columns: Sequence[Column], values: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    """The graph's inputs, keyed by input name (`input_names`): one [n, 1] tensor per column, numbers as
    float64 (None -> NaN), the rest as strings (None -> MISSING_STRING); the graph's imputers fill both,
    as in training. The server and the export's parity proof both feed the graph through here, so the proof
    covers what is served. `values` is keyed by the columns' own names."""
    names = input_names([c.name for c in columns])
    out: dict[str, np.ndarray] = {}
    for col in columns:
        column = values[col.name]
        if col.is_numeric:
            out[names[col.name]] = np.array(column, dtype=np.float64).reshape(-1, 1)
        else:
            out[names[col.name]] = np.array(
                [MISSING_STRING if v is None else str(v) for v in column], dtype=object
            ).reshape(-1, 1)
    return out


@dataclass(frozen=True)
class ServedModel:
    session: Any  # onnxruntime.InferenceSession
    meta: ServingMeta  # serving.json

    @property
    def model_meta(self) -> ModelMeta:
        """The trained model's metadata (models/model.json when it was exported)."""
        return self.meta.model

    @property
    def classes(self) -> list[str]:
        return list(self.meta.model.classes)

    @property
    def features(self) -> list[str]:
        return list(self.meta.model.features)


def verify(model_path: Path, meta_path: Path) -> ServingMeta:
    """Check the graph against its recorded hash without loading it; returns serving.json."""
    meta = ServingMeta.read(meta_path)
    integrity.verified_bytes(model_path, meta.sha256, meta_path, "export")
    return meta


def load(model_path: Path, meta_path: Path) -> ServedModel:
    """Verify, then load the very bytes that were hashed."""
    import onnxruntime as ort

    meta = ServingMeta.read(meta_path)
    data = integrity.verified_bytes(model_path, meta.sha256, meta_path, "export")
    options = ort.SessionOptions()
    # One thread per call: a dyno's CPU is shared by the workers, and a session without its own
    # thread pool is safe to fork (WEB_CONCURRENCY > 1 forks workers after the model is loaded).
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only; the app logs what matters as JSON
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own error types for a graph it cannot run
        raise ModelError(f"{model_path}: onnxruntime cannot load it ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200]}); re-export it with `dvc repro export`") from None
    expected = [(i.name, i.type) for i in meta.inputs]
    features = list(meta.model.features)
    if [i.feature for i in meta.inputs] != features or \
            [n for n, _ in expected] != [input_names(features)[f] for f in features]:
        raise ModelError(f"{meta_path}: its inputs do not map the model's features {features[:3]}... to graph "
                         "inputs as this version does; re-export it with `dvc repro export`")
    actual = [(i.name, "double" if i.type == "tensor(double)" else "string" if i.type == "tensor(string)" else i.type)
              for i in session.get_inputs()]
    if actual != expected:
        raise ModelError(f"{model_path}: graph inputs {actual} differ from {expected} in {meta_path.name}; "
                         "re-export it with `dvc repro export`")
    return ServedModel(session=session, meta=meta)
