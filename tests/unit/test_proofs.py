from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.column_stats import collect
from pipeline.gates.proofs import prove


@pytest.fixture
def table() -> pa.Table:
    return pa.table({
        "island": pa.array(["Biscoe", "Dream", None, "Biscoe"]),
        "mass": pa.array([3000.0, None, 4200.5, 5000.0]),
        "year": pa.array([2007, 2008, 2009, 2009]),
    })


def exp(kind: str, **kwargs: object) -> dict:
    return {"type": kind, "kwargs": kwargs}


def test_collect_is_exact(table: pa.Table) -> None:
    stats = collect(table, chunk_rows=3)
    assert stats.rows == 4 and stats.duplicate_rows == 0
    assert stats.column("island").distinct == {"Biscoe", "Dream"} and stats.column("island").nulls == 1
    mass = stats.column("mass")
    assert (mass.minimum, mass.maximum, mass.nulls, mass.distinct) == (3000.0, 5000.0, 1, None)


def test_duplicates_across_chunks_and_signed_zero() -> None:
    table = pa.table({"a": pa.array(["x", "y", "x"]), "b": pa.array([0.0, 1.0, -0.0])})
    assert collect(table, chunk_rows=2).duplicate_rows == 1


def test_nan_leaves_uniqueness_to_gx() -> None:
    table = pa.table({"b": pa.array([float("nan"), 1.0], from_pandas=False)})
    stats = collect(table)
    assert stats.duplicate_rows is None and stats.column("b").nans == 1
    assert prove(exp("expect_column_values_to_be_between", column="b", min_value=0, max_value=2), stats) is None


@pytest.mark.parametrize(
    ("expectation", "proven"),
    [
        (exp("expect_table_row_count_to_be_between", min_value=1, max_value=10), True),
        (exp("expect_table_row_count_to_be_between", min_value=5, max_value=10), False),
        (exp("expect_table_columns_to_match_ordered_list", column_list=["island", "mass", "year"]), True),
        (exp("expect_table_columns_to_match_ordered_list", column_list=["mass", "island", "year"]), False),
        (exp("expect_table_columns_to_match_set", column_list=["mass", "island", "year"]), True),
        (exp("expect_compound_columns_to_be_unique", column_list=["island", "mass", "year"]), True),
        (exp("expect_column_values_to_be_of_type", column="mass", type_="float64"), True),
        (exp("expect_column_values_to_be_of_type", column="island", type_="str"), True),
        (exp("expect_column_values_to_be_of_type", column="year", type_="float64"), False),
        (exp("expect_column_values_to_not_be_null", column="year"), True),
        (exp("expect_column_values_to_not_be_null", column="mass"), False),
        (exp("expect_column_values_to_not_be_null", column="mass", mostly=0.7), True),
        (exp("expect_column_values_to_not_be_null", column="mass", mostly=0.75), False),  # exactly at the line
        (exp("expect_column_values_to_be_between", column="mass", min_value=2500, max_value=7000), True),
        (exp("expect_column_values_to_be_between", column="mass", min_value=3500, max_value=7000), False),
        (exp("expect_column_values_to_be_between", column="mass", min_value=2500, max_value=7000,
             strict_min=True), False),
        (exp("expect_column_values_to_be_in_set", column="island", value_set=["Biscoe", "Dream"]), True),
        (exp("expect_column_values_to_be_in_set", column="island", value_set=["Biscoe"]), False),
        (exp("expect_column_values_to_be_in_set", column="island", value_set=["Biscoe", "Dream"],
             row_condition='year>2007'), False),
        (exp("expect_column_kl_divergence_to_be_less_than", column="mass"), False),
        (exp("expect_column_values_to_not_be_null", column="no_such_column"), False),
    ],
)
def test_prove_only_certain_passes(table: pa.Table, expectation: dict, proven: bool) -> None:
    assert (prove(expectation, collect(table)) is not None) is proven


def test_int_column_with_nulls_is_not_proven_int64() -> None:
    stats = collect(pa.table({"year": pa.array([2007, None])}))
    assert prove(exp("expect_column_values_to_be_of_type", column="year", type_="int64"), stats) is None
