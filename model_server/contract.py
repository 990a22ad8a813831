"""The data contract, read from the versioned GX data suite.

The suite (gx/expectations/data.json) is the one source of truth for column names, types,
allowed categories, ranges and nullability. The prepare stage parses raw files with it and the
serving app derives its request schema from it, so the three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_server.errors import ConfigError
from model_server.safe_load import ParseError, load_json

NUMERIC_TYPES = {"float64", "float32", "int64", "int32"}
STRING_TYPES = {"str", "string", "object"}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    nullable: bool = True
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def is_numeric(self) -> bool:
        return self.dtype in NUMERIC_TYPES

    @property
    def is_integer(self) -> bool:
        return self.dtype.startswith("int")


@dataclass(frozen=True)
class DataContract:
    source: str
    columns: tuple[Column, ...]
    expectations: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise ConfigError(f"{self.source}: no column {name!r} in the contract; add it or fix params.yaml")


def read_suite(path: Path) -> dict[str, Any]:
    """Load a GX suite JSON file, reporting a missing or malformed file in one line."""
    try:
        doc = load_json(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: expectation suite not found; check gates.data in params.yaml") from None
    except ParseError as exc:
        raise ConfigError(f"{exc.located(str(path))}; fix the suite") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list) or "name" not in doc:
        raise ConfigError(f"{path}: not a GX expectation suite (needs 'name' and an 'expectations' list)")
    for i, exp in enumerate(doc["expectations"]):
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str):
            raise ConfigError(f"{path}: expectations[{i}] has no 'type'; each entry needs type and kwargs")
    return doc


def contract_from_suite(doc: dict[str, Any], source: str) -> DataContract:
    expectations = doc["expectations"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for exp in expectations:
        by_type.setdefault(exp["type"], []).append(exp.get("kwargs", {}))

    ordered = by_type.get("expect_table_columns_to_match_ordered_list") or by_type.get(
        "expect_table_columns_to_match_set"
    )
    if not ordered:
        raise ConfigError(
            f"{source}: the data suite must declare its columns with "
            "expect_table_columns_to_match_ordered_list (or _match_set)"
        )
    names = list(ordered[0].get("column_list") or [])

    def per_column(kind: str) -> dict[str, dict[str, Any]]:
        return {kw["column"]: kw for kw in by_type.get(kind, []) if "column" in kw}

    types = per_column("expect_column_values_to_be_of_type")
    not_null = per_column("expect_column_values_to_not_be_null")
    sets = per_column("expect_column_values_to_be_in_set")
    ranges = per_column("expect_column_values_to_be_between")
    untyped = [n for n in names if n not in types]
    if untyped:
        raise ConfigError(
            f"{source}: columns {untyped} have no expect_column_values_to_be_of_type; every column needs a type"
        )
    columns = []
    for name in names:
        rng = ranges.get(name, {})
        allowed = sets.get(name, {}).get("value_set")
        columns.append(
            Column(
                name=name,
                dtype=str(types[name]["type_"]),
                # mostly < 1 tolerates some missing values, so the column stays nullable.
                nullable=name not in not_null or float(not_null[name].get("mostly", 1.0)) < 1.0,
                allowed=tuple(str(v) for v in allowed) if allowed is not None else None,
                minimum=rng.get("min_value"),
                maximum=rng.get("max_value"),
            )
        )
    return DataContract(source=source, columns=tuple(columns), expectations=tuple(expectations))


def load_contract(path: Path) -> DataContract:
    return contract_from_suite(read_suite(path), str(path))
