"""Proves, from exact column facts, that an expectation would pass in GX.

A proof may only ever say "passes": anything uncertain, and every possible failure, returns
None and is evaluated by GX itself. So the gate's verdicts are GX's verdicts by construction;
this module only skips GX work whose outcome is already certain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.column_stats import TableStats

# pandas dtype GX will see  <-  Arrow type of the column (when the mapping is exact).
_ARROW_TO_PANDAS = {"double": "float64", "string": "str", "large_string": "str", "int64": "int64"}
# Floating-point slack: a ratio this close to `mostly` is left to GX's own arithmetic.
_MARGIN = 1e-9

Proof = dict[str, Any]


def _columns_match(kw: dict[str, Any], stats: TableStats, ordered: bool) -> Proof | None:
    expected = list(kw.get("column_list") or [])
    same = stats.columns == expected if ordered else sorted(stats.columns) == sorted(expected)
    return {"observed": stats.columns} if same else None


def _row_count(kw: dict[str, Any], stats: TableStats) -> Proof | None:
    lo, hi = kw.get("min_value"), kw.get("max_value")
    if kw.get("strict_min") or kw.get("strict_max"):
        return None
    ok = (lo is None or stats.rows >= lo) and (hi is None or stats.rows <= hi)
    return {"observed": stats.rows} if ok else None


def _unique_rows(kw: dict[str, Any], stats: TableStats) -> Proof | None:
    if list(kw.get("column_list") or []) != stats.columns or kw.get("ignore_row_if", "all_values_are_missing") not in {
        "all_values_are_missing", "never"}:
        return None
    return {"observed": None} if stats.duplicate_rows == 0 else None


def _of_type(kw: dict[str, Any], stats: TableStats) -> Proof | None:
    col = stats.column(kw.get("column", ""))
    if col is None:
        return None
    seen = _ARROW_TO_PANDAS.get(col.arrow_type)
    # An int64 column with nulls becomes float64 in pandas: not provable here.
    if seen is None or (seen == "int64" and col.nulls):
        return None
    return {"observed": seen} if seen == kw.get("type_") else None


def _mostly_ok(good: int, total: int, mostly: float) -> bool:
    return total > 0 and good / total - mostly > _MARGIN


def _not_null(kw: dict[str, Any], stats: TableStats) -> Proof | None:
    col = stats.column(kw.get("column", ""))
    if col is None or col.nans or stats.rows == 0:
        return None
    mostly = float(kw.get("mostly", 1.0))
    if col.nulls == 0 or _mostly_ok(stats.rows - col.nulls, stats.rows, mostly):
        return {"unexpected_count": col.nulls}
    return None


def _between(kw: dict[str, Any], stats: TableStats) -> Proof | None:
    col = stats.column(kw.get("column", ""))
    if col is None or col.nans or kw.get("strict_min") or kw.get("strict_max") or col.minimum is None:
        return None
    lo, hi = kw.get("min_value"), kw.get("max_value")
    if (lo is None or col.minimum >= lo) and (hi is None or col.maximum <= hi):
        return {"unexpected_count": 0}
    return None


def _in_set(kw: dict[str, Any], stats: TableStats) -> Proof | None:
    col = stats.column(kw.get("column", ""))
    if col is None or col.distinct is None or kw.get("value_set") is None:
        return None
    return {"unexpected_count": 0} if col.distinct <= set(kw["value_set"]) else None


_PROVERS: dict[str, Callable[[dict[str, Any], TableStats], Proof | None]] = {
    "expect_table_columns_to_match_ordered_list": lambda kw, s: _columns_match(kw, s, ordered=True),
    "expect_table_columns_to_match_set": lambda kw, s: _columns_match(kw, s, ordered=False),
    "expect_table_row_count_to_be_between": _row_count,
    "expect_compound_columns_to_be_unique": _unique_rows,
    "expect_column_values_to_be_of_type": _of_type,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": _in_set,
}
# kwargs a prover understands; any other (row_condition, parse_strings_as_datetimes...) goes to GX.
_UNDERSTOOD = {"column", "column_list", "min_value", "max_value", "value_set", "type_", "mostly",
               "ignore_row_if", "strict_min", "strict_max", "result_format", "catch_exceptions", "meta"}


def provable(expectations: list[dict[str, Any]]) -> bool:
    """Whether gathering column facts can spare GX any work for these expectations."""
    return any(e["type"] in _PROVERS for e in expectations)


def needs_row_keys(expectations: list[dict[str, Any]]) -> bool:
    return any(e["type"] == "expect_compound_columns_to_be_unique" for e in expectations)


def prove(expectation: dict[str, Any], stats: TableStats) -> Proof | None:
    """Facts showing the expectation passes, or None when GX must evaluate it."""
    prover = _PROVERS.get(expectation["type"])
    kwargs = expectation.get("kwargs", {})
    if prover is None or set(kwargs) - _UNDERSTOOD:
        return None
    return prover(kwargs, stats)
