"""Load what the app serves: the verified model, or the reason it is refused, plus its provenance.

A model that fails its integrity check or self-check does not stop the process: the app starts,
answers /health, and reports the reason on /ready with 503. A platform that restarts crashed
processes would otherwise restart a tampered image forever.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from model_server import served_model
from model_server.contract import DataContract, load_contract
from model_server.errors import PipelineError
from model_server.model_meta import DriftReference, ModelMeta, ServingMeta
from model_server.predictor import Predictor, self_check
from model_server.safe_load import load_json, load_yaml, read_or_none
from model_server.served_model import ServedModel
from model_server.settings import Settings

log = logging.getLogger("model_server")


@dataclass(frozen=True)
class ServingModel:
    contract: DataContract
    features: tuple[str, ...]
    classes: tuple[str, ...]
    predictor: Predictor | None
    problem: str | None = None
    sha256: str | None = None
    load_seconds: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)
    drift_reference: DriftReference | None = None  # serving.json's, what live traffic is compared with

    @property
    def ready(self) -> bool:
        return self.predictor is not None and self.problem is None

    @classmethod
    def from_loaded(
        cls, loaded: ServedModel, contract: DataContract, *, load_seconds: float = 0.0,
        provenance: dict[str, Any] | None = None,
    ) -> ServingModel:
        """A loaded (hash-verified) model, self-checked with one prediction before it is called ready."""
        features = tuple(loaded.features)
        predictor = Predictor(loaded.session, tuple(contract.column(f) for f in features), tuple(loaded.classes))
        problem = self_check(predictor)
        return cls(
            contract=contract,
            features=features,
            classes=tuple(loaded.classes),
            predictor=predictor if problem is None else None,
            problem=problem,
            # The trained model's hash is the model's identity; the graph's is checked on load.
            sha256=loaded.model_meta.sha256,
            load_seconds=load_seconds,
            provenance=provenance or {},
            drift_reference=loaded.meta.drift_reference,
        )

    @classmethod
    def refused(cls, contract: DataContract, serving_meta: Any, problem: str, **kw: Any) -> ServingModel:
        # Without readable metadata the request schema falls back to every contract column.
        meta = _trained(serving_meta)
        known = [f for f in (meta.features if meta else ()) if f in contract.names]
        features = tuple(known) or contract.names
        return cls(contract=contract, features=features, classes=meta.classes if meta else ("unknown",),
                   predictor=None, problem=problem, **kw)


def _trained(serving_meta: Any) -> ModelMeta | None:
    """The trained model's metadata that serving.json carries, when readable: a refused model still reports what
    it can (the graph may be the part that was tampered with)."""
    return ModelMeta.parse_or_none(serving_meta.get("model")) if isinstance(serving_meta, dict) else None


def dvc_model_hash(lock: Any, model_path: str) -> str | None:
    """The md5 DVC recorded for the model file in dvc.lock (what `dvc pull` would fetch)."""
    if not isinstance(lock, dict):
        return None
    for stage in (lock.get("stages") or {}).values():
        for out in (stage or {}).get("outs") or []:
            if isinstance(out, dict) and out.get("path") == model_path:
                return str(out.get("md5")) if out.get("md5") else None
    return None


def provenance(settings: Settings, serving_meta: Any) -> dict[str, Any]:
    params = read_or_none(settings.params_path, load_yaml)
    lock = read_or_none(settings.dvc_lock_path, load_yaml)
    meta = _trained(serving_meta)
    served = ServingMeta.parse_or_none(serving_meta)
    return {
        "git_commit": settings.git_commit,
        "model": {
            "sha256": meta.sha256 if meta else None,
            "dvc_md5": dvc_model_hash(lock, "models/model.skops"),
            "type": meta.model if meta else None,
            "hyperparameters": meta.hyperparameters if meta else None,
            "features": list(meta.features) if meta else None,
            "classes": list(meta.classes) if meta else None,
            "sklearn_version": meta.sklearn_version if meta else None,  # what it was trained with
            "train_rows": meta.train_rows if meta else None,
            "served_as": {
                "format": served.format if served else None,
                "sha256": served.sha256 if served else None,
                "dvc_md5": dvc_model_hash(lock, "models/model.onnx"),
                "parity": served.parity if served else None,
            },
        },
        "params": params if isinstance(params, dict) else None,
        "metrics": read_or_none(settings.metrics_path, load_json),
    }


def load_serving_model(settings: Settings) -> ServingModel:
    """Never raises for a bad model (see module doc); a missing contract is a broken image and does raise."""
    contract = load_contract(settings.contract_path)
    meta = read_or_none(settings.meta_path, load_json)
    info = provenance(settings, meta)
    start = time.perf_counter()
    try:
        loaded = served_model.load(settings.model_path, settings.meta_path)
    except PipelineError as exc:
        log.error("model refused: %s", exc, extra={"fields": {"event": "model_refused"}})
        return ServingModel.refused(contract, meta, str(exc), provenance=info)
    try:
        serving = ServingModel.from_loaded(
            loaded, contract, load_seconds=time.perf_counter() - start, provenance=info
        )
    except PipelineError as exc:  # features outside the contract
        log.error("model refused: %s", exc, extra={"fields": {"event": "model_refused"}})
        return ServingModel.refused(contract, meta, str(exc), provenance=info)
    if serving.problem:
        log.error("model refused: %s: %s", settings.model_path, serving.problem,
                  extra={"fields": {"event": "model_refused"}})
    else:
        log.info("model ready: %s sha256 %s in %.2fs", settings.model_path, (serving.sha256 or "")[:12],
                 serving.load_seconds, extra={"fields": {"event": "model_ready"}})
    return serving
