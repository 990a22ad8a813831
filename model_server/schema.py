"""Request and response models, derived from the data contract at app build time.

The contract (gx/expectations/data.json) already says each column's type, allowed categories,
range and nullability; the model metadata says which columns are features. The request schema is
built from those two, so the data gate, the training data and the API cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from model_server.contract import Column, DataContract
from model_server.errors import ConfigError


def _field(column: Column, alias: str | None = None) -> tuple[Any, Any]:
    """(annotation, FieldInfo) of one feature column; `alias` is the name requests use when it differs."""
    kind: Any
    constraints: dict[str, Any] = {}
    if column.is_numeric:
        # strict: "39.1" or true is a client error, not a number; NaN and inf never reach the model.
        kind = int if column.is_integer else float
        low, high = column.minimum, column.maximum
        if column.is_integer:  # a whole-number column's bounds may be given as 0.5: the nearest whole numbers inside
            low = math.ceil(low) if low is not None else None
            high = math.floor(high) if high is not None else None
        constraints = {"strict": True, "ge": low, "le": high}
        if not column.is_integer:
            constraints["allow_inf_nan"] = False
    elif column.allowed is not None:
        kind = Literal[tuple(column.allowed)]
    else:
        kind = str
        constraints = {"strict": True, "max_length": 256}
    description = f"{column.dtype}" + (f", one of {list(column.allowed)}" if column.allowed else "")
    if column.minimum is not None or column.maximum is not None:
        description += f", in [{column.minimum}, {column.maximum}]"
    if column.nullable:
        # Missing and null both mean "unknown": the model's imputers fill them as in training.
        return kind | None, Field(None, alias=alias, description=description + ", may be null", **constraints)
    return kind, Field(..., alias=alias, description=description, **constraints)


def _attribute(name: str, position: int) -> str:
    """The Python attribute a feature is held in: its own name unless pydantic cannot take it (a leading
    underscore, or a name BaseModel already has, such as `json` or `copy`); the request uses the name itself."""
    return f"field_{position}" if name.startswith("_") or hasattr(BaseModel, name) else name


def record_model(contract: DataContract, features: Sequence[str]) -> type[BaseModel]:
    """One observation. Requests use the features' own names, whatever characters they hold."""
    unknown = [f for f in features if f not in contract.names]
    if unknown:
        raise ConfigError(f"{contract.source}: model features {unknown} are not in the contract; retrain the model")
    fields: dict[str, tuple[Any, Any]] = {}
    for i, name in enumerate(features):
        attr = _attribute(name, i)
        while attr != name and (attr in features or attr in fields):  # a feature may be called field_0
            attr += "_"
        fields[attr] = _field(contract.column(name), alias=name if attr != name else None)
    return create_model(  # type: ignore[call-overload]
        "Record",
        # protected_namespaces=(): a feature may well be called model_year.
        __config__=ConfigDict(extra="forbid", frozen=True, protected_namespaces=()),
        __doc__="One observation; fields, types, categories and ranges come from the data contract.",
        **fields,
    )


def renamed_attributes(record: type[BaseModel]) -> dict[str, str]:
    """attribute -> feature name, for the features held under another attribute (see `_attribute`)."""
    return {attr: info.alias for attr, info in record.model_fields.items() if info.alias and info.alias != attr}


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, list) else "record"


def request_body(record: type[BaseModel], max_batch: int) -> Any:
    """One record, or a list of 1..max_batch records. The tag keeps error locations readable:
    ``body.record.bill_length_mm`` or ``body.batch.3.sex``."""
    batch = Annotated[list[record], Field(min_length=1, max_length=max_batch)]  # type: ignore[valid-type]
    return Annotated[
        Union[Annotated[record, Tag("record")], Annotated[batch, Tag("batch")]],  # noqa: UP007
        Discriminator(_shape),
    ]


def response_model(classes: Sequence[str]) -> type[BaseModel]:
    label: Any = Literal[tuple(classes)]
    prediction = create_model(
        "Prediction",
        label=(label, Field(..., description="the most probable class")),
        probabilities=(
            dict[label, Annotated[float, Field(ge=0.0, le=1.0)]],
            Field(..., description=f"probability of each class: {list(classes)}"),
        ),
    )
    return create_model(
        "PredictResponse",
        model_sha256=(str, Field(..., description="sha256 of the model file that answered")),
        predictions=(list[prediction], Field(..., description="one per input record, in order")),  # type: ignore[valid-type]
    )
