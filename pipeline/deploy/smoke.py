"""The smoke test a deploy must pass on `web_url`: the app is ready and answers one real prediction.

The sample record is built from the data contract (the same suite the data gate and the serving
app's request schema come from), so a contract change reaches the smoke test without an edit here.
A response passes when it holds exactly one prediction whose label is one of the model's classes
and whose class probabilities lie in [0, 1] and add up to 1. Accepted shapes (the serving app owns
the exact one): `{"predictions": [{"label": .., "probabilities": {..}}]}`, a bare list of such
items, or one such item; `prediction`/`class` and `probability`/`proba` are accepted as aliases.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from model_server.contract import DataContract
from pipeline.deploy.deadline import Deadline
from pipeline.errors import ConfigError

LABEL_KEYS = ("label", "prediction", "class")
PROBA_KEYS = ("probabilities", "probability", "proba")


def sample_record(contract: DataContract, features: Sequence[str]) -> dict[str, Any]:
    """One valid record: the first allowed category, or the middle of the allowed numeric range."""
    record: dict[str, Any] = {}
    for name in features:
        col = contract.column(name)
        if col.allowed:
            record[name] = col.allowed[0]
        elif col.is_numeric:
            low = col.minimum if col.minimum is not None else 0.0
            high = col.maximum if col.maximum is not None else low + 1.0
            middle = (float(low) + float(high)) / 2
            record[name] = round(middle) if col.is_integer else round(middle, 2)
        else:
            raise ConfigError(
                f"{contract.source}: column {name!r} has neither allowed values nor a numeric type; "
                "the smoke test cannot invent a value for it"
            )
    return record


def _first(item: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((item[k] for k in keys if k in item), None)


def check_prediction(body: Any, classes: Sequence[str] | None) -> str | None:
    """None when `body` is one well-formed prediction; else what is wrong, in a few words."""
    items: Any = body.get("predictions", body) if isinstance(body, dict) else body
    if isinstance(items, dict):
        items = {k: v for k, v in items.items() if k != "model_sha256"}
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        return f"expected one prediction for one record, got {_excerpt(body)}"
    item = items[0]
    label = _first(item, LABEL_KEYS)
    if not isinstance(label, str):
        return f"no label ({'/'.join(LABEL_KEYS)}) in {_excerpt(item)}"
    if classes and label not in classes:
        return f"label {label!r} is not one of the model's classes {list(classes)}"
    proba = _first(item, PROBA_KEYS)
    if isinstance(proba, list) and classes and len(proba) == len(classes):
        proba = dict(zip(classes, proba, strict=True))
    if not isinstance(proba, dict) or not proba:
        return f"no class probabilities ({'/'.join(PROBA_KEYS)}) in {_excerpt(item)}"
    if classes and set(proba) != set(classes):
        return f"probabilities are for {sorted(proba)}, the model's classes are {sorted(classes)}"
    values = list(proba.values())
    if not all(isinstance(v, int | float) and 0.0 <= v <= 1.0 for v in values):
        return f"probabilities must be numbers in [0, 1], got {_excerpt(proba)}"
    if not math.isclose(sum(values), 1.0, abs_tol=1e-3):
        return f"probabilities add up to {sum(values):.4f}, not 1"
    return None


def _excerpt(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Probe:
    """What the smoke test sends and expects. `model_sha256`, when known, must match the hash the
    app reports (the serving app puts `model_sha256` in its /predict answer)."""

    sample: dict[str, Any]
    classes: Sequence[str] | None
    model_sha256: str | None = None


@dataclass
class SmokeResult:
    passed: bool = False
    ready_status: int | None = None
    predict_status: int | None = None
    problem: str | None = None
    prediction: Any = None
    model_sha256: str | None = None
    version: Any = None
    seconds: float = 0.0
    attempts: int = 0
    sample: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def smoke_test(
    web_url: str,
    probe: Probe,
    deadline: Deadline,
    *,
    ready_within: float = 30.0,
    session: requests.Session | None = None,
) -> SmokeResult:
    """GET /ready until 200 (the router may answer 503 for a moment after a restart), then POST /predict."""
    http = session or requests.Session()
    base = web_url.rstrip("/")
    result = SmokeResult(sample=probe.sample)
    started = time.monotonic()
    give_up = started + min(ready_within, deadline.remaining())
    while True:
        result.attempts += 1
        try:
            resp = http.get(f"{base}/ready", timeout=deadline.cap(10))
            result.ready_status = resp.status_code
            if resp.status_code == 200:
                break
            last = f"GET /ready -> {resp.status_code}"
        except requests.RequestException as exc:
            last = f"GET /ready failed ({type(exc).__name__})"
        if time.monotonic() >= give_up:
            result.problem = f"{last} for {ready_within:.0f} s"
            result.seconds = time.monotonic() - started
            return result
        deadline.sleep(0.5)
    try:
        resp = http.post(f"{base}/predict", json=probe.sample, timeout=deadline.cap(30))
        result.predict_status = resp.status_code
        body = resp.json() if resp.content else None
    except requests.RequestException as exc:
        result.problem = f"POST /predict failed ({type(exc).__name__})"
    except ValueError:
        result.problem = f"POST /predict -> {result.predict_status} with a body that is not JSON"
    else:
        if resp.status_code != 200:
            result.problem = f"POST /predict -> {resp.status_code}: {_excerpt(body)}"
        else:
            result.prediction = body
            reported = body.get("model_sha256") if isinstance(body, dict) else None
            result.model_sha256 = reported if isinstance(reported, str) else None
            shape = check_prediction(body, probe.classes)
            if shape:
                result.problem = f"POST /predict answered the wrong shape: {shape}"
            elif probe.model_sha256 and result.model_sha256 and result.model_sha256 != probe.model_sha256:
                result.problem = (
                    f"the app serves model {result.model_sha256[:12]}, this deploy expects "
                    f"{probe.model_sha256[:12]} (models/model.json); the image carries another model"
                )
    try:
        resp = http.get(f"{base}/version", timeout=deadline.cap(10))
        result.version = resp.json() if resp.status_code == 200 else None
    except (requests.RequestException, ValueError):
        result.version = None
    result.passed = result.problem is None
    result.seconds = time.monotonic() - started
    return result
