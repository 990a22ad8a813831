"""Draft a data contract (the GX suite `gx/expectations/data.json`) from a user's own table: what `pipeline init`
writes, so nobody has to type every column name three or four times by hand.

Pure: a DataFrame in, the suite and what was inferred out. The draft states only what the file shows (column order,
types, null rates, ranges, category sets, row count, duplicate rows) with margins, and says what to review: a
contract is the user's promise about future data, which no single file can make for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline.errors import DataError

# A string column with at most this many distinct values is a category (its set is the contract); above it, free
# text or an identifier, whose values are not listed.
MAX_CATEGORIES = 50
# Ranges widened by this share of their span on each side: a new batch may reach a little past the old extremes.
RANGE_MARGIN = 0.1
# Null-rate allowance under the observed rate before the gate fails (`mostly`).
NULL_SLACK = 0.05
# A classification target has few labels; more distinct numbers than this (and than half the rows) is a quantity.
MAX_LABELS = 20


@dataclass(frozen=True)
class Draft:
    suite: dict[str, Any]
    features: list[str]
    labels: list[str]
    notes: list[str] = field(default_factory=list)


def _dtype(col: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(col):
        return "str"
    if pd.api.types.is_integer_dtype(col):
        return "int64"
    if pd.api.types.is_float_dtype(col):
        # Whole numbers with gaps read as float64; declaring them int64 would refuse the missing values.
        return "float64"
    return "str"


def _expect(kind: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs, "meta": {}}


def _rounded(value: float, up: bool) -> float | int:
    """A bound a human can read (4 significant digits, integer when whole), never rounded inwards past `value`."""
    if value == 0 or not math.isfinite(value):
        return 0 if value == 0 else value
    scale = 10.0 ** (math.floor(math.log10(abs(value))) - 3)
    bound = (math.ceil if up else math.floor)(value / scale) * scale
    pretty = float(f"{bound:.4g}")
    if (up and pretty < value) or (not up and pretty > value):
        pretty = bound if (up and bound >= value) or (not up and bound <= value) else value
    return int(pretty) if pretty.is_integer() and abs(pretty) < 2**53 else pretty


def draft_contract(frame: pd.DataFrame, target: str, suite_name: str = "data") -> Draft:
    """The contract for `frame` with `target` as the label; DataError when the table cannot be a classification
    dataset as it stands (no such column, one class, a quantity as target, no rows)."""
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise DataError(f"target {target!r} is not a column; the columns are {columns}")
    if len(frame) == 0:
        raise DataError("the file has a header but no data rows")
    labels_seen = frame[target].dropna()
    distinct = int(labels_seen.nunique())
    if distinct < 2:
        raise DataError(f"target {target!r} holds {distinct} class(es); a classifier needs at least two")
    rows = len(frame)
    target_dtype = _dtype(frame[target])
    if target_dtype == "float64" or (target_dtype == "int64" and distinct > MAX_LABELS and distinct > rows / 2):
        raise DataError(f"target {target!r} has {distinct} distinct numeric values in {rows} rows, a regression "
                        "target; this pipeline trains classifiers only: choose a categorical target (or bin it)")
    low, high = max(1, rows // 10), rows * 10
    expectations = [
        _expect("table_columns_to_match_ordered_list", column_list=columns),
        _expect("table_row_count_to_be_between", min_value=low, max_value=high),
    ]
    notes = [f"row count between {low} and {high} (the file has {rows}): set what a batch of yours may hold"]
    if not frame.duplicated().any():
        expectations.append(_expect("compound_columns_to_be_unique", column_list=columns))
        notes.append("no duplicated rows: a repeated row will fail the gate (remove that expectation if "
                     "repeats are legitimate in your data)")
    types: list[dict[str, Any]] = []
    nulls: list[dict[str, Any]] = []
    sets: list[dict[str, Any]] = []
    ranges: list[dict[str, Any]] = []
    identifiers: list[str] = []
    for name in columns:
        col = frame[name]
        dtype = _dtype(col)
        types.append(_expect("column_values_to_be_of_type", column=name, type_=dtype))
        null_rate = float(col.isna().mean())
        if null_rate == 0:
            nulls.append(_expect("column_values_to_not_be_null", column=name))
        else:
            mostly = max(0.0, math.floor((1 - null_rate - NULL_SLACK) * 100) / 100)
            nulls.append(_expect("column_values_to_not_be_null", column=name, mostly=mostly))
            notes.append(f"{name!r}: {null_rate:.1%} missing, allowed down to {mostly:.0%} present")
        present = col.dropna()
        if dtype == "str":
            values = sorted({str(v) for v in present})
            if len(values) <= MAX_CATEGORIES or name == target:
                sets.append(_expect("column_values_to_be_in_set", column=name, value_set=values))
            elif len(values) == len(present):
                identifiers.append(name)
        elif len(present):
            lo, hi = float(present.min()), float(present.max())
            margin = RANGE_MARGIN * (hi - lo) or max(abs(lo) * RANGE_MARGIN, 1.0)
            ranges.append(_expect("column_values_to_be_between", column=name,
                                  min_value=_rounded(lo - margin, up=False), max_value=_rounded(hi + margin, up=True)))
    expectations += types + nulls + sets + ranges
    features = [c for c in columns if c != target and c not in identifiers]
    if identifiers:
        notes.append(f"left out of data.features, unique per row like an identifier: {identifiers}")
    notes.append(f"ranges: the file's min and max widened by {RANGE_MARGIN:.0%} of the span; category sets: the "
                 "values the file holds; widen both for values you expect later")
    suite = {
        "name": suite_name,
        "meta": {"notes": "The data contract, drafted by `pipeline init` from the data; review it. The serving "
                          "request schema and the prepare stage's parser are derived from this file."},
        "expectations": expectations,
    }
    return Draft(suite, features, sorted(str(v) for v in labels_seen.unique()), notes)
