"""Exact column facts of a Spark DataFrame, as Spark aggregations: the Spark engine's input to the proofs.

The same facts pipeline.column_stats gathers from Arrow chunks (counts, nulls, NaNs, min/max, small distinct
sets), so pipeline.gates.proofs decides on them unchanged. One aggregation pass gives the counts, extremes and
an estimate of each string column's cardinality; a second, only over the string columns whose estimate is small,
collects their exact distinct sets. Duplicate rows are not counted: that is a shuffle of the whole table, as
costly as GX's own check, so `expect_compound_columns_to_be_unique` is left to GX (duplicate_rows None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.column_stats import MAX_DISTINCT, ColumnStats, TableStats
from pipeline.spark_engine import quoted

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Spark's simple type name -> the Arrow name the proofs know (pipeline.gates.proofs._ARROW_TO_PANDAS).
_ARROW_NAMES = {"double": "double", "float": "float", "string": "string", "bigint": "int64", "int": "int32",
                "smallint": "int16", "tinyint": "int8", "boolean": "bool"}
_NUMERIC = {"double", "float", "bigint", "int", "smallint", "tinyint"}
# approx_count_distinct's relative error is 5 %: a column estimated above this surely has > MAX_DISTINCT values.
_ESTIMATE_CEILING = int(MAX_DISTINCT * 1.25)


def collect(frame: DataFrame, detail_rows: int = 0) -> TableStats | None:
    """The facts of `frame`, or None when it has at most `detail_rows` rows (GX then evaluates everything, for
    complete details, and the second pass is not worth its Spark job)."""
    from pyspark.sql import functions as F

    types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    names = list(types)
    aggregates: list[Any] = [F.count(F.lit(1)).alias("rows")]
    for i, name in enumerate(names):
        col, kind = F.col(quoted(name)), types[name]
        aggregates.append(F.sum(col.isNull().cast("long")).alias(f"n{i}"))
        if kind in {"double", "float"}:
            aggregates.append(F.sum(F.isnan(col).cast("long")).alias(f"nan{i}"))
        if kind in _NUMERIC:
            aggregates += [F.min(col).alias(f"lo{i}"), F.max(col).alias(f"hi{i}")]
        elif kind == "string":
            aggregates.append(F.approx_count_distinct(col).alias(f"d{i}"))
    first = frame.agg(*aggregates).collect()[0].asDict()
    rows = int(first["rows"])
    if rows <= detail_rows:
        return None
    stats: dict[str, ColumnStats] = {}
    for i, name in enumerate(names):
        kind = types[name]
        column = ColumnStats(arrow_type=_ARROW_NAMES.get(kind, kind), nulls=int(first[f"n{i}"] or 0),
                             nans=int(first.get(f"nan{i}") or 0), distinct=None)
        if kind in _NUMERIC:
            column.minimum, column.maximum = first[f"lo{i}"], first[f"hi{i}"]
        stats[name] = column
    small = [i for i, name in enumerate(names)
             if types[name] == "string" and int(first[f"d{i}"] or 0) <= _ESTIMATE_CEILING]
    if small:
        sets = frame.agg(*[F.collect_set(F.col(quoted(names[i]))).alias(f"s{i}") for i in small]).collect()[0]
        for i in small:
            values = set(sets[f"s{i}"])
            stats[names[i]].distinct = values if len(values) <= MAX_DISTINCT else None
    return TableStats(columns=names, rows=rows, columns_stats=stats, duplicate_rows=None)
