"""Cheap, exact column facts gathered from Arrow data in bounded chunks.

These are what `pipeline.gates.proofs` uses to prove that an expectation passes without running
it. Everything here is exact (counts, min/max, distinct sets, row-key duplicates); where a fact
would be too costly or inexact (very many distinct strings, NaN in a float column) it is left as
None and the expectation goes to GX.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

# Above this many distinct values a string column's set is not tracked (in_set goes to GX).
MAX_DISTINCT = 10_000
CHUNK_ROWS = 1_000_000
_NULL_KEY = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class ColumnStats:
    arrow_type: str
    nulls: int = 0
    nans: int = 0
    minimum: Any = None
    maximum: Any = None
    distinct: set[Any] | None = field(default_factory=set)


@dataclass
class TableStats:
    columns: list[str]
    rows: int
    columns_stats: dict[str, ColumnStats]
    duplicate_rows: int | None  # rows whose full-row key was seen before; None when not computed

    def column(self, name: str) -> ColumnStats | None:
        return self.columns_stats.get(name)


def _update_column(stats: ColumnStats, array: pa.ChunkedArray | pa.Array) -> None:
    stats.nulls += array.null_count
    if pa.types.is_floating(array.type):
        stats.nans += int(pc.sum(pc.is_nan(array)).as_py() or 0)
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        mm = pc.min_max(array)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        if lo is not None:
            stats.minimum = lo if stats.minimum is None else min(stats.minimum, lo)
            stats.maximum = hi if stats.maximum is None else max(stats.maximum, hi)
        stats.distinct = None
    elif stats.distinct is not None:
        stats.distinct.update(v for v in pc.unique(array).to_pylist() if v is not None)
        if len(stats.distinct) > MAX_DISTINCT:
            stats.distinct = None


def _row_keys(
    batch: pa.RecordBatch, stats: dict[str, ColumnStats], dictionaries: dict[str, pa.Array]
) -> np.ndarray | None:
    combined = np.zeros(batch.num_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name, array in zip(batch.schema.names, batch.columns, strict=True):
            key = _column_key(array, dictionaries.get(name))
            if key is None:
                return None
            # splitmix64-style mixing: collisions only cost a GX run, never a wrong verdict.
            combined = (combined ^ key) * np.uint64(0xBF58476D1CE4E5B9)
            combined ^= combined >> np.uint64(31)
    return combined


def _column_key(array: pa.Array, dictionary: pa.Array | None) -> np.ndarray | None:
    """A uint64 per row that is equal for equal values (nulls share one key)."""
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
        values = array.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
        if np.isnan(values).any():
            return None  # NaN has many bit patterns but compares equal for duplicates: let GX decide
        key = (values + 0.0).view(np.uint64).copy()  # + 0.0 folds -0.0 into 0.0
    elif (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)) and dictionary is not None:
        positions = pc.index_in(array, value_set=dictionary)
        key = positions.fill_null(0).to_numpy(zero_copy_only=False).astype(np.uint64) + np.uint64(1)
    else:
        return None
    if array.null_count:
        key[array.is_null().to_numpy(zero_copy_only=False)] = _NULL_KEY
    return key


def _chunks(source: pa.Table | ds.Dataset, chunk_rows: int) -> Iterable[pa.RecordBatch]:
    if isinstance(source, pa.Table):
        return source.to_batches(max_chunksize=chunk_rows)
    return source.to_batches(batch_size=chunk_rows)


def collect(source: pa.Table | ds.Dataset, chunk_rows: int | None = None, row_keys: bool = True) -> TableStats:
    """Gather exact facts chunk by chunk. With a dataset (files on disk) memory is O(chunk + distinct
    values + 8 bytes per row for duplicate detection), whatever the size of the data."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    schema = source.schema
    stats = {name: ColumnStats(arrow_type=str(schema.field(name).type)) for name in schema.names}
    rows = 0
    for batch in _chunks(source, chunk_rows):
        rows += batch.num_rows
        for name, array in zip(batch.schema.names, batch.columns, strict=True):
            _update_column(stats[name], array)
    duplicates: int | None = None
    if row_keys and rows:
        dictionaries = {n: pa.array(sorted(s.distinct), type=pa.string())
                        for n, s in stats.items() if s.distinct is not None}
        keys: list[np.ndarray] = []
        for batch in _chunks(source, chunk_rows):
            k = _row_keys(batch, stats, dictionaries)
            if k is None:
                keys = []
                break
            keys.append(k)
        if keys:
            all_keys = np.concatenate(keys)
            all_keys.sort()  # equal keys become neighbours; an order of magnitude faster than np.unique here
            duplicates = int(np.count_nonzero(all_keys[1:] == all_keys[:-1]))
    return TableStats(columns=list(schema.names), rows=rows, columns_stats=stats, duplicate_rows=duplicates)
