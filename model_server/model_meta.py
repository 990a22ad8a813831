"""The typed owners of the two model metadata files: `models/model.json` (ModelMeta, the trained model) and
`models/serving.json` (ServingMeta, its ONNX export, which embeds the trained model's ModelMeta).

Both live in the serving core because the server reads serving.json and reports the trained model's identity
(its SHA-256, classes, features); the tool's pipeline/model.py and the export stage write them. Each has one
reader (`read`, strict: a file that is not such metadata is a ModelError naming it; `parse_or_none`, for the
places that report what they can about a broken artifact) and one writer (`to_json`: exactly the keys that were
set, so a file read and written again keeps its bytes). Everyone else reads attributes, not string keys.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model_server.errors import ModelError
from model_server.safe_load import read_json

Meta = TypeVar("Meta", bound="_Metadata")


class _Metadata(BaseModel):
    # extra="allow": keys a later version adds survive a read and write by this one. protected_namespaces=():
    # `model` is a field here (the estimator's kind), not pydantic's namespace.
    model_config = ConfigDict(frozen=True, extra="allow", protected_namespaces=())

    @classmethod
    def parse(cls: type[Meta], data: Any, source: str, fix: str) -> Meta:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the document"
            raise ModelError(f"{source}: not {cls._what()} ({where}: {first['msg'].lower()}); {fix}") from None

    @classmethod
    def parse_or_none(cls: type[Meta], data: Any) -> Meta | None:
        try:
            return cls.model_validate(data)
        except ValidationError:
            return None

    @classmethod
    def _what(cls) -> str:
        return "model metadata"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class ModelMeta(_Metadata):
    """models/model.json: written by the train stage beside model.skops."""

    sha256: str = Field(min_length=1)
    features: tuple[str, ...] = Field(min_length=1)
    classes: tuple[str, ...]
    target: str | None = None
    model: str | None = None  # the estimator's kind, e.g. random_forest
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    train_rows: int | None = None
    sklearn_version: str | None = None
    contract: str | None = None  # the data suite it was trained against
    file: str | None = None
    format: str | None = None
    skops_types: tuple[str, ...] | None = None  # the types beyond skops' defaults the file needs

    @classmethod
    def read(cls, path: Path) -> ModelMeta:
        return cls.parse(read_json(path, "model metadata"), str(path), "retrain with `dvc repro train`")


class GraphInput(_Metadata):
    name: str
    type: Literal["double", "string"]
    column: str | None = None  # the feature it carries, when the graph renamed it (pipeline/onnx_export.py)

    @property
    def feature(self) -> str:
        return self.column if self.column is not None else self.name


def _check_weights(weights: tuple[float, ...], expected: int, what: str) -> None:
    if len(weights) != expected:
        raise ValueError(f"{what} has {len(weights)} weights for {expected} bins")
    if any(w < 0 or not math.isfinite(w) for w in weights) or not math.isclose(sum(weights), 1.0, abs_tol=1e-3):
        raise ValueError(f"{what} weights must be finite, >= 0 and sum to 1")


class FeatureReference(_Metadata):
    """One feature's reference distribution, as the drift suite (`pipeline profile`) stores it: numeric features
    by bin edges (quantiles of the training split) and the share of rows in each bin, categorical ones by value."""

    feature: str
    kind: Literal["numeric", "categorical"]
    weights: tuple[float, ...] = Field(min_length=1)
    edges: tuple[float, ...] | None = None  # numeric: len(weights) + 1 ascending edges
    values: tuple[str, ...] | None = None  # categorical: one per weight
    # numeric: the share the data gate holds out for values outside the edges (GX `tail_weight_holdout`)
    tail_weight: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _consistent(self) -> FeatureReference:
        if self.kind == "numeric":
            if self.edges is None or any(b < a for a, b in zip(self.edges, self.edges[1:], strict=False)):
                raise ValueError(f"{self.feature!r}: a numeric reference needs ascending edges")
            _check_weights(self.weights, len(self.edges) - 1, repr(self.feature))
        else:
            if self.values is None:
                raise ValueError(f"{self.feature!r}: a categorical reference needs values")
            _check_weights(self.weights, len(self.values), repr(self.feature))
        return self


class PredictionReference(_Metadata):
    """The served model's predicted-class distribution on the test split."""

    classes: tuple[str, ...] = Field(min_length=1)
    weights: tuple[float, ...]
    rows: int = Field(ge=1)
    data: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PredictionReference:
        _check_weights(self.weights, len(self.classes), "predictions")
        return self


class DriftReference(_Metadata):
    """What live traffic is compared with (model_server/drift.py); shipped inside serving.json, so the image that
    serves a model always carries that model's reference."""

    source: str | None = None  # the drift suite it was taken from
    features: tuple[FeatureReference, ...] = Field(min_length=1)
    predictions: PredictionReference

    @classmethod
    def _what(cls) -> str:
        return "a drift reference"


class ServingMeta(_Metadata):
    """models/serving.json: written by the export stage beside model.onnx."""

    sha256: str = Field(min_length=1)
    model: ModelMeta  # the trained model it was exported from
    inputs: tuple[GraphInput, ...]
    drift_reference: DriftReference | None = None  # absent in exports older than live drift monitoring
    parity: dict[str, Any] = Field(default_factory=dict)  # the export's proof that both answer alike
    file: str | None = None
    format: str | None = None

    @classmethod
    def _what(cls) -> str:
        return "the metadata of an exported model"

    @classmethod
    def read(cls, path: Path) -> ServingMeta:
        return cls.parse(read_json(path, "serving metadata"), str(path), "re-export it with `dvc repro export`")
