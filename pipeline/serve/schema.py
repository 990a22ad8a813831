"""Request and response models, derived from the data contract at app build time.

The contract (gx/expectations/data.json) already says each column's type, allowed categories,
range and nullability; the model metadata says which columns are features. The request schema is
built from those two, so the data gate, the training data and the API cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from pipeline.contract import Column, DataContract
from pipeline.errors import ConfigError


def _field(column: Column) -> tuple[Any, Any]:
    """(annotation, FieldInfo) of one feature column."""
    kind: Any
    constraints: dict[str, Any] = {}
    if column.is_numeric:
        # strict: "39.1" or true is a client error, not a number; NaN and inf never reach the model.
        kind = int if column.is_integer else float
        constraints = {"strict": True, "ge": column.minimum, "le": column.maximum}
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
        return kind | None, Field(None, description=description + ", may be null", **constraints)
    return kind, Field(..., description=description, **constraints)


def record_model(contract: DataContract, features: Sequence[str]) -> type[BaseModel]:
    unknown = [f for f in features if f not in contract.names]
    if unknown:
        raise ConfigError(f"{contract.source}: model features {unknown} are not in the contract; retrain the model")
    fields = {name: _field(contract.column(name)) for name in features}
    return create_model(  # type: ignore[call-overload]
        "Record",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="One observation; fields, types, categories and ranges come from the data contract.",
        **fields,
    )


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
