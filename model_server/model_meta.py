"""The typed owners of the two model metadata files: `models/model.json` (ModelMeta, the trained model) and
`models/serving.json` (ServingMeta, its ONNX export, which embeds the trained model's ModelMeta).

Both live in the serving core because the server reads serving.json and reports the trained model's identity
(its SHA-256, classes, features); the tool's pipeline/model.py and the export stage write them. Each has one
reader (`read`, strict: a file that is not such metadata is a ModelError naming it; `parse_or_none`, for the
places that report what they can about a broken artifact) and one writer (`to_json`: exactly the keys that were
set, so a file read and written again keeps its bytes). Everyone else reads attributes, not string keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class ServingMeta(_Metadata):
    """models/serving.json: written by the export stage beside model.onnx."""

    sha256: str = Field(min_length=1)
    model: ModelMeta  # the trained model it was exported from
    inputs: tuple[GraphInput, ...]
    parity: dict[str, Any] = Field(default_factory=dict)  # the export's proof that both answer alike
    file: str | None = None
    format: str | None = None

    @classmethod
    def _what(cls) -> str:
        return "the metadata of an exported model"

    @classmethod
    def read(cls, path: Path) -> ServingMeta:
        return cls.parse(read_json(path, "serving metadata"), str(path), "re-export it with `dvc repro export`")
